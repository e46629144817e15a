"""What people read: citation links, quote lines, export, and the history rebuilt from the chat."""

from __future__ import annotations

from assistant.render import chat_markdown, export_markdown, link_citations, plain
from assistant.schema import Answer, Citation, Context


def _answer() -> Answer:
    ctx = Context(n=1, chunk_id="c1", source="a.md", section="Intro", text="x" * 200, start=100, end=300, score=1.0)
    cell = Context(n=2, chunk_id="c2", source="a.md", section="Table", text="y" * 80, start=400, end=480, score=0.9)
    return Answer(
        question="q?", query="q?", answer="", abstained=False, prose="Anastrozole blocks aromatase [1], not [2, 1].",
        contexts=[ctx, cell],
        citations=[
            Citation(n=1, chunk_id="c1", source="a.md", section="Intro", quote='It blocks the "aromatase" enzyme.',
                     verified=True, start=110, end=140, references=["Lundy et al., 2023: “Study Suggests Use.”"]),
            Citation(n=2, chunk_id="c2", source="a.md", section="Table", quote="No direct impact on ITT.",
                     verified=True, start=410, end=434, chosen_by="retrieval", label="rFSH (FSH-like), Effect on ITT"),
            Citation(n=1, chunk_id="c1", source="a.md", section="Intro", quote="made up", verified=False),
        ],
    )


def test_citations_link_to_their_passage_and_hover_shows_the_quote() -> None:
    md = chat_markdown(_answer())
    assert "[[1]](#source-1 \"It blocks the 'aromatase' enzyme.\")" in md  # quotes in a title cannot break it
    assert "not [[2]](#source-2 \"No direct impact on ITT.\")[[1]](#source-1" in md
    assert plain(md).startswith("Anastrozole blocks aromatase [1], not [2][1].")
    assert "#source-" not in plain(md)


def test_quote_lines_carry_cell_label_and_place() -> None:
    text = plain(chat_markdown(_answer()))
    assert "> [2] rFSH (FSH-like), Effect on ITT: “No direct impact on ITT.” — Table, characters 410–434" in text
    assert '> [1] “It blocks the "aromatase" enzyme.” — Intro, characters 110–140; cites Lundy et al., 2023' in text
    assert "did not match the source and is not shown" in text and "made up" not in text
    assert link_citations("no citations here", {}) == "no citations here"


def test_export_is_markdown_with_each_question_and_its_sourced_answer() -> None:
    md = chat_markdown(_answer())
    out = export_markdown([("Which enzyme?", md), ("And rFSH?", "The sources do not cover this question.")],
                          "2026-12-04 08:00 UTC")
    assert out.startswith("# Conversation with the male-fertility pharmacology assistant")
    assert "Exported 2026-12-04 08:00 UTC" in out and "not medical advice" in out
    assert "## 1. Which enzyme?" in out and "## 2. And rFSH?" in out
    assert "— Intro, characters 110–140; cites Lundy et al., 2023" in out and "#source-" not in out


def test_conversation_and_history_skip_unanswered_and_strip_links() -> None:
    from assistant.chat_turns import conversation, history_turns

    md = chat_markdown(_answer())
    history = [{"role": "user", "content": "Which enzyme?"}, {"role": "assistant", "content": md},
               {"role": "user", "content": "And rFSH?"}]
    assert conversation(history) == [("Which enzyme?", md)]
    turns = history_turns(history)
    assert len(turns) == 1 and turns[0].answer == "Anastrozole blocks aromatase [1], not [2][1]."


def test_the_notes_under_an_answer_say_what_was_set_aside_and_what_was_put_back() -> None:
    from assistant.render import removed_notes
    from assistant.schema import ClaimCheck

    answer = _answer().model_copy(update={"checks": [
        ClaimCheck(claim="Anastrozole binds estrogen receptors", kept=False, how="attribution", reason="clomiphene's"),
        ClaimCheck(claim="Clomiphene stimulates LH", kept=True, how="verbatim"),
        ClaimCheck(claim="Anastrozole blocks estrogen production", kept=True, how="restored", reason="quote [1]"),
    ]})
    notes = removed_notes(answer)
    assert "- ~~Anastrozole binds estrogen receptors~~ — clomiphene's" in notes
    assert "- put back: Anastrozole blocks estrogen production — quote [1]" in notes
    assert not any("Clomiphene stimulates LH" in n for n in notes)
