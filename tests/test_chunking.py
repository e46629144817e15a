import itertools

from assistant.chunking import chunk_text, split_sentences
from assistant.references import load_references
from tests.conftest import CORPUS


def _chunks(text: str, **kw):
    params = {"chunk_size": 700, "chunk_overlap": 1, "min_chunk_size": 200}
    params.update(kw)
    return chunk_text(text, "a.md", references=load_references(CORPUS), **params)


def test_every_chunk_is_an_exact_slice(article_text: str) -> None:
    chunks = _chunks(article_text)
    assert 50 <= len(chunks) <= 80
    for c in chunks:
        assert article_text[c.start : c.end] == c.text
        assert c.text == c.text.strip()
        assert len(c.text) <= 700 or c.kind == "table_row"


def test_chunks_cover_every_sentence(article_text: str) -> None:
    """Nothing of the article is lost between chunks (headings and table headers aside)."""
    covered = [False] * len(article_text)
    for c in _chunks(article_text):
        covered[c.start : c.end] = [True] * (c.end - c.start)
    lines = article_text.split("\n")
    for lineno, line in enumerate(lines):
        if not line.strip() or line.startswith("#") or set(line) <= set("|-"):
            continue
        if lineno + 1 < len(lines) and lines[lineno + 1].startswith("|---"):
            continue  # a table header travels in the rows' metadata
        start = article_text.index(line)
        body = line.lstrip("- ")
        offset = start + line.index(body)
        assert all(covered[offset : offset + len(body)]), f"line {lineno} not covered: {line[:60]}"


def test_sections_are_heading_paths(article_text: str) -> None:
    chunks = _chunks(article_text)
    by_start = {c.text[:40]: c.section for c in chunks}
    assert by_start["For a considerable period, estrogen was pr"[:40]] == (
        "Academic > The Estrogen Paradox in Male Reproduction"
    )
    assert {c.section.split(" > ")[0] for c in chunks} == {
        "Fundamentals", "Intermediate", "Academic", "References", "Reflection",
    }


def test_tables_are_rows_with_their_header(article_text: str) -> None:
    rows = [c for c in _chunks(article_text) if c.kind == "table_row"]
    assert len(rows) == 7  # 3 rows in the first table, 4 in the second
    assert all(r.text.startswith("| ") and r.text.endswith("|") for r in rows)
    assert all(r.header.startswith("| Treatment") for r in rows)
    anas = [r for r in rows if r.text.startswith("| Anastrozole |")]
    assert len(anas) == 2
    assert "Primary Mechanism of Action" in anas[0].prompt_text()


def test_each_reference_is_its_own_chunk(article_text: str) -> None:
    refs = load_references(CORPUS)
    ref_chunks = [c for c in _chunks(article_text) if c.kind == "reference"]
    assert len(ref_chunks) == len(refs) == 10
    assert sorted(k for c in ref_chunks for k in c.ref_keys) == sorted(r.key for r in refs)
    pav = next(c for c in ref_chunks if c.text.startswith("Pavlovich"))
    assert pav.ref_keys == ("pavlovich2002",)  # same title as Hayes 2012: the author decides


def test_cited_studies_tag_article_chunks(article_text: str) -> None:
    chunks = [c for c in _chunks(article_text) if c.kind == "text"]
    cleveland = next(c for c in chunks if "Cleveland Clinic and UCLA" in c.text)
    meta = next(c for c in chunks if "systematic review and meta-analysis" in c.text)
    assert "lundy2023" in cleveland.ref_keys
    assert "rastrelli2020" in meta.ref_keys
    untagged = next(c for c in chunks if c.text.startswith("Experiencing challenges"))
    assert untagged.ref_keys == ()


def test_long_paragraph_splits_on_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about estradiol and the HPG axis at some length." for i in range(20)]
    text = "## Head\n\n" + " ".join(sentences) + "\n"
    chunks = _chunks(text, chunk_size=300, min_chunk_size=50)
    assert len(chunks) > 3
    for a, b in itertools.pairwise(chunks):
        assert a.text.endswith(".") and b.text[0].isupper()
        assert b.start < a.end  # one sentence of overlap
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_ids_are_stable_and_content_derived(article_text: str) -> None:
    a = _chunks(article_text)
    b = _chunks("Intro paragraph that was added at the top, long enough to stand alone as a chunk of text "
                "on its own without merging into the following one at all, really.\n\n" + article_text)
    assert len({c.id for c in a}) == len(a)
    assert {c.id for c in a} <= {c.id for c in b}


def test_sentence_splitter_keeps_abbreviations() -> None:
    text = "Shiraishi, K. et al. found this. It was in vol. 26 of the journal. Then a third one."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Shiraishi, K. et al. found this.", "It was in vol. 26 of the journal.", "Then a third one.",
    ]


def test_a_sentence_may_start_with_a_name_written_lower_case_first() -> None:
    """"hCG ..." or "rFSH ..." after a full stop starts a sentence (an answer's second claim is checked on
    its own); a lower-case word after an abbreviation does not."""
    text = "hCG acts like LH. hMG contains both FSH and LH activity. rFSH is added, e.g. when needed."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "hCG acts like LH.", "hMG contains both FSH and LH activity.", "rFSH is added, e.g. when needed.",
    ]
