"""Corpus cache mode: the whole corpus read once into the model's KV cache and kept on disk.

Why: on this CPU the model reads prompts at ~40 tokens/s, so the three passages
of a question (~300 tokens) cost 7-8 s before the first answer token. The
article is ~6k tokens: read once, its KV state (the system prompt, then every
chunk numbered [1]..[N]) is reused by every question, which then costs only
its own tokens: the question and the numbers of the passages retrieval chose
("The passages about this question: [12], [31], [40]."). Retrieval still
decides what the model is pointed to and what the quote grammar lets it quote.

The state is saved next to the store (``llama_state_seq_save_file``), under a
name that hashes everything it depends on (the exact prompt tokens, which
cover the corpus and the prompt version, the model file and the context
settings), so a re-ingest, a prompt edit or another model never finds a stale
file; a file that does not load (corrupt, truncated, another llama.cpp) is
rebuilt with a warning. llama.cpp aborts the whole process on some damaged
state files instead of returning an error, so a file is handed to it only when
its size and SHA-256 match the manifest written beside it after a complete save.
When the corpus does not fit the context, or with a
remote LLM endpoint, the chain uses passages in the prompt instead.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from assistant.chunking import Chunk
from assistant.documents import path_sha256
from assistant.engine import LlamaEngine

log = logging.getLogger(__name__)

ANSWER_ROOM = 1024  # context tokens kept free for history, the question and the answer


class CorpusContext:
    """The numbered corpus as a cached prompt prefix for one loaded model."""

    def __init__(self, engine: LlamaEngine, system: str, passage_template: str, chunks: Sequence[Chunk],
                 cache_dir: Path, model_id: str) -> None:
        self.engine = engine
        self.chunks = sorted(chunks, key=lambda c: (c.source, c.start))
        self.number = {c.id: n for n, c in enumerate(self.chunks, 1)}
        lines = [passage_template.format(n=n, section=c.section, text=c.prompt_text(), cites="")
                 for n, c in enumerate(self.chunks, 1)]
        head = f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nPassages:\n" + "\n".join(lines) + "\n\n"
        self.prefix = engine.tokenize(head)
        llama = engine.llama
        digest = hashlib.sha256()
        digest.update(str(self.prefix).encode())
        digest.update(f"{model_id}|{llama.n_ctx()}|{llama.n_batch}".encode())
        self.key = digest.hexdigest()[:24]
        self.path = Path(cache_dir) / f"corpus-kv-{self.key}.bin"
        self.manifest = self.path.with_suffix(".json")

    def fits(self) -> bool:
        return len(self.prefix) + ANSWER_ROOM <= self.engine.llama.n_ctx()

    def cached(self) -> bool:
        """The model's KV cache already starts with the corpus (nothing to do)."""
        llama = self.engine.llama
        n = len(self.prefix)
        return llama.n_tokens >= n and llama._input_ids[:n].tolist() == self.prefix

    def ensure(self, progress: bool = True) -> str:
        """Put the corpus in the KV cache: already there, loaded from disk, or read and saved. Returns which."""
        if self.cached():
            return "memory"
        if self.path.is_file():
            if self._load():
                return "disk"
            log.warning("the corpus cache %s could not be loaded (corrupt or from another version); rebuilding it",
                        self.path)
            self.path.unlink(missing_ok=True)
            self.manifest.unlink(missing_ok=True)
        self._build(progress)
        self._save()
        return "built"

    def _build(self, progress: bool) -> None:
        from tqdm import tqdm

        llama = self.engine.llama
        self.engine.rewind(0)
        step = llama.n_batch
        with tqdm(total=len(self.prefix), desc="reading the corpus into the model (once)", unit="tok",
                  disable=not progress) as bar:
            for i in range(0, len(self.prefix), step):
                llama.eval(self.prefix[i : i + step])
                bar.update(min(step, len(self.prefix) - i))

    def _save(self) -> None:
        import llama_cpp

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tokens = (llama_cpp.llama_token * len(self.prefix))(*self.prefix)
        written = llama_cpp.llama_state_seq_save_file(self.engine.llama._ctx.ctx, str(tmp).encode(), 0, tokens,
                                                      len(self.prefix))
        if not written:
            tmp.unlink(missing_ok=True)
            log.warning("could not save the corpus cache to %s", self.path)
            return
        manifest = {"bytes": tmp.stat().st_size, "sha256": path_sha256(tmp), "tokens": len(self.prefix)}
        tmp.replace(self.path)
        self.manifest.write_text(json.dumps(manifest))
        log.info("corpus cache saved: %s (%.0f MB)", self.path, self.path.stat().st_size / 1e6)

    def _intact(self) -> bool:
        """The file is exactly what a complete save wrote (checked before llama.cpp ever reads it)."""
        try:
            manifest = json.loads(self.manifest.read_text())
            return (manifest.get("tokens") == len(self.prefix) and self.path.stat().st_size == manifest.get("bytes")
                    and path_sha256(self.path) == manifest.get("sha256"))
        except (OSError, ValueError, AttributeError):
            return False

    def _load(self) -> bool:
        import llama_cpp

        if not self._intact():
            return False
        llama = self.engine.llama
        self.engine.rewind(0)
        capacity = len(self.prefix)
        tokens = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        try:
            read = llama_cpp.llama_state_seq_load_file(llama._ctx.ctx, str(self.path).encode(), 0, tokens, capacity,
                                                       ctypes.byref(count))
        except OSError:
            read = 0
        if not read or count.value != capacity or list(tokens) != self.prefix:
            self.engine.rewind(0)
            return False
        llama.input_ids[:capacity] = self.prefix
        llama.n_tokens = capacity
        return True

    def prompt(self, question_part: str) -> list[int]:
        """The prompt tokens: the cached corpus prefix, then the rest of the user turn and the answer's start."""
        return self.prefix + self.engine.tokenize(f"{question_part}<|im_end|>\n<|im_start|>assistant\n")

