"""The Chroma collection: embedded (persistent folder) or a Chroma server.

The manifest of ingested files is derived from chunk metadata rather than kept
in a side file, so it can never disagree with the store, and the same code
works against a server. A file counts as ingested only when every one of its
chunks carries the file's current hash (``file_sha256``) and the expected count
(``n_chunks``) is present: an ingest killed half-way is simply redone.

The collection's metadata records which encoder made its vectors
(``embedder``): vectors of two encoders are not comparable, so a store is
queried and extended only with the encoder that filled it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import httpx

from assistant.chunking import Chunk
from assistant.embeddings import encoder_id
from assistant.settings import Settings, StoreSettings
from assistant.store_client import StoreError, open_client, unreachable

log = logging.getLogger(__name__)
PAGE = 5000
EMBEDDER = "embedder"


P = ParamSpec("P")
R = TypeVar("R")


def _server_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turn a network failure of a Chroma server into a StoreError.

    Why: chromadb lets httpx errors through, so a server that stops mid-session
    would reach the user as a traceback from deep inside httpx.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except httpx.TransportError as exc:  # refused, reset, timed out
            store = args[0]
            assert isinstance(store, Store)
            raise StoreError(unreachable(store.settings, exc)) from None

    return wrapper


@dataclass(frozen=True)
class FileState:
    sha256: str
    n_chunks: int
    present: int

    @property
    def complete(self) -> bool:
        return self.present == self.n_chunks


def chunk_metadata(chunk: Chunk, file_sha256: str, n_chunks: int, ingested_at: str = "") -> dict[str, Any]:
    return {
        "ingested_at": ingested_at,
        "source": chunk.source,
        "start": chunk.start,
        "end": chunk.end,
        "section": chunk.section,
        "kind": chunk.kind,
        "ref_keys": ",".join(chunk.ref_keys),
        "header": chunk.header,
        "index": chunk.index,
        "file_sha256": file_sha256,
        "n_chunks": n_chunks,
    }


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        source=str(meta["source"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        section=str(meta.get("section", "")),
        kind=str(meta.get("kind", "text")),
        ref_keys=tuple(k for k in str(meta.get("ref_keys", "")).split(",") if k),
        header=str(meta.get("header", "")),
        index=int(meta.get("index", 0)),
    )


class Store:
    """One Chroma collection with the operations ingest and retrieval need.

    Every method that talks to Chroma is wrapped by :func:`_server_errors`, so a
    Chroma server that goes away surfaces as a StoreError naming it.
    """

    def __init__(self, settings: StoreSettings, embedder: str, create: bool = False) -> None:
        """Open the collection (``create``: make it if missing) whose vectors ``embedder``
        (:func:`assistant.embeddings.encoder_id`) makes. Opened for reading, a collection filled by
        another encoder is an error that names the fix; ingest checks that itself, after an optional
        reset (which is the fix)."""
        self.settings = settings
        self.embedder = embedder
        self.client = open_client(settings, create)
        try:
            if create:
                self.collection = self.client.get_or_create_collection(
                    settings.collection, metadata={"hnsw:space": "cosine", EMBEDDER: self.embedder}
                )
            else:
                self.collection = self.client.get_collection(settings.collection)
        except StoreError:
            raise
        except httpx.TransportError as exc:
            raise StoreError(unreachable(settings, exc)) from None
        except Exception as exc:
            if not create:
                raise StoreError(
                    f"the store has no collection '{settings.collection}': run `python ingest.py` first"
                ) from None
            raise StoreError(f"cannot open collection '{settings.collection}' ({exc})") from None
        if not create:
            self.require_same_embedder()

    @classmethod
    def from_settings(cls, settings: Settings, create: bool = False) -> Store:
        """The store of ``settings``, read and written with the encoder its embedding section names."""
        return cls(settings.store, encoder_id(settings.embedding.model, settings.embedding.backend), create)

    @property
    def where(self) -> str:
        s = self.settings
        if s.chroma_host:
            return f"chroma://{s.chroma_host}:{s.chroma_port}/{s.collection}"
        return f"{s.dir} ({s.collection})"

    @_server_errors
    def count(self) -> int:
        return self.collection.count()

    @_server_errors
    def reset(self) -> None:
        self.client.delete_collection(self.settings.collection)
        self.collection = self.client.get_or_create_collection(
            self.settings.collection, metadata={"hnsw:space": "cosine", EMBEDDER: self.embedder}
        )

    @_server_errors
    def recorded_embedder(self) -> str | None:
        """The encoder that made the stored vectors; None for an empty collection.

        A store from before encoders were recorded was made by sentence-transformers on
        PyTorch (the only encoder then).
        """
        if self.collection.count() == 0:
            return None
        recorded = (self.collection.metadata or {}).get(EMBEDDER)
        return recorded or "torch:" + self.embedder.split(":", 1)[1]  # the same model on PyTorch

    @_server_errors
    def require_same_embedder(self) -> None:
        """Raise StoreError when the stored vectors were made by another encoder than the settings'
        (an empty store, or one from before the record made by the same encoder, takes the settings')."""
        recorded = self.recorded_embedder()
        if recorded is None or recorded == self.embedder:
            if (self.collection.metadata or {}).get(EMBEDDER) != self.embedder:
                self.collection.modify(metadata={EMBEDDER: self.embedder})
            return
        backend = recorded.split(":", 1)[0]
        raise StoreError(
            f"the store at {self.where} was embedded by {recorded}, but these settings embed with "
            f"{self.embedder}: run `python ingest.py` to re-embed its chunks with the settings' encoder, "
            f"or set ASSISTANT_EMBEDDING__BACKEND={backend} to use the store as it is"
        )

    @_server_errors
    def reembed(self, embed: Callable[[list[str]], list[list[float]]], batch: int = 256) -> int:
        """Replace every stored vector by ``embed``'s vector of the same chunk, then record this store's
        encoder; returns how many chunks were embedded.

        Why in place rather than a reset: chunks of files ingested from outside the corpus folder are
        kept, and no file is read again. Stopped half-way, the record still names the old encoder, so the
        next ingest starts over (every vector is overwritten, so a mix is never left behind).
        """
        records = list(self._paged(["documents", "metadatas"]))  # all first: offsets under updates are unsafe
        for i in range(0, len(records), batch):
            part = records[i : i + batch]
            texts = [chunk_from_record(cid, doc or "", meta).embed_text() for cid, doc, meta in part]
            self.collection.update(ids=[cid for cid, _, _ in part], embeddings=embed(texts))
        self.collection.modify(metadata={EMBEDDER: self.embedder})
        return len(records)

    def _paged(self, include: list[str]) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """(id, document, metadata) of every record, in pages: one unpaged ``get`` of a
        large SQLite-backed collection fails ("too many SQL variables" at 100,000 chunks)."""
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=PAGE, offset=offset)
            ids = got["ids"]
            docs = got.get("documents") or [None] * len(ids)
            metas = got.get("metadatas") or [{}] * len(ids)
            yield from zip(ids, docs, metas, strict=True)
            if len(ids) < PAGE:
                return
            offset += len(ids)

    @_server_errors
    def manifest(self) -> dict[str, FileState]:
        seen: dict[str, dict[str, Any]] = {}
        for _, _, meta in self._paged(["metadatas"]):
            src = str(meta["source"])
            entry = seen.setdefault(src, {"hashes": set(), "n": int(meta.get("n_chunks", 0)), "present": 0})
            entry["hashes"].add(meta.get("file_sha256", ""))
            entry["present"] += 1
        states = {}
        for src, e in seen.items():
            sha = next(iter(e["hashes"])) if len(e["hashes"]) == 1 else ""
            states[src] = FileState(sha256=sha, n_chunks=e["n"], present=e["present"])
        return states

    @_server_errors
    def metadatas(self) -> list[dict[str, Any]]:
        """Every chunk's metadata (source, kind, ref_keys, ingested_at, ...): what the Library tab lists."""
        return [meta for _, _, meta in self._paged(["metadatas"])]

    @_server_errors
    def ids_for(self, source: str) -> list[str]:
        return self.collection.get(where={"source": source}, include=[])["ids"]

    @_server_errors
    def replace_file(
        self,
        source: str,
        chunks: Sequence[Chunk],
        file_sha256: str,
        embed: Callable[[list[str]], list[list[float]]],
    ) -> int:
        """Make the store hold exactly ``chunks`` for ``source``; returns how many were embedded.

        Chunks whose id is already stored keep their vectors (only metadata is
        refreshed); new ones are embedded and added before stale ones are
        deleted, so a crash never leaves the file with fewer chunks than before.
        """
        existing = set(self.ids_for(source))
        n = len(chunks)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        new = [c for c in chunks if c.id not in existing]
        kept = [c for c in chunks if c.id in existing]
        if new:
            vectors = embed([c.embed_text() for c in new])
            for i in range(0, len(new), 1000):
                part = new[i : i + 1000]
                self.collection.upsert(
                    ids=[c.id for c in part],
                    documents=[c.text for c in part],
                    embeddings=vectors[i : i + 1000],
                    metadatas=[chunk_metadata(c, file_sha256, n, now) for c in part],
                )
        for i in range(0, len(kept), 1000):
            part = kept[i : i + 1000]
            self.collection.update(
                ids=[c.id for c in part], metadatas=[chunk_metadata(c, file_sha256, n, now) for c in part]
            )
        stale = list(existing - {c.id for c in chunks})
        if stale:
            self.collection.delete(ids=stale)
        return len(new)

    @_server_errors
    def delete_source(self, source: str) -> int:
        ids = self.ids_for(source)
        if ids:
            self.collection.delete(ids=ids)
        return len(ids)

    @_server_errors
    def all_chunks(self) -> list[Chunk]:
        return [chunk_from_record(i, d or "", m) for i, d, m in self._paged(["documents", "metadatas"])]

    @_server_errors
    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: chunk_from_record(i, d, m)
            for i, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    @_server_errors
    def query(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the ``k`` nearest chunks."""
        return self.nearest(vector, min(k, self.count()))

    @_server_errors
    def nearest(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """Like :meth:`query` without its count request: at most ``k`` hits (fewer if the store is smaller)."""
        if k <= 0:
            return []
        res = self.collection.query(query_embeddings=[vector], n_results=k, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]
