from assistant.chunking import Chunk
from assistant.quotes import check_quotes, cited_numbers, find_span, normalise, parse_answer

SOURCE = (
    "Intro.\n\nAnastrozole works by selectively inhibiting the aromatase enzyme, which is responsible for "
    "converting androgens, including testosterone, into estrogens. By reducing estrogen levels, Anastrozole "
    "effectively lessens the negative feedback signal that estrogen exerts on the hypothalamus and pituitary gland."
    "\n\nIt is the body’s “own” hormone.\n"
)


def _chunk(text: str) -> Chunk:
    start = SOURCE.index(text)
    return Chunk(id="c", source="s.md", text=text, start=start, end=start + len(text), section="S", kind="text")


P1 = _chunk(SOURCE.split("\n\n")[1])
P2 = _chunk("It is the body’s “own” hormone.")


def test_parse_answer_splits_quotes() -> None:
    raw = (
        'Anastrozole blocks aromatase [1].\n\nQuotes:\n[1] "Anastrozole works by selectively inhibiting"\n'
        "- [2] “x y z”"
    )
    parsed = parse_answer(raw)
    assert parsed.answer == "Anastrozole blocks aromatase [1]."
    assert parsed.quotes == [(1, "Anastrozole works by selectively inhibiting"), (2, "x y z")]


def test_parse_answer_without_quotes_section() -> None:
    assert parse_answer("Just prose [2].").quotes == []


def test_cited_numbers_in_order() -> None:
    assert cited_numbers("a [2] b [1, 3] c [2]") == [2, 1, 3]


def test_verbatim_quote_maps_to_source_span() -> None:
    q = "By reducing estrogen levels, Anastrozole effectively lessens the negative feedback signal"
    start, end = find_span(q, P1)
    assert SOURCE[start:end] == q


def test_normalisation_is_whitespace_quotes_and_case_only() -> None:
    span = find_span('it is the BODY\'S   "own" hormone', P2)
    assert span is not None and SOURCE[span[0] : span[1]] == "It is the body’s “own” hormone."
    assert find_span("It is the body's own hormones", P2) is None  # a changed word is not verbatim
    assert find_span("Anastrozole works by inhibiting the aromatase enzyme", P1) is None  # a dropped word


def test_too_short_quotes_are_not_verified() -> None:
    assert find_span("aromatase", P1) is None


def test_check_quotes_moves_to_the_right_passage_and_flags_invented() -> None:
    checked = check_quotes([(1, "It is the body’s “own” hormone."), (1, "Anastrozole is a SERM that blocks receptors")],
                           [P1, P2])
    assert checked[0].verified and checked[0].n == 2 and checked[0].moved
    assert not checked[1].verified and checked[1].start is None


def test_normalise_index_maps_back() -> None:
    norm, index = normalise("A  “B”\nc")
    assert norm == 'a "b" c'
    assert [index[i] for i in range(len(norm))] == [0, 2, 3, 4, 5, 6, 7]
