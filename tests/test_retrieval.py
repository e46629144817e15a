import numpy as np

from assistant.bm25 import BM25Index
from assistant.chunking import Chunk
from assistant.condense import standalone_query
from assistant.ranking import entries_placed, neighbours
from assistant.retrieval import HybridRetriever


def test_aromatase_passage_first_for_dense_search(retriever) -> None:
    hits = retriever.store.query(retriever.embeddings.embed_query("which enzyme does anastrozole block"), 3)
    top = retriever.store.get_chunks([hits[0][0]])[0]
    assert "aromatase" in top.text.lower() and "anastrozole" in top.text.lower()


def test_hybrid_ranks_aromatase_first(retriever) -> None:
    top = retriever.retrieve("which enzyme does anastrozole block")[0]
    assert "aromatase enzyme" in top.chunk.text


def test_hybrid_finds_study_by_name(retriever) -> None:
    res = retriever.retrieve("What did the Cleveland Clinic and UCLA study find?")
    assert "lundy2023" in res[0].chunk.ref_keys


def test_hybrid_scores_are_ordered_and_explained(retriever) -> None:
    res = retriever.retrieve("Which cells in the testes respond to LH?", k=5)
    assert len(res) == 5
    assert [r.score for r in res] == sorted((r.score for r in res), reverse=True)
    assert all(r.dense is not None or r.bm25 is not None for r in res)
    assert res[0].dense is not None and res[0].bm25 is not None  # found by both


def test_with_settings_shares_the_snapshot_and_leaves_the_original_alone(retriever) -> None:
    retriever.refresh()
    wide = retriever.with_settings(retriever.settings.updated(top_k=5))
    assert wide.settings.top_k == 5 and retriever.settings.top_k != 5
    assert wide.snapshot()[0] is retriever.snapshot()[0]  # no second BM25 index
    assert [r.chunk.id for r in wide.retrieve("What is intratesticular testosterone?")][:3] == [
        r.chunk.id for r in retriever.retrieve("What is intratesticular testosterone?", k=3)]


def test_max_score_gap_drops_far_passages(retriever) -> None:
    question = "What is intratesticular testosterone?"
    full = retriever.retrieve(question, k=5)
    gap = (full[0].score - full[-1].score) / 2
    cut = HybridRetriever(
        store=retriever.store, embeddings=retriever.embeddings,
        settings=retriever.settings.updated(max_score_gap=gap),
    ).retrieve(question, k=5)
    assert 1 <= len(cut) < len(full)
    assert [r.chunk.id for r in cut] == [r.chunk.id for r in full[: len(cut)]]
    assert all(full[0].score - r.score <= gap for r in cut)


def _chunk(index: int, section: str, source: str = "a.md") -> Chunk:
    return Chunk(id=f"{source}-{index}", source=source, text=f"text {index}", start=index, end=index + 1,
                 section=section, kind="text", index=index)


def test_neighbours_stay_in_source_and_section() -> None:
    chunks = [_chunk(2, "S > B"), _chunk(0, "S > A"), _chunk(1, "S > A"), _chunk(3, "S > B"), _chunk(4, "S > A"),
              _chunk(1, "S > A", source="b.md")]
    nb = neighbours(chunks)
    assert nb[1].tolist() == [-1, 2]  # a.md #0: no previous, next is a.md #1
    assert nb[2].tolist() == [1, -1]  # a.md #1: a.md #2 is in another section
    assert nb[0].tolist() == [-1, 3]
    assert nb[4].tolist() == [-1, -1]  # a.md #3 is in another section
    assert nb[5].tolist() == [-1, -1]  # b.md has no other chunk


def test_neighbours_ignore_ambiguous_keys() -> None:
    chunks = [_chunk(0, "S"), _chunk(0, "S"), _chunk(1, "S")]  # e.g. records stored without an index
    assert neighbours(chunks).tolist() == [[-1, -1], [-1, -1], [-1, -1]]


def test_score_fusion_weighs_dense_bm25_and_neighbours(retriever) -> None:
    # positions 0..3; 0 and 1 are adjacent, 3 is alone; 2 is a BM25-only candidate
    nbrs = np.array([[-1, 1], [0, -1], [-1, -1], [-1, -1]])
    acc = np.array([0.0, 0.0, 4.0, 2.0], dtype=np.float32)
    dense = [("c0", 0.7), ("c1", 0.6), ("c3", 0.7)]
    ranked = retriever._score_fusion(dense, acc, [(2, 4.0), (3, 2.0)], {"c0": 0, "c1": 1, "c2": 2, "c3": 3}, nbrs)
    got = {key: (score, sim) for score, key, sim in ranked}
    floor = 0.6
    r = retriever.settings
    base = {0: r.dense_weight * 0.7, 1: r.dense_weight * 0.6, 2: r.dense_weight * floor + r.bm25_weight,
            3: r.dense_weight * 0.7 + r.bm25_weight * 0.5}
    assert got[2][1] is None  # no cosine for a BM25-only candidate: it gets the dense floor
    assert np.isclose(got[0][0], base[0] + r.neighbour_weight * base[1])
    assert np.isclose(got[1][0], base[1] + r.neighbour_weight * base[0])
    assert np.isclose(got[3][0], base[3] + r.neighbour_weight * r.dense_weight * floor)
    assert [key for _, key, _ in ranked] == sorted(got, key=lambda k: -got[k][0])


