"""Resolve a follow-up question against the conversation, without an LLM call.

Why not an LLM condense step: on 2 CPU cores it costs 3-5 s before retrieval
even starts, and a 1.5B model rewrites questions unreliably. Instead:

* A question is a follow-up when it refers back ("it", "that one", "the second
  drug", "both"), is elliptical ("What about hCG?", "And the second one?"), or
  names nothing of its own to ask about (no technical term: "What side effects
  does it have?"). A question that names its own subject ("Does cortisol affect
  fertility hormones?") stands alone however short it is, and so does one that
  says it changes the topic ("Different topic: ...").
* A follow-up is retrieved together with the question(s) it follows, back to
  the last one that stands on its own, and the model sees the previous turn:
  its question and the gist of its answer (its first sentence), so "which
  one" can be resolved against what was actually said.

``is_term`` says whether a word is a technical term (the retriever's corpus
vocabulary test); without one, any word of three letters or more counts, and
only referring and elliptical questions are follow-ups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_REFERRING = re.compile(
    r"\b(it|its|it's|they|them|their|this|that|these|those|which one|either|both|the former|the latter|"
    r"the first|the second|the other|same|he|she|his|her|him|there|such|that one|this one|one of them)\b",
    re.I,
)
_ELLIPTICAL = re.compile(r"^\s*(?:and|also|so|what about|how about|and what about|then|but|ok|okay)\b", re.I)
_NEW_TOPIC = re.compile(
    r"^\s*(?:(?:a\s+)?(?:different|separate|new|unrelated|other|another)\s+(?:topic|question|subject)|"
    r"changing (?:the )?(?:topic|subject)|on another note|unrelated)\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z][\w-]{2,}")


def is_follow_up(question: str, is_term: Callable[[str], bool] | None = None) -> bool:
    if _NEW_TOPIC.search(question):
        return False
    if _REFERRING.search(question) or _ELLIPTICAL.search(question):
        return True
    if is_term is None:
        return False
    return not any(is_term(w) for w in _WORD.findall(question))


def standalone_query(question: str, previous: Sequence[str], is_term: Callable[[str], bool] | None = None) -> str:
    """The text to retrieve with: a follow-up is prefixed by the questions it follows.

    Walking back stops at the most recent question that stands on its own, so in
    "Why do obese men have high estrogen?" / "Does that affect fertility?" /
    "Is there a drug for that?" the last turn is retrieved together with both
    earlier ones: the middle turn alone does not say what "that" is.
    """
    if not previous or not is_follow_up(question, is_term):
        return question
    parts = [question]
    for prev in reversed(previous):
        parts.insert(0, prev)
        if not is_follow_up(prev, is_term):
            break
    return " ".join(parts)


def gist(answer: str, limit: int = 300) -> str:
    """The first sentence of an answer (its point), cut at ``limit`` characters: what a follow-up refers to."""
    from assistant.chunking import split_sentences

    text = " ".join(answer.split())
    spans = split_sentences(text)
    first = text[spans[0][0] : spans[0][1]] if spans else text
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"
