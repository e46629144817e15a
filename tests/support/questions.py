"""The questions that several test files ask: one good question and the bad ones every entry point refuses."""

from __future__ import annotations

GOOD_QUESTION = "Which enzyme does anastrozole block?"

LONG_QUESTION = ("Which enzyme does anastrozole block and why " * 2500)[:100_000]
BAD_QUESTIONS: dict[str, tuple[str, str]] = {
    # name: (question, what the message must say)
    "empty": ("", "Please type a question."),
    "blank": (" \n\t  ", "Please type a question."),
    "100k characters": (LONG_QUESTION, "characters long; the limit is 2,000"),
    "undecodable bytes": ("Which enzyme does anastrozole block? caf\udce9", "not valid text (UTF-8)"),
}
