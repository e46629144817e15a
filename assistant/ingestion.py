"""Bring the store in line with files on disk: add, update, skip, prune.

Per-file replace plus the store-derived manifest make the ingest idempotent
and crash-safe; see :mod:`assistant.store`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
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
    reembedded: int = 0
    total_chunks: int = 0
    where: str = ""

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.failed)} failed; "
            f"{self.embedded} chunks embedded"
            + (f" ({self.reembedded} stored chunks re-embedded)" if self.reembedded else "")
            + f"; {self.total_chunks} chunks in store {self.where}"
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
    workers: bool = False,
) -> IngestReport:
    """Ingest ``paths`` (files or folders). Raises StoreError if the store is unusable.

    ``workers``: a large ingest (``POOL_MIN_CHUNKS``, int8 backend) embeds in forked worker processes ahead
    of the store's writes. Only for a process that runs little else (``ingest.py``, the benchmark): the
    chat server, with the model and the web server's threads in it, ingests in process.

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
        return _ingest(paths, settings, reset=reset, prune=prune, progress=progress, workers=workers)
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
        return _ingest(paths, settings, reset=reset, prune=prune, progress=progress, workers=workers)
    finally:
        lock.release()


#: an ingest of at least this many chunks embeds in worker processes, ahead of the store's writes
POOL_MIN_CHUNKS = 512
#: chunks submitted to the workers ahead of the file being written
AHEAD_CHUNKS = 256


class _Ahead:
    """Embeds the next files' new chunks in the encoder's worker processes while the store writes this one.

    Why: chromadb's upsert holds Python's GIL, so in one process the embedding stalls while the store writes
    (about a sixth of an int8 ingest); worker processes keep embedding meanwhile. Only what the store will ask
    for is sent: the chunks of each file whose ids it does not hold yet.
    """

    def __init__(self, store: Store, todo: list[tuple[str, str, list[Chunk], bool]], pool) -> None:
        self.store, self.todo, self.pool = store, todo, pool
        self.pending: dict[int, tuple[list[str], list]] = {}
        self.next = 0
        self.current = -1

    def submit_from(self, k: int) -> None:
        """File ``k`` is next to be written: have it, and files after it up to ``AHEAD_CHUNKS``, embedding."""
        self.current = k
        if self.pool is None:
            return
        self.next = max(self.next, k)
        while self.next < len(self.todo) and (
            self.next == k or sum(len(t) for j, (t, _) in self.pending.items() if j > k) < AHEAD_CHUNKS
        ):
            source, _, chunks, _ = self.todo[self.next]
            stored = set(self.store.ids_for(source))
            texts = [c.embed_text() for c in chunks if c.id not in stored]
            try:
                self.pending[self.next] = (texts, self.pool.submit(texts))
            except BrokenProcessPool as exc:
                self._stopped(exc)
                return
            self.next += 1

    def _stopped(self, exc: Exception) -> None:
        """A worker died (killed, out of memory): the ingest goes on in this process."""
        log.warning("the embedding workers stopped (%s); embedding in this process from here", exc)
        self.pool, self.pending = None, {}

    def take(self, texts: list[str], update) -> list[list[float]] | None:
        """The vectors of ``texts`` if they are what was sent ahead for the current file, else None."""
        sent = self.pending.pop(self.current, None)
        if sent is None or sent[0] != texts:
            return None
        out: list[list[float]] = []
        try:
            vectors = [future.result() for future in sent[1]]
        except BrokenProcessPool as exc:
            self._stopped(exc)
            return None
        for part in vectors:
            out += part.tolist()
            update(len(part))
        return out


def _ingest(
    paths: Sequence[Path], settings: Settings, *, reset: bool, prune: bool, progress: bool, workers: bool
) -> IngestReport:
    store = Store.from_settings(settings, create=True)
    report = IngestReport(where=store.where)
    if reset:
        store.reset()
    embedder = LocalEmbeddings.from_settings(settings)
    recorded = store.recorded_embedder()
    if recorded not in (None, store.embedder):
        report.reembedded = _reembed(store, embedder, recorded, progress)
    store.require_same_embedder()
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
        total = sum(len(c) for _, _, c, _ in todo)
        pool = embedder.pool() if workers and total >= POOL_MIN_CHUNKS else None
        ahead = _Ahead(store, todo, pool)
        try:
            _write(todo, store, embedder, ahead, settings, report, progress, total)
        finally:
            if pool is not None:
                pool.close()

    if prune:
        for source in sorted(manifest):
            if not source_path(source, corpus_dir).exists():
                store.delete_source(source)
                report.removed.append(source)
    report.total_chunks = store.count()
    return report


def _reembed(store: Store, embedder: LocalEmbeddings, recorded: str, progress: bool) -> int:
    """Switch the store to the settings' encoder: its vectors of another encoder are not comparable with
    the new queries', and the chunks themselves are still right."""
    log.warning("the store at %s was embedded by %s: re-embedding its chunks with %s", store.where, recorded,
                store.embedder)
    with tqdm(total=store.count(), desc="re-embedding", unit="chunk", disable=not progress, leave=False) as bar:

        def embed(texts: list[str]) -> list[list[float]]:
            vectors = embedder.embed(texts)
            bar.update(len(texts))
            return vectors

        try:
            return store.reembed(embed)
        except StoreError:
            raise
        except Exception as exc:  # chromadb's own types: a full disk, a read-only file...
            raise StoreError(
                f"re-embedding the store at {store.where} failed ({type(exc).__name__}: {exc}); it still "
                "answers to its old encoder: run the ingest again to redo it"
            ) from None


def _write(todo, store: Store, embedder: LocalEmbeddings, ahead: _Ahead, settings: Settings, report: IngestReport,
           progress: bool, total: int) -> None:
    """Embed and store each file of ``todo`` in turn; a file that fails leaves the ones before it complete."""
    with tqdm(total=total, desc="embedding", unit="chunk", disable=not progress, leave=False) as bar:

        def embed(texts: list[str]) -> list[list[float]]:
            done = ahead.take(texts, bar.update)
            if done is not None:
                return done
            out: list[list[float]] = []
            step = settings.embedding.batch_size
            for i in range(0, len(texts), step):
                out += embedder.embed(texts[i : i + step])
                bar.update(len(texts[i : i + step]))
            return out

        for k, (source, sha, chunks, existed) in enumerate(todo):
            ahead.submit_from(k)
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
