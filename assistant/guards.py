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
_DECIDE = (r"(?:take|stop|start|use|try|continue|switch|increase|decrease|reduce|lower|raise|combine|add|keep|"
           r"skip|double|quit|begin|need|go (?:on|off)|come off|get (?:on|off)|be (?:on|taking))")
# personal treatment decisions and doses: the sources give neither, so these are refused before the model
# is asked (a 1.5B model answers "Yes, you should..." to them); measured on eval/datasets/questions.jsonl:
# it matches the 5 dose/advice turns and none of the 44 other questions
_ADVICE = re.compile(
    rf"\b(?:should|can|could|may|must|do|shall) i {_DECIDE}\b|\bam i\b|\bfor me\b"
    r"|\bi(?:'m| am) (?:on|taking|using)\b"
    r"|\bmy (?:dose|dosage|estradiol|estrogen|testosterone|levels?|results?|labs?)\b"
    r"|\b(?:how much|how many (?:mg|milligrams?|pills|tablets)|what dose|which dose|dosage|dosing|milligrams?)\b"
    r"|\bprescribe me\b",
    re.I,
)


def invented_amounts(answer: str, passages: Iterable[str]) -> list[str]:
    """Doses, frequencies and percentages in the answer that no passage states."""
    source = " ".join(passages).lower()
    return [m.group(0) for m in _DOSE.finditer(answer) if m.group(0).lower() not in source]


def asks_for_advice(question: str) -> bool:
    """A personal treatment decision or a dose: answered by the refusal and a pointer to a clinician."""
    return bool(_ADVICE.search(question))


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
