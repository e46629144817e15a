"""Which named thing the sources liken to which: catch a claim that likens it to another.

Why: asked "Does tamoxifen act like anastrozole or like clomiphene?", the model wrote "Tamoxifen acts like
anastrozole and like clomiphene." above a quote saying "Tamoxifen acts similarly to Clomiphene". Every word
is the sources'; only the pairing is the model's, and the who-does-what check cannot see it, because "like"
introduces a comparison, not a participant. The sources' likenesses are read from their parse: "X acts like
Y", "Like Y, X ...", "X acts similarly to Y", "X is similar to Y", "X mimics Y", and their contrasts:
"Unlike Y, X ...", "more like Y than Z".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.relations import CITE_MARK, doer_of, name_terms
from assistant.syntax import RELATIVE, parse

_SIMILAR = frozenset({"similarly", "similar", "alike"})
_MIMIC = frozenset({"mimic", "resemble", "imitate"})
#: "the actions of LH": what is likened is LH
_ASPECT = frozenset({"action", "actions", "effect", "effects", "activity", "role", "function", "mechanism"})


@dataclass(frozen=True)
class Likeness:
    one: frozenset[str]  # index terms of the doer ("tamoxifen")
    other: frozenset[str]  # ... of what it is likened to
    alike: bool  # False: a contrast ("Unlike Y, X ...")
    one_text: str
    other_text: str


def _compared(tok) -> list:
    """The nouns a comparison word points at: its object, or the object of its "to"."""
    if tok.lower_ in ("like", "unlike"):
        objects = [c for c in tok.children if c.dep_ == "pobj"]
    elif tok.lemma_.lower() in _MIMIC:
        objects = [c for c in tok.children if c.dep_ in ("dobj", "obj")]
    else:  # "similar to Y"; "acts similarly to Y" hangs "to" on the verb
        owners = [tok, tok.head] if tok.dep_ == "advmod" else [tok]
        objects = [g for o in owners for c in o.children if c.dep_ == "prep" and c.lower_ == "to"
                   for g in c.children if g.dep_ == "pobj"]
    out = []
    for obj in objects:
        for t in [obj, *obj.conjuncts]:
            inner = [g for c in t.children if c.dep_ == "prep" and c.lower_ == "of" for g in c.children
                     if g.dep_ == "pobj"] if t.lemma_.lower() in _ASPECT else []
            out += [x for i in inner for x in [i, *i.conjuncts]] if inner else [t]
    return out


def likenesses(text: str) -> list[Likeness]:
    """Each likeness and contrast of two things the text states."""
    out: list[Likeness] = []
    for tok in parse(CITE_MARK.sub("", text)):
        low = tok.lower_
        if low in ("like", "unlike") and tok.pos_ == "ADP" and tok.dep_ in ("prep", "conj"):
            anchor = tok
            while anchor.dep_ == "conj":  # "like A and like B": the second "like" hangs on the first
                anchor = anchor.head
            verb, alike = anchor.head, low == "like"
            if verb.pos_ not in ("VERB", "AUX"):
                continue  # "SERMs like Tamoxifen and Clomid": examples of a kind, not a likeness
        elif low in _SIMILAR and tok.dep_ in ("advmod", "acomp", "amod"):
            verb, alike = tok.head, True
        elif tok.lemma_.lower() in _MIMIC and tok.pos_ == "VERB":
            verb, alike = tok, True
        else:
            continue
        doer = doer_of(verb)
        if doer is not None and doer.lower_ in RELATIVE and verb.dep_ == "relcl":
            doer = verb.head  # "hormones that mimic ...": the hormones
        if doer is None:
            continue
        named = [doer, *doer.conjuncts, *(c for c in doer.children if c.dep_ == "appos")]
        one = frozenset().union(*(name_terms(t) for t in named))
        one_text = " ".join(t.text for t in named)
        for obj in _compared(tok):
            other = name_terms(obj)
            if one and other and not one & other:
                out.append(Likeness(one, other, alike, one_text, obj.text))
            # "more like B than C": C is the contrast
            for than in (g for c in obj.children if c.dep_ == "prep" and c.lower_ == "than" for g in c.children
                         if g.dep_ == "pobj"):
                if one and name_terms(than) and not one & name_terms(than):
                    out.append(Likeness(one, name_terms(than), False, one_text, than.text))
    return out


def _pairs(a: frozenset[str], b: frozenset[str], stated: Sequence[Likeness], alike: bool) -> bool:
    return any(s.alike == alike and ((a & s.one and b & s.other) or (a & s.other and b & s.one)) for s in stated)


def misliken(claim: str, stated: Sequence[Likeness], named: Callable[[str], bool]) -> str:
    """Why the claim likens two named things the sources do not ("" if it does not): the sources contrast
    them, or liken the first to something else and never to the second. ``named(text)``: whether a text
    names a drug, hormone or cell of the sources (a claim likening hCG to "a hormone" is not judged)."""
    stated = [s for s in stated if named(s.one_text) and named(s.other_text)]
    for said in likenesses(claim):
        if not said.alike or not (named(said.one_text) and named(said.other_text)):
            continue
        a, b = said.one, said.other
        if _pairs(a, b, stated, True):
            continue
        if _pairs(a, b, stated, False):
            return f"likens {said.one_text} to {said.other_text}, which the sources contrast with it"
        instead = next((s.other_text if a & s.one else s.one_text for s in stated
                        if s.alike and (a & s.one or a & s.other) and not (b & s.one or b & s.other)), None)
        if instead:
            return (f"likens {said.one_text} to {said.other_text}: the sources liken it to {instead}, and never "
                    f"to {said.other_text}")
    return ""
