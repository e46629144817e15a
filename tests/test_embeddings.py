"""The two embedding backends and the store's record of which one filled it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import LocalEmbeddings, encoder_id
from assistant.ingestion import ingest
from assistant.settings import Settings
from assistant.store import Store, StoreError, chunk_from_record
from tests.support.corpus import article_sentences


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private cache folder, so the test also covers the one-time export."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return article_sentences()[:120]


def test_int8_vectors_stay_close_to_the_float_model(onnx_cache: Path, sentences: list[str]) -> None:
    float_vecs = np.array(LocalEmbeddings(backend="torch").embed(sentences))
    int8 = LocalEmbeddings(backend="onnx-int8", cache_dir=onnx_cache)
    int8_vecs = np.array(int8.embed(sentences))
    assert (onnx_cache / "onnx").is_dir()  # exported on first use, into the given cache
    assert np.allclose(np.linalg.norm(int8_vecs, axis=1), 1.0, atol=1e-4)
    cos = (float_vecs * int8_vecs).sum(axis=1)
    assert cos.min() > 0.95 and cos.mean() > 0.98, (cos.min(), cos.mean())
    # a sentence's vector depends neither on the others embedded with it, nor on their order, nor on which
    # of the per-core sessions ran it: a question embedded alone reads like the same words stored as a chunk
    again = np.array(int8.embed(list(reversed(sentences))))[::-1]
    assert np.array_equal(again, int8_vecs)
    alone = np.array([int8.embed_query(s) for s in sentences[:4]])
    assert np.array_equal(alone, int8_vecs[:4])


def test_int8_ranks_passages_like_the_float_model(onnx_cache: Path, sentences: list[str]) -> None:
    questions = ["Which enzyme does anastrozole block?", "How does clomiphene work?",
                 "What happens to estradiol levels?", "Is hCG used to treat male infertility?"]
    tops = []
    for emb in (LocalEmbeddings(backend="torch"), LocalEmbeddings(backend="onnx-int8", cache_dir=onnx_cache)):
        docs, qs = np.array(emb.embed_documents(sentences)), np.array([emb.embed_query(q) for q in questions])
        tops.append([int(i) for i in (qs @ docs.T).argmax(axis=1)])
    assert tops[0] == tops[1]


def test_encoder_id_names_backend_and_weights() -> None:
    assert encoder_id(backend="torch") != encoder_id(backend="onnx-int8")
    assert encoder_id(backend="torch").startswith("torch:")
    assert encoder_id(backend="torch").split(":")[-1] == encoder_id(backend="onnx-int8").split(":")[-1]


def test_store_refuses_another_encoder_and_ingest_reembeds_it_in_place(
    tmp_settings: Settings, tmp_path: Path, onnx_cache: Path
) -> None:
    torch = tmp_settings.updated(embedding={"backend": "torch"})
    outside = tmp_path / "outside" / "note.md"  # a file from outside the corpus folder: no reset may lose it
    outside.parent.mkdir()
    outside.write_text("# Note\n\nLetrozole is another aromatase inhibitor studied in men.\n", encoding="utf-8")
    ingest([torch.store.corpus_dir, outside], torch, progress=False)
    before = Store.from_settings(torch).collection.get(include=["documents", "metadatas"])
    int8 = tmp_settings.updated(embedding={"backend": "onnx-int8"}, model_cache_dir=onnx_cache)
    with pytest.raises(StoreError) as err:
        Store.from_settings(int8)
    message = str(err.value)
    assert "python ingest.py`" in message and "ASSISTANT_EMBEDDING__BACKEND=torch" in message

    report = ingest([int8.store.corpus_dir], int8, progress=False)  # what `make run` does after a switch
    assert report.reembedded == report.total_chunks == len(before["ids"]) and report.embedded == 0
    assert "re-embedded" in report.summary()
    store = Store.from_settings(int8)
    assert store.collection.metadata["embedder"] == encoder_id(backend="onnx-int8")
    after = store.collection.get(include=["documents", "metadatas", "embeddings"])
    assert sorted(after["ids"]) == sorted(before["ids"])  # every chunk kept, the outside file's too
    assert any(m["source"].endswith("outside/note.md") for m in after["metadatas"])
    texts = [chunk_from_record(i, d, m).embed_text()
             for i, d, m in zip(after["ids"], after["documents"], after["metadatas"], strict=True)]
    expected = np.array(LocalEmbeddings(backend="onnx-int8", cache_dir=onnx_cache).embed(texts))
    assert np.allclose(np.asarray(after["embeddings"]), expected, atol=1e-6)  # the int8 vectors of each chunk
    with pytest.raises(StoreError, match="ASSISTANT_EMBEDDING__BACKEND=onnx-int8"):
        Store.from_settings(torch)
    assert ingest([torch.store.corpus_dir], torch, reset=True, progress=False).reembedded == 0  # a reset embeds anew


def test_store_from_before_the_record_counts_as_torch(tmp_settings: Settings) -> None:
    torch = tmp_settings.updated(embedding={"backend": "torch"})
    ingest([torch.store.corpus_dir], torch, progress=False)
    store = Store.from_settings(torch)
    # what a store written by earlier versions looks like: no record of its encoder
    store.collection.modify(metadata={"made_by": "an earlier version"})
    assert "embedder" not in (Store.from_settings(torch, create=True).collection.metadata or {})
    Store.from_settings(torch)  # readable with the torch encoder that made it
    assert Store.from_settings(torch).collection.metadata["embedder"] == encoder_id(backend="torch")
    with pytest.raises(StoreError):
        Store.from_settings(torch.updated(embedding={"backend": "onnx-int8"}))


def test_worker_processes_embed_exactly_as_this_process_does(onnx_cache: Path, sentences: list[str]) -> None:
    int8 = LocalEmbeddings(backend="onnx-int8", cache_dir=onnx_cache)
    pool = int8.pool()
    assert pool is not None and LocalEmbeddings(backend="torch").pool() is None  # PyTorch batches on every core
    try:
        futures = pool.submit(sentences, part=7)
        pooled = np.concatenate([f.result() for f in futures])
    finally:
        pool.close()
    assert np.array_equal(pooled, np.array(int8.embed(sentences), dtype=np.float32))


@pytest.mark.slow  # two whole ingests
def test_a_large_ingest_embeds_ahead_in_workers_and_stores_the_same_vectors(
    tmp_path: Path, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.ingestion as ingestion

    corpus = tmp_path / "docs"
    corpus.mkdir()
    sentences = article_sentences()
    for f in range(6):  # several files, so the next one embeds while one is written
        (corpus / f"doc{f}.md").write_text(
            "\n\n".join([f"# Doc {f}", *(" ".join(sentences[i : i + 3]) for i in range(f, len(sentences), 9))])
            + "\n",
            encoding="utf-8")
    stored = {}
    real_pool = LocalEmbeddings.pool

    def broken_pool(self):  # workers that die before their first text: the ingest goes on in process
        pool = real_pool(self)
        for process in list(pool._pool._processes.values()):
            process.kill()
            process.join()
        return pool

    for name, least in (("ahead", 1), ("inline", 10**9), ("broken", 1)):
        monkeypatch.setattr(ingestion, "POOL_MIN_CHUNKS", least)
        if name == "broken":
            monkeypatch.setattr(LocalEmbeddings, "pool", broken_pool)
        s = Settings(model_cache_dir=onnx_cache).updated(
            store={"dir": tmp_path / name, "corpus_dir": corpus}, embedding={"backend": "onnx-int8"})
        report = ingest([corpus], s, progress=False, workers=True)
        assert report.embedded == report.total_chunks > 6 and not report.failed
        got = Store.from_settings(s).collection.get(include=["embeddings"])
        stored[name] = dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))
    for name in ("ahead", "broken"):
        assert stored[name].keys() == stored["inline"].keys()
        assert all(np.array_equal(stored[name][k], stored["inline"][k]) for k in stored[name])
