"""Judge-free correctness: the answer states the key facts and nothing the sources contradict.

Each answerable turn of a case carries ``must``, groups of acceptable phrasings
of its key facts (regular expressions; any one per group must match), and
``must_not``, statements that contradict the sources (a swapped drug, cell or
direction, an adopted false premise). ``must`` is matched against the whole
answer; ``must_not`` against each clause on its own, so "unlike clomiphene,
which binds receptors, anastrozole blocks production" does not count as
"anastrozole ... binds receptors".

Why no judge: the answer path now checks its own claims with the local model,
so a metric judged by that model would no longer measure the answer alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_SPACE = re.compile(r"\s+")
_CLAUSE_BREAK = re.compile(r"[.;:!?]\s+|[.;:!?]$|\n+|\s+(?=(?:while|whereas|but|unlike|however)\b)", re.I)
_QUOTE_MARKS = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text.translate(_QUOTE_MARKS)).strip()


def clauses(text: str) -> list[str]:
    """The answer cut at sentence ends and before contrast words: the unit a ``must_not`` must fit in."""
    return [c.strip() for c in _CLAUSE_BREAK.split(normalise(text)) if c and c.strip()]


@dataclass
class Correctness:
    correct: bool
    missing: list[list[str]] = field(default_factory=list)  # must groups with no matching phrasing
    contradicted: list[str] = field(default_factory=list)  # must_not patterns found, with the clause

    def reasons(self) -> str:
        parts = [f"missing one of {g}" for g in self.missing]
        parts += [f"contradicts: {c}" for c in self.contradicted]
        return "; ".join(parts) or "key facts present, nothing contradicting"


def check(answer: str, must: Sequence[Sequence[str]], must_not: Sequence[str]) -> Correctness:
    text = normalise(answer)
    missing = [list(group) for group in must if not any(re.search(p, text, re.I) for p in group)]
    contradicted = [
        f"{p!r} in “{c}”" for p in must_not for c in clauses(answer) if re.search(p, c, re.I)
    ]
    return Correctness(not missing and not contradicted, missing, contradicted)


def validate(must: object, must_not: object, where: str) -> list[str]:
    """Problems with a turn's ``must``/``must_not`` (shape, and patterns that do not compile)."""
    problems: list[str] = []
    if not isinstance(must, list) or not all(isinstance(g, list) and g for g in must):
        problems.append(f"{where}: 'must' must be a list of non-empty lists of patterns")
        must = []
    if not isinstance(must_not, list):
        problems.append(f"{where}: 'must_not' must be a list of patterns")
        must_not = []
    for p in [p for g in must for p in g] + list(must_not):
        try:
            re.compile(p)
        except (re.error, TypeError) as exc:
            problems.append(f"{where}: bad pattern {p!r}: {exc}")
    return problems
