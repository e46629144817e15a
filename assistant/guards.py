"""Deterministic safety nets around the model's answer.

A 1.5B model follows "never invent doses" most of the time, not always; these
checks make the rule hold: an answer that states a dose or a percentage not
present in its passages is replaced by the refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|μg|g|iu|i\.u\.|units?|milligrams?|micrograms?|ml|tablets?|pills?)\b"
    r"|\b(?:once|twice|three times)\s+(?:a|per)\s+(?:day|week)\b|\b\d+(?:[.,]\d+)?\s*%",
    re.I,
)


def invented_amounts(answer: str, passages: Iterable[str]) -> list[str]:
    """Doses, frequencies and percentages in the answer that no passage states."""
    source = " ".join(passages).lower()
    return [m.group(0) for m in _DOSE.finditer(answer) if m.group(0).lower() not in source]


_WORD = re.compile(r"[A-Za-z]{3,}")
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|without)\b|n't\b", re.I)


def _only_denied(word: str, answer: str) -> bool:
    """Every mention of ``word`` in the answer follows a negation within three words ("is not FDA-approved"):
    the answer corrects the premise rather than adopting it."""
    hits = list(re.finditer(rf"\b{re.escape(word)}", answer, re.I))
    return bool(hits) and all(
        _NEGATION.search(" ".join(answer[: m.start()].split()[-3:])) for m in hits
    )


def unknown_subjects(
    question: str, answer: str, known: Callable[[str], bool], rare: Callable[[str], bool] = lambda _: True
) -> list[str]:
    """Rare words of the question that the whole corpus never uses, yet the answer repeats.

    Such an answer talks about something the sources do not cover (a drug the
    corpus never names, an "FDA" approval it never mentions): the model is
    filling in from its own knowledge or echoing a false premise. Only rare
    words count (acronyms, or words the embedding model's vocabulary has to
    split into pieces): an everyday word like "regimen" or "predicts" that the
    article happens not to use says nothing about scope. A mention the answer
    denies ("it is not FDA-approved") is a correction, not an echo.
    """
    answer_words = {w.lower() for w in _WORD.findall(answer)}
    out = []
    for w in dict.fromkeys(_WORD.findall(question)):
        low = w.lower()
        if low in answer_words and (w.isupper() or rare(low)) and not known(low) and not _only_denied(w, answer):
            out.append(low)
    return out


def corpus_names(text: str, known: Callable[[str], bool], rare: Callable[[str], bool]) -> list[str]:
    """Rare words of ``text`` that the corpus uses: the names of its authors, drugs and studies (what the
    out-of-scope test must not judge by sentence similarity alone, and what keeps a premise in scope)."""
    words = dict.fromkeys(re.findall(r"[A-Za-z][\w-]*", text))
    return [w for w in words if len(w) > 2 and rare(w.lower()) and known(w)]


_PRESUPPOSING = re.compile(r"^\s*(?:why\b|how\s+come\b|since\b|given\s+that\b)", re.I)


def presupposes(question: str) -> bool:
    """The question takes a proposition as given instead of asking whether it holds: "Why is X ...?",
    "How come ...?", "Since X, ...?", "Given that X, ...?" (its last sentence, or the whole question).

    Why it matters to the unknown-subject guard: "Why is anastrozole FDA-approved for male infertility?"
    asks about something the sources do cover (anastrozole's approval) through a premise they never state
    (FDA approval for men). Refusing it as out of scope leaves the user with the premise; the sources' own
    words (approved for women with breast cancer; off-label in men) correct it.
    """
    return bool(_PRESUPPOSING.match(question) or _PRESUPPOSING.match(last_sentence(question)))


def last_sentence(question: str) -> str:
    """The question's last sentence: what "Clomiphene raises LH. Does it raise FSH too?" asks."""
    return re.split(r"(?<=[.?!:])\s+", question.strip())[-1] if question.strip() else ""