def test_bm25_index_scores_rare_terms_higher() -> None:
    idx = BM25Index(["letrozole and anastrozole", "anastrozole alone", "nothing relevant here", "more filler"])
    top = idx.top("letrozole", 5)
    assert top[0][0] == 0 and len(top) == 1
    assert idx.top("zzz", 5) == []


def test_bm25_search_scores_every_document() -> None:
    idx = BM25Index(["letrozole and anastrozole", "anastrozole alone", "nothing relevant here", "more filler"])
    acc, top = idx.search("anastrozole letrozole", 1)
    assert acc.shape == (4,) and acc[2] == acc[3] == 0
    assert acc[0] > acc[1] > 0
    assert top == [(0, float(acc[0]))]


def test_british_spellings_match_the_american_corpus() -> None:
    idx = BM25Index(["estrogen and estradiol levels", "a favorable hormonal environment", "tumor markers"])
    assert idx.top("oestrogen", 3)[0][0] == 0 and idx.top("oestradiol", 3)[0][0] == 0
    assert idx.top("tumours", 3)[0][0] == 2
    assert idx.has_term("favoured") and idx.has_term("oestrogen")  # the unknown-subject guard asks this
    assert not idx.has_term("sildenafil")


def test_rare_words_are_terms_not_other_forms_of_common_words(retriever) -> None:
    assert not retriever.is_rare_word("prescribing")  # "prescribed" is a whole WordPiece token
    assert not retriever.is_rare_word("predicts") and not retriever.is_rare_word("favoured")
    assert retriever.is_rare_word("sildenafil") and retriever.is_rare_word("finasteride")


def test_follow_up_is_joined_with_the_questions_it_follows() -> None:
    standalone = "What does hCG do in male infertility treatment?"
    assert standalone_query(standalone, ["How does anastrozole work?"]) == standalone
    assert standalone_query("What side effects does it have?", ["What is anastrozole?"]) == (
        "What is anastrozole? What side effects does it have?"
    )
    history = ["Why do obese men have high estrogen?", "Does that matter?"]
    assert standalone_query("Is there a drug for that?", history) == (
        "Why do obese men have high estrogen? Does that matter? Is there a drug for that?"
    )
    history = ["How does anastrozole work?", "Why do obese men have high estrogen?", "Does that matter?"]
    assert standalone_query("Is there a drug for that?", history).startswith("Why do obese men")


def test_all_chunks_pages_through_the_store(retriever, monkeypatch) -> None:
    import assistant.store as store_module

    unpaged = retriever.store.collection.get(include=[])["ids"]
    monkeypatch.setattr(store_module, "PAGE", 7)
    paged = retriever.store.all_chunks()
    assert sorted(c.id for c in paged) == sorted(unpaged)
    assert len({c.id for c in paged}) == len(paged)
    state = retriever.store.manifest()["anastrozole-male-fertility.md"]
    assert state.complete and state.present == len(unpaged)


def test_store_changes_are_checked_at_most_every_refresh_interval(retriever, monkeypatch) -> None:
    calls = []
    original = HybridRetriever.refresh

    def spy(self) -> None:
        calls.append(1)
        original(self)

    monkeypatch.setattr(HybridRetriever, "refresh", spy)

    def make(interval: float) -> HybridRetriever:
        settings = retriever.settings.updated(refresh_interval_s=interval)
        return HybridRetriever(store=retriever.store, embeddings=retriever.embeddings, settings=settings)

    lazy = make(3600)
    lazy.retrieve("What is hCG?")
    lazy.retrieve("What is rFSH?")
    assert len(calls) == 1  # the first query builds the index; the next one trusts it
    eager = make(0)
    eager.retrieve("What is hCG?")
    eager.retrieve("What is rFSH?")
    assert len(calls) == 3


def _ranked_of(kinds: list[str]) -> tuple[list[tuple[float, int, None]], list[Chunk]]:
    chunks = [Chunk(id=f"c{i}", source="a.md", text=f"t{i}", start=i, end=i + 1, section="s", kind=kind, index=i)
              for i, kind in enumerate(kinds)]
    return [(1.0 - i / 10, i, None) for i in range(len(kinds))], chunks


