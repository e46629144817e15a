"""Context pruning: send the model the sentences of each passage that bear on the question.

Why: on 2 CPU cores the 1.5B model reads its prompt at about 40 tokens/s
(measured on this machine, llama.cpp AVX2 build), so the passages decide the
time to first token: three whole passages are 220-320 tokens, 6-9 s. Most
passages are 3-4 sentences of which one or two answer the question; the rest
costs seconds and gives the model more to misread.

How: every sentence of the retrieved passages is embedded with the same model
as the chunks and scored by cosine similarity with the (resolved) question.
Each passage keeps its best sentence; then the best remaining sentences of
any passage are added while the total stays within ``budget_chars``. A kept
sentence that opens with a pronoun ("This reduction...") brings the sentence
before it, or it would be read without its subject. Kept sentences stay in
document order and are exact slices of the chunk text, so quotes copied from
them still verify against the chunk. Table rows and reference entries are
short and atomic: they are kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from assistant.chunking import Chunk
from assistant.passages import Shown, units, whole

_PRONOUN_START = re.compile(r"^(?:it|its|this|these|they|their|such|that|those|the latter|the former)\b", re.I)


def prune(
    chunks: Sequence[Chunk],
    query_vector: Sequence[float],
    embed: Callable[[list[str]], list[list[float]]],
    budget_chars: int,
) -> list[Shown]:
    """The sentences of ``chunks`` to show, within ``budget_chars`` (each passage keeps at least one)."""
    per = [units(c) for c in chunks]
    total = sum(len(u) + 1 for us in per for u in us)
    if total <= budget_chars:
        return whole(chunks)
    flat = [(i, j) for i, us in enumerate(per) for j in range(len(us))]
    vecs = np.asarray(embed([per[i][j] for i, j in flat]), dtype=np.float32)
    q = np.asarray(query_vector, dtype=np.float32)
    sims = vecs @ q / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(q) + 1e-9)
    score = {ij: float(s) for ij, s in zip(flat, sims, strict=True)}
    keep: set[tuple[int, int]] = set()
    used = 0

    def add(i: int, j: int, force: bool) -> None:
        nonlocal used
        wanted = [(i, j)]
        if j > 0 and _PRONOUN_START.match(per[i][j]):
            wanted.insert(0, (i, j - 1))
        new = [ij for ij in wanted if ij not in keep]
        cost = sum(len(per[a][b]) + 1 for a, b in new)
        if new and (force or used + cost <= budget_chars):
            keep.update(new)
            used += cost

    for i, us in enumerate(per):  # every passage keeps its best sentence: retrieval chose it for a reason
        add(i, max(range(len(us)), key=lambda j, i=i: score[(i, j)]), force=True)
    for i, j in sorted(flat, key=lambda ij: -score[ij]):
        add(i, j, force=False)
    return [Shown(c, tuple(u for j, u in enumerate(per[i]) if (i, j) in keep)) for i, c in enumerate(chunks)]
