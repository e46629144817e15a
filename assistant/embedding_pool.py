"""The int8 encoder in worker processes, for a large ingest (:func:`assistant.ingestion.ingest` with
``workers=True``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from assistant.embeddings import OnnxEncoder

_WORKER: OnnxEncoder | None = None


def _worker_start(model: str, cache_dir: str) -> None:
    global _WORKER
    _WORKER = OnnxEncoder(model, Path(cache_dir), sessions=1)


def _worker_encode(texts: list[str]) -> np.ndarray:
    assert _WORKER is not None
    return _WORKER.encode(texts)


class EncoderPool:
    """The int8 encoder in one worker process a core, for a large ingest.

    Why processes: chromadb's upsert holds Python's GIL for the whole call, so embedding threads stall while
    the store writes; in processes the next file embeds while the last one is written (bench/ingest.py).
    Each text still runs alone in a single-threaded session: the vectors are the in-process encoder's, bit
    for bit (tested). Why forked, not spawned: a spawned worker imports the caller's main module again, and
    a script without an ``if __name__ == "__main__"`` guard would run again in it; the workers are forked at
    once, before this process starts threads of its own for the ingest.
    """

    def __init__(self, model: str, cache_dir: Path, workers: int | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or max(1, len(os.sched_getaffinity(0)))
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                         initializer=_worker_start, initargs=(model, str(cache_dir)))
        self._pool.submit(int).result()  # fork the workers now

    def submit(self, texts: list[str], part: int = 16) -> list:
        """Futures of the texts' vectors, ``part`` texts a task (in order)."""
        return [self._pool.submit(_worker_encode, texts[i : i + part]) for i in range(0, len(texts), part)]

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
