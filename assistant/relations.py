"""Rules about how statements relate, read with no model: which way a conversion runs, and whether a
cause-and-effect link the answer draws is one the sources draw.

Both catch the same habit of a small model: every word of a claim comes from the sources, but the relation
between them is its own (a conversion turned around, two facts from different passages joined by "which
leads to"). :mod:`assistant.verify` runs them on every clause.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.chunking import split_sentences
from assistant.lexicon import tokenize

MIN_PART_WORDS = 3  # a side of a link needs this many content words to be judged


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


def _best_sentence(words: set[str], sentences: Sequence[tuple[int, int, set[str]]]) -> tuple[float, int, int]:
    best = (0.0, -1, -1)
    for n, k, have in sentences:
        share = len(words & have) / len(words)
        if share > best[0]:
            best = (share, n, k)
    return best


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
    h_share, hn, _ = _best_sentence(head, sents)
    t_share, tn, _ = _best_sentence(tail, sents)
    if h_share < LINK_SUPPORT or t_share < LINK_SUPPORT:
        return ""  # a half the model wrote in its own words: no opinion
    for n, k, have in sents:  # one sentence, or two adjacent ones, holding both halves
        near = have | next((w for n2, k2, w in sents if n2 == n and k2 == k + 1), set())
        if len(head & near) / len(head) >= LINK_SUPPORT and len(tail & near) / len(tail) >= LINK_SUPPORT:
            return ""
    return (f"joins two statements the sources make apart (passage {hn + 1} and passage {tn + 1}, not one "
            f"sentence or two adjacent ones) as cause and effect: the link is the model's")
