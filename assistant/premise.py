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

from assistant.distribute import third_person
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
        premise = _declarative(m.group(1).lower(), m.group(2)) or _subject_first(m.group(1), m.group(2))
    elif m := _GIVEN.match(q) or _WHY_DO.match(q) or _HOW_COME.match(q):
        premise = m.group(1)
    else:
        return ""
    premise = premise.strip(" ?.")
    return "" if not premise or _NEGATED.search(premise) or len(tokenize(premise)) < 2 else premise


#: "Does LH act on Sertoli cells?" -> ("does", "LH act on Sertoli cells")
_ASKS = re.compile(r"^\s*(is|are|was|were|do|does|did|can|could|will|would|should|has|have)\s+(.+?)\s*\?*\s*$",
                   re.I)


def proposition_of(question: str) -> str:
    """What a yes/no question (its last sentence, opening with an auxiliary) asks to be affirmed or denied, as
    a statement ("Does LH act on Sertoli cells?" -> "LH acts on Sertoli cells"), or "". A negative one
    ("Isn't it ...?") is left alone, as in :func:`premise_of`."""
    m = _ASKS.match(last_sentence(question.strip()))
    if not m:
        return ""
    said = _declarative(m.group(1).lower(), m.group(2)).strip(" ?.")
    first = said.split(" ", 1)[0]
    if first[1:] == first[1:].lower():  # a sentence to the parser: "Anastrozole lowers ...", never "RFSH"
        said = said[:1].upper() + said[1:]
    return "" if _NEGATED.search(f"{m.group(1)} {said}") or len(tokenize(said)) < 2 else said


_NO_END = frozenset("the a an of in on to for with at by from as and or its his their this that these".split())
_NO_START = frozenset("and or of in on to for with at by from as".split())


def _declarative(aux: str, rest: str) -> str:
    """The auxiliary put back after the subject: the first place, among the first words, where the sentence
    then parses with a subject before a main verb the auxiliary is (or helps). Why not the question's own
    parse: the small parser reads "Are SERMs and aromatase inhibitors the same thing?" with "SERMs" as the
    object of "are", and "Do anastrozole and clomiphene both block ...?" with "both" as the subject. "" when
    no place parses so."""
    words = rest.split()
    for i in range(1, min(len(words), 7)):
        if words[i - 1].lower() in _NO_END or words[i].lower() in _NO_START:
            continue  # "the is HPG axis", "SERMs are and aromatase inhibitors": a phrase cut in two
        head = " ".join(words[:i])
        text = f"{head} {aux} {' '.join(words[i:])}"
        doc = parse(text)
        at = next((t for t in doc if t.idx == len(head) + 1), None)
        if at is None:
            continue
        root = at if at.dep_ == "ROOT" else at.head if at.dep_ in ("aux", "auxpass") else None
        # the words before the auxiliary are the subject's phrase, whole
        if root is not None and root.dep_ == "ROOT" and any(
                t.dep_ in SUBJECT and t.head.i == root.i and t.left_edge.i == 0 and t.right_edge.i == at.i - 1
                for t in doc):
            if aux in ("do", "does"):  # "LH does work on ..." -> "LH works on ..."
                after = " ".join(words[i:])
                return f"{head} {third_person(after) if aux == 'does' else after}"
            return text
    return ""


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
