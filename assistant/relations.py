"""Rules about how statements relate, read with no model: which way a conversion runs, and whether a
cause-and-effect link the answer draws is one the sources draw.

Both catch the same habit of a small model: every word of a claim comes from the sources, but the relation
between them is its own (a conversion turned around, two facts from different passages joined by "which
leads to"). :mod:`assistant.verify` runs them on every clause.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.chunking import split_sentences
from assistant.lexicon import tokenize
from assistant.syntax import NEGATORS, SUBJECT, parse

MIN_PART_WORDS = 3  # a side of a link needs this many content words to be judged
#: a citation mark of the answer, "[2]" or "[1, 3]" or "[1-3]"
CITE_MARK = re.compile(r"\s*\[\d+(?:\s*[,–-]\s*\d+)*\]")


def sentences(text: str) -> list[str]:
    """The text's sentences, stripped, empty ones left out."""
    return [text[s:e].strip() for s, e in split_sentences(text) if text[s:e].strip()]

_PHRASE = r"([^.;:()]{2,80}?)"
#: (pattern, whether group 1 is the source of the conversion): "converting A into B", "conversion of A to B",
#: "A is converted to B", "B conversion from A", "A-to-B conversion"
_END = r"(?=[,.;)]|\s+(?:and|which|by|in|while|whereas|so)\b|$)"
_CONVERSIONS = (
    (re.compile(rf"\bconver(?:t|ts|ting|sion of)\s+{_PHRASE}\s+(?:in)?to\s+{_PHRASE}{_END}", re.I), True),
    (re.compile(rf"\b{_PHRASE}\s+(?:is|are|gets?|being)\s+(?:\w+ly\s+)?converted\s+(?:in)?to\s+{_PHRASE}{_END}",
                re.I), True),
    (re.compile(rf"\b(\w+(?:\s+\w+)?)\s+conversion\s+from\s+{_PHRASE}{_END}", re.I), False),
    (re.compile(r"\b([\w-]+)-to-([\w-]+)\s+conversion", re.I), True),
)


