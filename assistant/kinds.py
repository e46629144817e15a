"""Which names the sources say are a kind of which: "This medication [Clomiphene] is a SERM", "SERMs like
Tamoxifen and Clomid", "As another SERM, Tamoxifen ...", "Anastrozole, an aromatase inhibitor, ...".

The attribution check (:mod:`assistant.attribution`) lets a claim about a class stand on what the sources say
of a member, and the other way round; these pairs are read with a :class:`~assistant.reading.Reader`'s names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from assistant.reading import modified, paragraphs
from assistant.syntax import SUBJECT, parse, split_table

if TYPE_CHECKING:
    from assistant.reading import Reader

# the words of "X is a Y", "Ys like / such as / including X", "as another Y", "X, a Y"
_KIND_CUE = re.compile(r"\b(?:is|are|was|were|like|such as|including|as)\b|,\s+(?:an?|another)\s", re.I)


def kinds(reader: Reader, texts: Iterable[str]) -> set[frozenset[str]]:
    """Pairs of names the texts say are one a kind of the other: "This medication [Clomiphene] is a SERM",
    "SERMs like Tamoxifen and Clomid", "As another SERM, Tamoxifen ...", "Anastrozole, an aromatase
    inhibitor, ...".

    Why: a claim about the class ("SERMs block estrogen feedback") is not misattributed when the sources
    say it of a member (Clomiphene), nor the other way round. Not transitive: two members of one class
    (Clomiphene and Tamoxifen) stay two agents.
    """
    pairs: set[frozenset[str]] = set()
    for text in texts:
        pairs |= _kinds_of(reader, text)
    return pairs


def _kinds_of(reader: Reader, text: str) -> frozenset[frozenset[str]]:
    """One text's pairs, remembered (a passage retrieved again is not parsed again); only paragraphs with
    a word that can say "a kind of" are parsed."""
    cached = reader.kin_cache.get(text)
    if cached is not None:
        return cached
    pairs: set[frozenset[str]] = set()
    prose, _ = split_table(reader.abbreviate(text))
    for para in (p for p in paragraphs(prose) if _KIND_CUE.search(p)):
        label = reader.label(para)
        for t in parse(para):
            if t.pos_ not in ("NOUN", "PROPN"):
                continue
            kind = _kind(reader, t)
            for member in _members(reader, t, label):
                if kind and member and kind != member:
                    pairs.add(frozenset((kind, member)))
    reader.kin_cache[text] = out = frozenset(pairs)
    return out


def _kind(reader: Reader, t) -> str | None:
    """The name of the class a noun names: a term ("SERM"), or a phrase the corpus defines ("aromatase
    inhibitor" ~ "Aromatase Inhibitors (AIs)"); not the first technical word of a phrase ("aromatase" in
    "aromatase inhibitor"), which would make the drug a kind of the enzyme it blocks."""
    _, name = modified(t, ("compound", "amod"))
    for form in (name, name + "s", name.rstrip("s")):
        if form in reader.aliases:
            return reader.aliases[form]
    return reader.canonical(t.text) if reader.token_term(t) else None


def _members(reader: Reader, t, label: str | None) -> Iterable[str | None]:
    """The names ``t`` is said to be the kind of: "X is a t", "X, a t", "ts like/such as/including X",
    "As (another) t, X ..."."""
    if t.dep_ == "attr" and t.head.lemma_ == "be":
        yield from (reader.key(s, label) for s in t.head.children if s.dep_ in SUBJECT)
    if t.dep_ == "appos":
        yield reader.key(t.head, label)
    for prep in (c for c in t.children if c.dep_ == "prep"):
        named = prep.lower_ in ("like", "including") or (
            prep.lower_ == "as" and any(c.lower_ == "such" for c in prep.children))
        if named:
            for obj in (c for c in prep.children if c.dep_ == "pobj"):
                yield from (reader.key(o, label) for o in (obj, *obj.conjuncts))
    if t.dep_ == "pobj" and t.head.lower_ == "as" and t.head.head.pos_ in ("VERB", "AUX"):
        yield from (reader.key(s, label) for s in t.head.head.children if s.dep_ in SUBJECT)
