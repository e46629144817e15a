from assistant.retrieval import BM25Index, tokenize


def test_aromatase_passage_first_for_dense_search(retriever) -> None:  # noqa: ANN001
    hits = retriever.store.query(retriever.embeddings.embed_query("which enzyme does anastrozole block"), 3)
    top = retriever.store.get_chunks([hits[0][0]])[0]
    assert "aromatase" in top.text.lower() and "anastrozole" in top.text.lower()


def test_hybrid_ranks_aromatase_first(retriever) -> None:  # noqa: ANN001
    top = retriever.retrieve("which enzyme does anastrozole block")[0]
    assert "aromatase enzyme" in top.chunk.text


def test_hybrid_finds_study_by_name(retriever) -> None:  # noqa: ANN001
    res = retriever.retrieve("What did the Cleveland Clinic and UCLA study find?")
    assert "lundy2023" in res[0].chunk.ref_keys


def test_bm25_index_scores_rare_terms_higher() -> None:
    idx = BM25Index(["letrozole and anastrozole", "anastrozole alone", "nothing relevant here", "more filler"])
    top = idx.top("letrozole", 5)
    assert top[0][0] == 0 and len(top) == 1
    assert idx.top("zzz", 5) == []


def test_tokenize_drops_stopwords_and_plural() -> None:
    assert tokenize("What are the inhibitors of the aromatase?") == ["inhibitor", "aromatase"]