def conversions(text: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """(what is converted, what it becomes) of each conversion the text states, as sets of index terms."""
    out = []
    for pattern, forward in _CONVERSIONS:
        for m in pattern.finditer(text):
            a, b = (m.group(1), m.group(2)) if forward else (m.group(2), m.group(1))
            ta, tb = frozenset(tokenize(a)) - _NOT_A_THING, frozenset(tokenize(b)) - _NOT_A_THING
            if ta and tb and not ta & tb:
                out.append((ta, tb))
    return out


_NOT_A_THING = frozenset(tokenize("including such like e.g. certain some circulating portion levels level"))


def reversed_conversion(claim: str, stated: Sequence[tuple[frozenset[str], frozenset[str]]]) -> str:
    """Why the claim states a conversion the wrong way round ("" if it does not).

    Why: a 1.5B model wrote "aromatase, which is responsible for converting estrogen to testosterone" above a
    passage saying "converting androgens, including testosterone, into estrogens". Neither the attribution
    check (the same agent, aromatase, does the converting) nor the echo check sees a direction; and the
    passages the model read that time stated no conversion at all (it wrote from its own memory), so
    ``stated`` holds the passages' conversions and those the whole corpus states (read with the attribution
    checker). The claim is removed only when the sources state the opposite direction and never the claim's.
    """
    for a, b in conversions(claim):
        same = any(a & sa and b & sb for sa, sb in stated)
        opposite = next(((sa, sb) for sa, sb in stated if a & sb and b & sa), None)
        if opposite and not same:
            return (f"turns a conversion the sources state around: they convert {' '.join(sorted(opposite[0]))} "
                    f"into {' '.join(sorted(opposite[1]))}, not the other way")
    return ""


#: a clause that joins two statements as cause and effect
_LINK = re.compile(r",?\s+(?:which|this|and this|that)\s+(?:in turn\s+|then\s+)?(?:leads?|led|results?|resulted)\s+"
                   r"(?:to|in)\b|,?\s+which is why\b|\s+because\s+(?:of\s+)?|,?\s+as a result\b", re.I)
#: share of a part's content words a source sentence must hold to be where the model took that part from
LINK_SUPPORT = 0.6


def best_sentence(words: set[str], sentences: Sequence[tuple[int, int, set[str]]]) -> tuple[float, int, int]:
    best = (0.0, -1, -1)
    for n, k, have in sentences:
        share = len(words & have) / len(words)
        if share > best[0]:
            best = (share, n, k)
    return best


def link_head(claim: str, passages: Sequence[str]) -> str:
    """What the claim says before its cause-and-effect link ("hMG contains both FSH and LH activity" of "...,
    which is why it is used with hCG"), if one source sentence holds every content word of it; else "".

    Why every word: a head that is the model's own ("Anastrozole is stronger than Clomiphene, because ...")
    must not survive its link's removal on the strength of two drug names.
    """
    m = _LINK.search(claim)
    if not m:
        return ""
    head = claim[: m.start()].strip(" ,;")
    words = set(tokenize(head))
    if len(words) < MIN_PART_WORDS:
        return ""
    held = any(words <= set(tokenize(t)) for p in passages for t in sentences(p))
    return head if held else ""


def invented_link(claim: str, passages: Sequence[str]) -> str:
    """Why the claim's "X, which leads to Y" / "X because Y" / "X, which is why Y" joins two statements the
    sources never join ("" if it does not, or if either side is not taken from them).

    Why: the model strings together sentences from different places: "FSH directly stimulates Sertoli cells
    ..., which in turn leads to an increase in endogenous LH and FSH" (the second half is what lowering
    estrogen does, in another passage); "hMG contains both FSH and LH activity, which is why it is used in
    combination with hCG" (the second half is a table cell about rFSH). Each half is the sources' own, the
    link is the model's. A link is grounded when both halves come from one sentence or two adjacent ones
    (the second may say "This imbalance ..." of the first).
    """
    m = _LINK.search(claim)
    if not m:
        return ""
    head, tail = set(tokenize(claim[: m.start()])), set(tokenize(claim[m.end():]))
    if len(head) < MIN_PART_WORDS or len(tail) < MIN_PART_WORDS:
        return ""
    sents = [(n, k, set(tokenize(t))) for n, p in enumerate(passages) for k, t in enumerate(sentences(p))]
    h_share, hn, _ = best_sentence(head, sents)
    t_share, tn, _ = best_sentence(tail, sents)
    if h_share < LINK_SUPPORT or t_share < LINK_SUPPORT:
        return ""  # a half the model wrote in its own words: no opinion
    for n, k, have in sents:  # one sentence, or two adjacent ones, holding both halves
        near = have | next((w for n2, k2, w in sents if n2 == n and k2 == k + 1), set())
        if len(head & near) / len(head) >= LINK_SUPPORT and len(tail & near) / len(tail) >= LINK_SUPPORT:
            return ""
    return (f"joins two statements the sources make apart (passage {hn + 1} and passage {tn + 1}, not one "
            f"sentence or two adjacent ones) as cause and effect: the link is the model's")


#: verbs that move an amount up or down (their lemmas); a negation turns the direction around
_UP = frozenset({"increase", "raise", "boost", "elevate", "enhance", "heighten", "amplify", "promote", "stimulate"})
_DOWN = frozenset({"reduce", "lower", "decrease", "suppress", "inhibit", "block", "diminish", "lessen", "cut",
                   "impair", "dampen", "drop", "limit", "curb"})
#: nouns that name an amount of something ("estrogen levels", "production of LH"): the something is what moves
_AMOUNT = frozenset({"level", "amount", "concentration", "production", "secretion", "release", "activity",
                     "output", "synthesis"})
#: a change: (who changes it, what it changes, +1 up / -1 down), each side a set of index terms
Change = tuple[frozenset[str], frozenset[str], int]


def name_terms(tok) -> frozenset[str]:
    """A noun with the words that make its name ("Leydig cells", "estrogen receptors"), as index terms."""
    parts = [c for c in tok.children if c.dep_ in ("compound", "poss") and c.i < tok.i] + [tok]
    return frozenset(tokenize(" ".join(t.text for t in parts)))


def _what(obj) -> list[frozenset[str]]:
    """The things an object names: "estrogen levels" -> estrogen, "production of LH" -> LH, "LH and FSH
    production" -> both."""
    out = []
    for tok in [obj, *obj.conjuncts]:
        if tok.lemma_.lower() in _AMOUNT:
            inner = [c for c in tok.children if c.dep_ in ("compound", "poss", "nmod") and c.i < tok.i]
            inner += [g for c in tok.children if c.dep_ == "prep" and c.lower_ == "of" for g in c.children
                      if g.dep_ == "pobj"]
            out.extend(name_terms(t) for i in inner for t in [i, *i.conjuncts])
        else:
            out.append(name_terms(tok))
    return [w for w in out if w]


def doer_of(verb):
    """Who does what a verb says: its subject, the noun a relative clause hangs on, or, for a verb without a
    subject of its own ("By reducing estrogen levels, Anastrozole lessens ..."), the governing verb's doer."""
    seen = 0
    while verb is not None and seen < 6:
        subj = [c for c in verb.children if c.dep_ in SUBJECT and c.dep_ != "nsubjpass"]
        if subj:
            return subj[0]
        agent = [g for c in verb.children if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"]
        if agent:
            return agent[0]
        if verb.dep_ == "relcl":
            return verb.head
        if verb.head is verb:
            return None
        verb, seen = verb.head, seen + 1
    return None


def changes(text: str) -> list[Change]:
    """Each "X raises/lowers Y" the text states, read from its parse (passive and relative clauses too)."""
    out = []
    for verb in parse(text):
        lemma = verb.lemma_.lower()
        if verb.pos_ != "VERB" or lemma not in _UP | _DOWN:
            continue
        sign = 1 if lemma in _UP else -1
        if any(c.dep_ == "neg" or c.lower_ in NEGATORS for c in verb.children):
            sign = -sign
        passive = [c for c in verb.children if c.dep_ == "nsubjpass"]
        objects = [c for c in verb.children if c.dep_ in ("dobj", "obj")] + passive
        doer = doer_of(verb)
        if doer is None or not objects:
            continue
        named = [doer, *doer.conjuncts, *(c for c in doer.children if c.dep_ == "appos")]  # "hCG" in "... (hCG)"
        who = frozenset().union(*(name_terms(t) for t in named))
        for what in (w for o in objects for w in _what(o)):
            if who and not who & what:
                out.append((who, what, sign))
    return out


def reversed_change(claim: str, stated: Sequence[Change]) -> str:
    """Why the claim moves an amount the opposite way from the sources ("" if it does not).

    Why: asked "Anastrozole raises estrogen, right?", the model wrote "Anastrozole raises estrogen." above a
    quote saying "By reducing estrogen levels, Anastrozole ...". Every word is the sources'; only the
    direction is the model's. The claim goes when the sources say the same doer moves the same thing the
    other way and never the claim's way.
    """
    for who, what, sign in changes(CITE_MARK.sub("", claim)):
        same = any(who & w and _same_thing(what, t) and s == sign for w, t, s in stated)
        opposite = next(((w, t) for w, t, s in stated if who & w and _same_thing(what, t) and s == -sign), None)
        if opposite and not same:
            way = "lowers" if sign == 1 else "raises"
            return (f"says the opposite of the sources: they say {' '.join(sorted(opposite[0]))} {way} "
                    f"{' '.join(sorted(opposite[1]))}")
    return ""


def _same_thing(a: frozenset[str], b: frozenset[str]) -> bool:
    """The same name, or one name of several words within another ("Leydig cells" in "Leydig cells within the
    testes"); a one-word name is never matched inside a longer one: "estrogen" is not "estrogen receptors",
    and "cells" does not say which cells."""
    return bool(a) and bool(b) and (a <= b or b <= a) and (len(a) > 1) == (len(b) > 1) if a != b else bool(a)



#: words that relate the thing before them to another: a combination, a comparison, a substitution
_RELATING = re.compile(r"\b(?:alongside|together with|combined with|in combination with|along with|than|versus|vs\.?|"
                       r"instead of|rather than|compared (?:with|to)|unlike|like)\s+(?:the\s+|a\s+|an\s+)?"
                       r"([A-Za-z][\w-]*)", re.I)


def self_related(claim: str, key: Callable[[str], str | None]) -> str:
    """Why the claim combines or compares a named thing with itself ("" if it does not).

    Why: asked "what do they give alongside hcg to get full sperm production going", the model wrote "hCG is
    given alongside hCG to get full sperm production going": every word is the question's or the sources',
    and no check of who does what objects to a drug given with itself. ``key(word)`` is the word's named
    thing (its canonical name) or None.
    """
    text = CITE_MARK.sub("", claim)
    for m in _RELATING.finditer(text):
        other = key(m.group(1))
        before = [k for k in (key(w) for w in re.findall(r"[A-Za-z][\w-]*", text[: m.start()])) if k]
        if other and before and before[0] == other:
            return f"relates {m.group(1)} to itself (“{m.group(0).strip()}” after {before[0]})"
    return ""
