"""Matching retrieved text against gold passages: shared by the eval runner and bench/retrieval.py."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.quotes import normalise


def contains_gold(text: str, gold: Sequence[str]) -> bool:
    hay = normalise(text)[0]
    return any(normalise(g)[0] in hay for g in gold)


def retrieval_scores(contexts: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """hit@1, hit@3 and reciprocal rank of the first context holding a gold passage ({} without gold)."""
    if not gold:
        return {}
    ranks = [i for i, c in enumerate(contexts) if contains_gold(c, gold)]
    first = ranks[0] if ranks else None
    return {
        "hit@1": float(first == 0),
        "hit@3": float(first is not None and first < 3),
        "mrr": 1.0 / (first + 1) if first is not None else 0.0,
    }
