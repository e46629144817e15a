"""Open a store as a new process would, and check the invariants every fault must preserve."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from assistant.documents import file_sha256
from assistant.settings import Settings
from assistant.store import Store


def fresh_store(settings: Settings) -> Store:
    """Open the store as a new process would: Chroma caches one client per path in a process, and a
    cached client may not see what a subprocess wrote since. Only for a test's own store folders: a
    client still using the dropped entry (the session store's) would break."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(settings.store.dir), None)
    SharedSystemClient._identifier_to_refcount.pop(str(settings.store.dir), None)
    return Store.from_settings(settings)


@dataclass
class StoreView:
    """Everything a store holds for the consistency checks: id -> (text, metadata)."""

    records: dict[str, tuple[str, dict]]

    @property
    def sources(self) -> set[str]:
        return {m["source"] for _, m in self.records.values()}

    def comparable(self) -> dict[str, tuple[str, dict]]:
        """Ids, texts and metadata, without the time each chunk was written (two ingests differ there)."""
        return {i: (t, {k: v for k, v in m.items() if k != "ingested_at"}) for i, (t, m) in self.records.items()}


def assert_consistent(settings: Settings, unique_texts: bool = True, query_check: bool = True) -> StoreView:
    """The store invariants every fault must preserve; returns what the store holds.

    - every chunk id once, every (source, start, end) span once, and (for corpora without repeated
      paragraphs) every text once: nothing was stored twice;
    - every stored file is complete (all ``n_chunks`` present, one hash) and its hash is that of the
      file now on disk, and each chunk is the exact slice of that file: nothing is stored in part;
    - the vector index agrees with the records: each chunk's own vector finds that chunk first.
    """
    store = fresh_store(settings)
    rows = list(store._paged(["documents", "metadatas", "embeddings"]))
    ids = [i for i, _, _ in rows]
    assert len(ids) == len(set(ids)), "duplicate chunk ids"
    spans = [(m["source"], m["start"], m["end"]) for _, _, m in rows]
    assert len(spans) == len(set(spans)), "a span is stored twice"
    if unique_texts:
        texts = [(m["source"], d) for _, d, m in rows]
        assert len(texts) == len(set(texts)), "a chunk text is stored twice"
    manifest = store.manifest()
    for source, state in manifest.items():
        assert state.complete, f"{source}: {state.present} of {state.n_chunks} chunks stored"
        path = Path(source) if Path(source).is_absolute() else Path(settings.store.corpus_dir) / source
        data = path.read_bytes()
        assert state.sha256 == file_sha256(data), f"{source}: stored hash is not the file's"
        if path.suffix in {".md", ".txt"}:
            text = data.decode("utf-8")
            for _, doc, meta in rows:
                if meta["source"] == source:
                    assert text[meta["start"] : meta["end"]] == doc, f"{source}: chunk is not a slice"
    if query_check and rows:
        vectors = {i: v for i, v in zip(ids, store.collection.get(ids=ids, include=["embeddings"])["embeddings"],
                                        strict=True)}
        for i in ids:
            got = store.collection.query(query_embeddings=[list(vectors[i])], n_results=1, include=[])["ids"][0]
            assert got == [i], f"the vector index does not find chunk {i}"
    return StoreView({i: (d or "", m) for i, d, m in rows})


def store_files_digest(store_dir: Path) -> dict[str, str]:
    """sha256 of every file under the store folder: equal before and after = nothing written."""
    return {
        str(p.relative_to(store_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store_dir.rglob("*")) if p.is_file() and p.name != ".ingest.lock"
    }
