"""Resolve a follow-up question against the conversation, without an LLM call.

Why not an LLM condense step: on 2 CPU cores it costs 3-5 s before retrieval
even starts, and a 1.5B model rewrites questions unreliably. A follow-up
("Which one is first-line for secondary hypogonadism?") is recognised by its
referring words or brevity and retrieved together with the question(s) it
follows, back to the last one that stands on its own; the answer prompt also
shows the previous question so the model can resolve "which one".
``bench/retrieval.py`` measures this on the multi-turn cases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_REFERRING = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|which one|either|both|the former|the latter|"
    r"the first|the second|same|he|she|his|her|there|such|one)\b",
    re.I,
)
_SHORT_WORDS = 6


def is_follow_up(question: str) -> bool:
    words = question.split()
    return bool(_REFERRING.search(question)) or len(words) <= _SHORT_WORDS


def standalone_query(question: str, previous: Sequence[str]) -> str:
    """The text to retrieve with: a follow-up is prefixed by the questions it follows.

    Walking back stops at the most recent question that stands on its own, so in
    "Why do obese men have high estrogen?" / "Does that affect fertility?" /
    "Is there a drug for that?" the last turn is retrieved together with both
    earlier ones: the middle turn alone does not say what "that" is.
    """
    if not previous or not is_follow_up(question):
        return question
    parts = [question]
    for prev in reversed(previous):
        parts.insert(0, prev)
        if not is_follow_up(prev):
            break
    return " ".join(parts)
