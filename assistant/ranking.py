"""Rules over a ranked list of chunks, apart from how each is scored: which chunk neighbours which, whether a
passage is about a named thing, and where reference-list entries may stand.

Why apart from :mod:`assistant.retrieval`: they are pure functions of the chunks (no store, no model), each
tested on hand-made chunks, and the retriever only calls them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from assistant.chunking import Chunk, split_sentences

#: (fused score, snapshot position or an id newer than the snapshot, cosine): one candidate of a ranking
Ranked = tuple[float, int | str, float | None]


def _named(word: str) -> re.Pattern[str]:
    """A word at a word's start, its plural's "s" dropped: "SERMs" in a question is "another SERM," in a
    passage (the prefix match covers the plural itself)."""
    stem = word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
    return re.compile(rf"\b{re.escape(stem)}", re.I)


def names(chunk: Chunk, word: str) -> bool:
    """The passage is about ``word``: it names it in its first sentence (a list item's or table row's label
    included), not only in passing further on."""
    spans = split_sentences(chunk.text)
    head = chunk.text[: spans[0][1]] if spans else chunk.text
    return _named(word).search(head) is not None


def mentions(chunk: Chunk, word: str) -> bool:
    """The passage names ``word`` anywhere (``names``: in its first sentence)."""
    return _named(word).search(chunk.text) is not None


def entries_placed(ranked: list[Ranked], chunks: Sequence[Chunk], k: int, literature: bool) -> list[Ranked]:
    """``ranked`` without reference-list entries, or (``literature``) with the best entry moved up to the
    ``k``-th place if none is above it. Dense hits newer than the snapshot (ids, kind unknown) stay."""

    def entry(key: int | str) -> bool:
        return not isinstance(key, str) and chunks[key].kind == "reference"

    if not literature:
        return [t for t in ranked if not entry(t[1])]
    first = next((i for i, t in enumerate(ranked) if entry(t[1])), None)
    if first is None or first < k or k < 1:
        return ranked
    return [*ranked[: k - 1], ranked[first], *ranked[k - 1 : first], *ranked[first + 1 :]]


def neighbours(chunks: Sequence[Chunk]) -> np.ndarray:
    """(n, 2) positions of each chunk's previous and next chunk in the same source and section; -1 if none.

    Chunks are matched by (source, index); a key held by more than one chunk
    (e.g. records written without a chunk index) links nothing.
    """
    pos: dict[tuple[str, int], int] = {}
    shared: set[tuple[str, int]] = set()
    for i, c in enumerate(chunks):
        key = (c.source, c.index)
        if key in pos:
            shared.add(key)
        pos[key] = i
    out = np.full((len(chunks), 2), -1, dtype=np.int64)
    for i, c in enumerate(chunks):
        if (c.source, c.index) in shared:
            continue
        for col, j in ((0, c.index - 1), (1, c.index + 1)):
            p = pos.get((c.source, j))
            if p is not None and (c.source, j) not in shared and chunks[p].section == c.section:
                out[i, col] = p
    return out
