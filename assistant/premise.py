"""The proposition a question takes for granted, so that it can be checked like any claim.

Why: "Since TRT boosts sperm production, why isn't it the go-to fertility treatment?" drew "Since TRT
boosts sperm production, it isn't the go-to fertility treatment because it can suppress endogenous LH and
FSH production ..." above a quote saying TRT suppresses them: the model adopts the premise, in the
question's own words, and then contradicts it. The premise ("TRT boosts sperm production") goes through
the same checks as the answer's claims (:func:`assistant.verify.verify`); when the sources contradict it,
the answer says so first and loses every clause that restates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.guards import last_sentence
from assistant.lexicon import tokenize
from assistant.syntax import SUBJECT, parse

#: "Since X, ...", "Given that X, ...": the clause before the first comma
_GIVEN = re.compile(r"^\s*(?:since|given\s+that|considering\s+that)\s+([^,?]{6,}),", re.I)
#: "Why does X do Y?" -> "X do Y" (the parser reads the bare verb as well as the inflected one)
_WHY_DO = re.compile(r"^\s*(?:why|how\s+come)\s+(?:do|does|did)\s+(.+?)\s*\?*\s*$", re.I)
#: "Why is X Y?" -> "X is Y"
_WHY_AUX = re.compile(r"^\s*why\s+(is|are|was|were|can|could|would|will|should|has|have)\s+(.+?)\s*\?*\s*$", re.I)
_HOW_COME = re.compile(r"^\s*how\s+come\s+(.+?)\s*\?*\s*$", re.I)
_NEGATED = re.compile(r"n[’']t\b|\bnot\b|\bnever\b", re.I)

#: share of the premise's words a clause must repeat to restate it
RESTATE_SHARE = 0.75


def premise_of(question: str) -> str:
    """The proposition the question (its last sentence) presupposes, or "" if it states none this module
    reads. A negative premise ("Why isn't it ...?") is left alone: the checks judge what a text asserts."""
    q = last_sentence(question.strip())
    if m := _WHY_AUX.match(q):
        premise = _subject_first(m.group(1), m.group(2))
    elif m := _GIVEN.match(q) or _WHY_DO.match(q) or _HOW_COME.match(q):
        premise = m.group(1)
    else:
        return ""
    premise = premise.strip(" ?.")
    return "" if not premise or _NEGATED.search(premise) or len(tokenize(premise)) < 2 else premise


def _subject_first(aux: str, rest: str) -> str:
    """ "is" + "anastrozole FDA-approved for men" -> "anastrozole is FDA-approved for men": the auxiliary
    goes after the subject the parser finds; without one, after the first word."""
    doc = parse(f"{aux} {rest}")
    subjects = [t for t in doc if t.dep_ in SUBJECT]
    if subjects:
        subject = subjects[0]  # its words up to itself: a modifier after it may be the predicate misparsed
        span = subject.left_edge.idx, subject.idx + len(subject.text)
        text = doc.text
        return f"{text[span[0]:span[1]]} {aux} {text[span[1]:].strip()}".strip()
    first, _, after = rest.partition(" ")
    return f"{first} {aux} {after}".strip()


def restates(claim: str, premise: str, names: Callable[[str], set[str]] = lambda _t: set()) -> bool:
    """Whether the claim repeats (nearly) every word of the premise and every name in it (``names(text)``:
    the named terms of a text). A claim that puts another name in a name's place corrects the premise:
    "hCG works on the Leydig cells" against "hCG works on the Sertoli cells"."""
    wanted = set(tokenize(premise))
    if not wanted or not names(premise) <= names(claim):
        return False
    return len(wanted & set(tokenize(claim))) / len(wanted) >= RESTATE_SHARE
