"""Okapi BM25 as an inverted index over numpy postings (k1=1.5, b=0.75, the rank-bm25 formula).

Why not rank-bm25: scoring here touches only the postings of the query's terms, which keeps a query under a
few milliseconds at 100,000 chunks, where rank-bm25's per-document Python loop does not. Words become index
terms in :mod:`assistant.lexicon`, shared with the guards that must agree with the index on what counts as
the same word.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from assistant.lexicon import american_spelling, tokenize


class BM25Index:
    """Okapi BM25 over the snapshot's chunk texts, as index terms of :func:`assistant.lexicon.tokenize`."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25) -> None:
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            toks = tokenize(text)
            lengths[i] = len(toks)
            for tok, tf in Counter(toks).items():
                postings[tok].append((i, tf))
        n = max(len(texts), 1)
        avgdl = float(lengths.mean()) if len(texts) else 1.0
        norm = k1 * (1 - b + b * lengths / max(avgdl, 1e-9))
        idf = {t: math.log(n - len(p) + 0.5) - math.log(len(p) + 0.5) for t, p in postings.items()}
        floor = epsilon * (sum(idf.values()) / len(idf)) if idf else 0.0
        self.n = len(texts)
        self._df = {t: len(p) for t, p in postings.items()}
        self._docs: dict[str, np.ndarray] = {}
        self._prefixes: set[str] | None = None
        self._weights: dict[str, np.ndarray] = {}
        for tok, plist in postings.items():
            docs = np.fromiter((d for d, _ in plist), dtype=np.int64, count=len(plist))
            tf = np.fromiter((f for _, f in plist), dtype=np.float32, count=len(plist))
            w = idf[tok] if idf[tok] > 0 else floor
            self._docs[tok] = docs
            self._weights[tok] = (w * tf * (k1 + 1) / (tf + norm[docs])).astype(np.float32)

    def search(self, query: str, k: int) -> tuple[np.ndarray, list[tuple[int, float]]]:
        """Scores of every document (zeros where no query term occurs) and the ``k`` best (index, score)."""
        acc = np.zeros(self.n, dtype=np.float32)
        matched = False
        for tok in set(tokenize(query)):
            docs = self._docs.get(tok)
            if docs is None:
                continue
            acc[docs] += self._weights[tok]
            matched = True
        if not matched:
            return acc, []
        cand = np.flatnonzero(acc)  # one linear scan; cheaper than merging long postings lists
        vals = acc[cand]
        if k < len(cand):
            part = np.argpartition(-vals, k - 1)[:k]
            order = part[np.argsort(-vals[part], kind="stable")]
        else:
            order = np.argsort(-vals, kind="stable")
        return acc, [(int(cand[i]), float(vals[i])) for i in order]

    def has_term(self, term: str) -> bool:
        """Whether the corpus has ``term`` or a word sharing its first five letters ("predicts" ~ "predictor"),
        in either British or American spelling ("oestrogen" ~ "estrogen", "favoured" ~ "favorable")."""
        if self._prefixes is None:
            self._prefixes = {t[:5] for t in self._docs if len(t) >= 5}
        for t in dict.fromkeys((term, american_spelling(term))):
            if t in self._docs or (len(t) >= 5 and t[:5] in self._prefixes):
                return True
        return False

    def rarity(self, word: str) -> float:
        """A smooth idf, log(1 + n / df), of a word's index term: always positive, highest for unseen words."""
        toks = tokenize(word)
        df = self._df.get(toks[0], 0) if toks else 0
        return math.log(1 + self.n / df) if df else math.log(1 + max(self.n, 1))

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """Only the ``k`` best (index, score), for callers that do not fuse with the full score vector."""
        return self.search(query, k)[1]
