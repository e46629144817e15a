"""A claim made of several things at once, taken apart into one claim about each.

Why: asked "Is anastrozole's mechanism the same as clomiphene's?", the model wrote "Both drugs work by
competitively binding to estrogen receptors ...", and asked about anastrozole and tamoxifen, "Anastrozole and
Clomiphene both lower estrogen's effect by blocking the aromatase enzyme". The attribution check reads one
agent per clause (the first conjunct; "both drugs" is no name at all), and it leaves out of a claim's
counterfactuals every agent the claim names, since "A, unlike B, does W" is about both. So the claim that
gives anastrozole's mechanism to clomiphene as well passed. Taken apart ("Clomiphene lowers estrogen's effect
by blocking the aromatase enzyme"), each part is an ordinary claim with one agent, and the checks catch it.

Which things: the names a clause opens with, joined by "and" ("A and B both ...", "Both A and B ..."), or,
for a plural reference ("both drugs", "they both", "the two", "each of them"), the things the question names
that the clause does not name itself ("Do both drugs raise LH?": LH is the clause's object, not a subject).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.syntax import parse

_WORD = r"[A-Za-z][\w-]*"
#: a plural reference at the start of a clause: "both", "they both", "both drugs", "the two agents", "each of them"
_NOUNS = r"(?:drugs?|medications?|medicines?|agents?|therapies|therapy|treatments?|compounds?|options?|ones?)"
_PLURAL = re.compile(
    rf"^(?:both(?:\s+of\s+(?:them|these))?(?:\s+{_NOUNS})?|they(?:\s+(?:both|each|all))?"
    rf"|(?:these|the)\s+two(?:\s+{_NOUNS})?|these\s+{_NOUNS}|each(?:\s+of\s+(?:them|these))?(?:\s+{_NOUNS})?)"
    r"(?=\s)",
    re.I,
)
#: what may stand between the subject and its verb and belongs to neither: "both", "each", "also"
_FLOATING = re.compile(r"^\s*(?:,\s*)?(?:both|each|all|also|alike)\b\s*,?\s*", re.I)
_AFTER_VERB = re.compile(r"^(\w+)\s+(?:both|each|all)\b,?\s*", re.I)
_MODAL = {"can", "may", "might", "will", "would", "should", "could", "must", "did", "do", "does"}
_AUX = {"are": "is", "have": "has", "were": "was", "do": "does"}


def third_person(predicate: str) -> str:
    """The predicate's verb agreeing with one subject ("lower" -> "lowers", "are" -> "is"), so that the parser
    reads the part as the sentence it is. Adverbs before the verb ("directly act") are passed over."""
    words = predicate.split(" ")
    for i, w in enumerate(words):
        low = w.lower()
        if low.endswith("ly") and i < len(words) - 1:
            continue
        if low in _MODAL or low.endswith(("s", "ed")) or not low.isalpha():
            return predicate
        if low in _AUX:
            words[i] = _AUX[low]
        elif low.endswith(("sh", "ch", "x", "z", "o")):
            words[i] = w + "es"
        elif len(low) > 2 and low.endswith("y") and low[-2] not in "aeiou":
            words[i] = w[:-1] + "ies"
        else:
            words[i] = w + "s"
        return " ".join(words)
    return predicate


def distribute(claim: str, asked: Sequence[str], named: Callable[[str], bool]) -> list[tuple[str, str]]:
    """(name, claim about it alone) for each thing the claim is made of together; [] for a claim about one.

    ``named(word)`` says whether a word names a checked thing (a drug, hormone, cell: the attribution
    checker's named terms); ``asked``, the question's names as written, in order, stand for a plural reference.
    """
    text = claim.strip()
    names: list[str] = []
    rest = ""
    # "A and B", "Both A and B", "A, B and C", "A as well as B": each a name, else it is no list of things
    m = re.match(rf"^(?:both\s+)?({_WORD})((?:\s*,\s*{_WORD})*)\s*,?\s+(?:and|as well as)\s+({_WORD})(?=\s)",
                 text, re.I)
    if m:
        parts = [m.group(1), *[p for p in re.split(r"\s*,\s*", m.group(2)) if p], m.group(3)]
        if all(named(p) for p in parts):
            names, rest = parts, text[m.end():]
    if not names and (m := _PLURAL.match(text)):
        rest = text[m.end():]
        said = {w.lower() for w in re.findall(_WORD, rest) if named(w)}
        names = [w for w in asked if w.lower() not in said]
        if len(names) != 2:
            return []  # which of three or more things "both" means is a guess
    if len(names) < 2 or not rest.strip():
        return []
    # "both" after the verb too: "A and B are both SERMs" -> "A is SERMs"
    predicate = third_person(_AFTER_VERB.sub(r"\1 ", _FLOATING.sub("", rest).strip()))
    if not predicate:
        return []
    # a sentence's first word capitalised ("anastrozole works ..." is no sentence to the parser), "hCG" kept
    return [(n, f"{n.capitalize() if n.islower() else n} {predicate}") for n in names]


def each_object(claim: str, named: Callable[[str], bool]) -> list[str]:
    """The claim once for each item of a list it says one thing of ("rFSH directly stimulates Sertoli cells,
    Leydig cells, and testicular testosterone" -> "... stimulates Sertoli cells", "... stimulates Leydig
    cells", ...), when an item names a checked thing; [] when it lists none.

    Why: the attribution check weighs a claim's words together, so one wrong item among right ones passed
    (rFSH stimulates Sertoli cells; the sources never name Leydig cells with it). Items are the object (or a
    preposition's object) and the nouns coordinated with it, each with the words before it in its phrase.
    """
    doc = parse(claim)
    for t in doc:
        if t.dep_ not in ("dobj", "pobj", "attr"):
            continue
        chain, frontier = [t], [t]
        while frontier:
            nxt = [c for x in frontier for c in x.children if c.dep_ == "conj"]
            chain += nxt
            frontier = nxt
        if len(chain) < 2:
            continue
        items = [doc[x.left_edge.i : x.i + 1].text for x in chain]
        items = [re.sub(r"^(?:and|or|both|either)\s+", "", i, flags=re.I) for i in items]
        if not any(named(w) for i in items for w in re.findall(_WORD, i)):
            continue
        start = doc[t.left_edge.i].idx
        last = max(chain, key=lambda x: x.right_edge.i).right_edge
        if any(x.pos_ in ("VERB", "AUX") for x in doc[last.i + 1 :]):
            continue  # "... Leydig cells to produce testosterone and FSH to stimulate Sertoli cells": a verb
            # after the list may be an item's own ("FSH [is there] to stimulate"), a gap the parse does not see
        end = last.idx + len(last.text)
        lead = re.sub(r"\b(?:both|either)\s+$", "", claim[:start], flags=re.I)
        return [f"{lead}{item}{claim[end:]}" for item in items]
    return []