def test_reference_entries_leave_a_non_literature_ranking_and_the_best_gets_a_place_in_one() -> None:
    ranked, chunks = _ranked_of(["text", "text", "table_row", "reference", "text", "reference"])
    assert [t[1] for t in entries_placed(ranked, chunks, 3, False)] == [0, 1, 2, 4]
    assert [t[1] for t in entries_placed(ranked, chunks, 3, True)] == [0, 1, 3, 2, 4, 5]
    assert entries_placed(ranked, chunks, 4, True) == ranked  # already among the first four
    unknown = [(0.9, "new-id", 0.5), *ranked]  # a dense hit newer than the snapshot: its kind is unknown, kept
    assert entries_placed(unknown, chunks, 3, False)[0][1] == "new-id"


def test_a_topic_question_gets_passages_not_the_paper_titled_with_its_topic(retriever) -> None:
    """Ranked like any passage, the Cleveland Clinic entry ("... Broader Use of Anastrozole for Male
    Infertility") comes first for this question and says nothing about how the drug works."""
    question = "How does anastrozole work in treating male infertility?"
    terms = [("anastrozole", "anastrozole")]
    plain = retriever.retrieve_covering(question, terms, literature=None)
    assert plain[0].chunk.kind == "reference" and "lundy2023" in plain[0].chunk.ref_keys
    topical = retriever.retrieve_covering(question, terms, literature=False)
    assert len(topical) == retriever.settings.top_k
    assert all(r.chunk.kind != "reference" and "anastrozole" in r.chunk.text.lower() for r in topical)


def test_a_question_about_the_sources_gets_the_best_entry_among_what_the_model_reads(retriever) -> None:
    question = "Which of the cited papers covers clomiphene for men with low testosterone, and what year?"
    shown = retriever.retrieve_covering(question, [("clomiphene", "clomiphene")], literature=True)
    assert len(shown) == retriever.settings.top_k
    entries = [r.chunk for r in shown if r.chunk.kind == "reference"]
    assert entries and "Clomiphene" in entries[0].text  # (moving an entry up: the unit test above)


def test_corpus_names_are_rare_words_the_corpus_uses(retriever) -> None:
    assert retriever.corpus_names("Which journal published Rastrelli's review?") == ["Rastrelli"]
    assert retriever.corpus_names("What's the capital of Australia?") == []
    assert retriever.corpus_names("Is sildenafil covered?") == []  # rare, but the corpus never uses it


def test_the_dense_query_takes_the_corpus_spelling_only_where_the_corpus_has_it(retriever) -> None:
    retriever.refresh()
    assert retriever.corpus_spelling("Apart from fertility, what does Oestradiol do for a man?") == (
        "Apart from fertility, what does Estradiol do for a man?")
    assert retriever.corpus_spelling("How precise is the oestrogen test?") == "How precise is the estrogen test?"
    # mapped forms the corpus does not have stay as written ("colour" -> "color": neither is in the article)
    assert retriever.corpus_spelling("What colour is the pill?") == "What colour is the pill?"


def test_each_named_thing_gets_a_passage_that_names_it(retriever) -> None:
    """Letrozole appears once in the article (in the meta-analysis sentence); asked with anastrozole, the
    question about letrozole alone ranks that passage 8th, below passages on drug classes that never name
    it. The term's slot goes to the best passage that names it."""
    question = "Does letrozole belong to the same drug class as anastrozole?"
    att = retriever.attributor()
    terms = att.named_in(question)
    assert [t for t, _ in terms] == ["letrozole", "anastrozole"]
    got = retriever.retrieve_covering(question, terms, literature=False)
    assert len(got) == retriever.settings.top_k
    assert any("Letrozole" in r.chunk.text for r in got), [r.chunk.text[:60] for r in got]
    assert any("belongs to a class of drugs known as aromatase inhibitors" in r.chunk.text for r in got)


def test_a_name_asked_in_the_plural_finds_the_passages_naming_it_once() -> None:
    from assistant.ranking import mentions, names

    chunk = Chunk(id="c", source="a.md", text="Tamoxifen ∞ As another SERM, Tamoxifen acts similarly to Clomiphene.",
                  start=0, end=60, section="s", kind="text")
    assert names(chunk, "SERMs") and mentions(chunk, "SERMs") and names(chunk, "SERM")
    assert not names(chunk, "ITTs") and names(chunk, "Tamoxifen")
    assert not mentions(Chunk(id="d", source="a.md", text="It binds to receptors.", start=0, end=22, section="s",
                              kind="text"), "SERMs")


def test_a_plural_name_gets_a_passage_about_it(retriever) -> None:
    question = "Are SERMs and aromatase inhibitors the same thing?"
    att = retriever.attributor()
    got = retriever.retrieve_covering(question, att.named_in(question), literature=False)
    assert any("SERM" in r.chunk.text for r in got), [r.chunk.text[:60] for r in got]
