"""Bring the store in line with files on disk: add, update, skip, prune.

Per-file replace plus the store-derived manifest make the ingest idempotent
and crash-safe; see :mod:`assistant.store`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm import tqdm

from assistant.chunking import Chunk, chunk_text
from assistant.documents import DocumentError, discover, load_document
from assistant.embeddings import LocalEmbeddings
from assistant.references import load_references
from assistant.settings import Settings
from assistant.store import Store, StoreError

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    embedded: int = 0
    total_chunks: int = 0
    where: str = ""

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.failed)} failed; "
            f"{self.embedded} chunks embedded; {self.total_chunks} chunks in store {self.where}"
        )


def source_name(path: Path, corpus_dir: Path) -> str:
    """Stable name of a file in the store: relative to the corpus folder when inside it."""
    try:
        return path.resolve().relative_to(corpus_dir.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def source_path(source: str, corpus_dir: Path) -> Path:
    p = Path(source)
    return p if p.is_absolute() else corpus_dir / p


def _lock(settings: Settings) -> FileLock | None:
    if settings.store.chroma_host:
        return None
    Path(settings.store.dir).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(settings.store.dir) / ".ingest.lock"))


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    reset: bool = False,
    prune: bool = False,
    progress: bool = True,
    lock_timeout: float | None = None,
) -> IngestReport:
    """Ingest ``paths`` (files or folders). Raises StoreError if the store is unusable.

    Two ingests of one store folder never write at once: the second waits for the
    first (up to ``lock_timeout``, default the setting ``ingest_lock_timeout_s``),
    then finds its files unchanged; if the wait times out it fails with a message.
    """
    if lock_timeout is None:
        lock_timeout = settings.store.ingest_lock_timeout_s
    try:
        lock = _lock(settings)
    except OSError as exc:
        raise StoreError(f"cannot create the store folder {settings.store.dir} ({exc.strerror or exc})") from None
    if lock is None:
        return _ingest(paths, settings, reset=reset, prune=prune, progress=progress)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.warning("another ingest is writing to %s; waiting for it to finish (up to %.0fs)",
                        settings.store.dir, lock_timeout)
            lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise StoreError(
            f"another ingest is still writing to {settings.store.dir} after {lock_timeout:g}s of waiting; "
            "run this one again when it has finished"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot lock the store at {settings.store.dir} ({exc.strerror or exc})") from None
    try:
        return _ingest(paths, settings, reset=reset, prune=prune, progress=progress)
    finally:
        lock.release()


def _ingest(paths: Sequence[Path], settings: Settings, *, reset: bool, prune: bool, progress: bool) -> IngestReport:
    store = Store.from_settings(settings, create=True)
    report = IngestReport(where=store.where)
    if reset:
        store.reset()
    store.require_same_embedder()  # after the reset, which is how a user re-embeds with another encoder
    corpus_dir = settings.store.corpus_dir
    refs = load_references(corpus_dir)
    for p in paths:
        if p.is_dir() and p.resolve() != corpus_dir.resolve():
            refs += [r for r in load_references(p) if r.key not in {x.key for x in refs}]

    files, missing = discover(list(paths))
    for path, reason in missing:
        report.failed.append((str(path), reason))
    manifest = store.manifest()

    todo: list[tuple[str, str, list[Chunk], bool]] = []
    for path in files:
        source = source_name(path, corpus_dir)
        try:
            doc = load_document(path, corpus_dir)
        except DocumentError as exc:
            report.failed.append((str(path), str(exc)))
            continue
        state = manifest.get(source)
        if state is not None and state.sha256 == doc.sha256 and state.complete:
            report.unchanged.append(source)
            continue
        chunks = chunk_text(
            doc.text,
            source,
            chunk_size=settings.chunking.size,
            chunk_overlap=settings.chunking.overlap,
            min_chunk_size=settings.chunking.min_size,
            references=refs,
        )
        todo.append((source, doc.sha256, chunks, state is not None))

    if todo:
        embedder = LocalEmbeddings.from_settings(settings)
        total = sum(len(c) for _, _, c, _ in todo)
        with tqdm(total=total, desc="embedding", unit="chunk", disable=not progress, leave=False) as bar:

            def embed(texts: list[str]) -> list[list[float]]:
                out: list[list[float]] = []
                step = settings.embedding.batch_size
                for i in range(0, len(texts), step):
                    out += embedder.embed(texts[i : i + step])
                    bar.update(len(texts[i : i + step]))
                return out

            for source, sha, chunks, existed in todo:
                try:
                    report.embedded += store.replace_file(source, chunks, sha, embed)
                except StoreError:
                    raise
                except Exception as exc:  # chromadb raises its own types for a full disk, a read-only file...
                    # files finished before this one are complete in the store; this one is redone next time
                    raise StoreError(
                        f"writing {source} to the store at {store.where} failed ({type(exc).__name__}: {exc}); "
                        "the files stored before it are complete: run the ingest again to finish"
                    ) from None
                (report.updated if existed else report.added).append(source)

    if prune:
        for source in sorted(manifest):
            if not source_path(source, corpus_dir).exists():
                store.delete_source(source)
                report.removed.append(source)
    report.total_chunks = store.count()
    return report
