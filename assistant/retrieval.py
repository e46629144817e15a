"""Hybrid retrieval: dense (Chroma) + BM25, fused by weighted reciprocal rank.

Why hybrid: drug names, abbreviations (T:E2, hCG, ITT) and study names are
exact tokens that embeddings blur; BM25 catches them, embeddings catch
paraphrase. Why few passages: every context token costs the CPU model time.

BM25 is an inverted index over numpy postings (Okapi, k1=1.5, b=0.75, the
rank-bm25 formula): scoring touches only the postings of the query's terms,
which keeps a query under a few milliseconds at 100,000 chunks, where
rank-bm25's per-document Python loop does not.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from assistant.chunking import Chunk
from assistant.embeddings import LocalEmbeddings
from assistant.settings import Settings
from assistant.store import Store

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z0-9]+(?:[-:][a-z0-9]+)*")
STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have how i if in
    into is it its me my of on or our should so than that the their them then there these they this those to
    was we were what when where which who whom why will with would you your about also any such may might
    more most other some very one ones""".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stopwords; a crude plural strip helps 'inhibitors' ~ 'inhibitor'."""
    out = []
    for tok in _TOKEN.findall(text.lower().replace("’", "'")):
        if tok in STOPWORDS:
            continue
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
        if "-" in tok:  # 'post-trt' also matches 'trt'
            out.extend(p for p in tok.split("-") if p and p not in STOPWORDS)
    return out


class BM25Index:
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
        self._docs: dict[str, np.ndarray] = {}
        self._weights: dict[str, np.ndarray] = {}
        for tok, plist in postings.items():
            docs = np.fromiter((d for d, _ in plist), dtype=np.int64, count=len(plist))
            tf = np.fromiter((f for _, f in plist), dtype=np.float32, count=len(plist))
            w = idf[tok] if idf[tok] > 0 else floor
            self._docs[tok] = docs
            self._weights[tok] = (w * tf * (k1 + 1) / (tf + norm[docs])).astype(np.float32)

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        scores: dict[int, float] = {}
        acc = np.zeros(self.n, dtype=np.float32) if self.n else None
        touched: list[np.ndarray] = []
        for tok in set(tokenize(query)):
            docs = self._docs.get(tok)
            if docs is None or acc is None:
                continue
            acc[docs] += self._weights[tok]
            touched.append(docs)
        if not touched or acc is None:
            return []
        cand = np.unique(np.concatenate(touched))
        vals = acc[cand]
        order = np.argsort(-vals, kind="stable")[:k]
        scores = {int(cand[i]): float(vals[i]) for i in order}
        return sorted(scores.items(), key=lambda kv: -kv[1])


@dataclass(frozen=True)
class Retrieved:
    chunk: Chunk
    score: float  # fused score
    dense: float | None  # cosine similarity, if the chunk was a dense candidate
    bm25: float | None


class HybridRetriever(BaseRetriever):
    """LangChain retriever returning ``top_k`` fused passages with their scores in metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Store
    embeddings: LocalEmbeddings
    settings: Settings
    _bm25: BM25Index | None = PrivateAttr(default=None)
    _chunks: list[Chunk] = PrivateAttr(default_factory=list)
    _by_id: dict[str, int] = PrivateAttr(default_factory=dict)
    _count: int = PrivateAttr(default=-1)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def refresh(self) -> None:
        """(Re)build the BM25 index when the store's chunk count changed."""
        with self._lock:
            count = self.store.count()
            if count == self._count and self._bm25 is not None:
                return
            t0 = time.perf_counter()
            self._chunks = self.store.all_chunks()
            self._by_id = {c.id: i for i, c in enumerate(self._chunks)}
            self._bm25 = BM25Index([c.embed_text() for c in self._chunks])
            self._count = count
            log.debug("BM25 index over %d chunks built in %.2fs", count, time.perf_counter() - t0)

    def retrieve(self, query: str, k: int | None = None) -> list[Retrieved]:
        self.refresh()
        s = self.settings
        k = k or s.top_k
        dense = self.store.query(self.embeddings.embed_query(query), s.candidate_k)
        assert self._bm25 is not None
        sparse = self._bm25.top(query, s.candidate_k)
        fused: dict[str, float] = defaultdict(float)
        dense_sim: dict[str, float] = {}
        bm25_score: dict[str, float] = {}
        for rank, (cid, sim) in enumerate(dense):
            fused[cid] += s.dense_weight / (s.rrf_k + rank + 1)
            dense_sim[cid] = sim
        for rank, (idx, score) in enumerate(sparse):
            cid = self._chunks[idx].id
            fused[cid] += s.bm25_weight / (s.rrf_k + rank + 1)
            bm25_score[cid] = score
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        missing = [cid for cid, _ in best if cid not in self._by_id]
        extra = {c.id: c for c in self.store.get_chunks(missing)} if missing else {}
        out = []
        for cid, score in best:
            chunk = self._chunks[self._by_id[cid]] if cid in self._by_id else extra.get(cid)
            if chunk is not None:
                out.append(Retrieved(chunk, score, dense_sim.get(cid), bm25_score.get(cid)))
        return out

    def best_similarity(self, query: str) -> float:
        hits = self.store.query(self.embeddings.embed_query(query), 1)
        return hits[0][1] if hits else 0.0

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None
    ) -> list[Document]:
        return [
            Document(
                page_content=r.chunk.text,
                id=r.chunk.id,
                metadata={
                    "id": r.chunk.id,
                    "source": r.chunk.source,
                    "section": r.chunk.section,
                    "start": r.chunk.start,
                    "end": r.chunk.end,
                    "ref_keys": list(r.chunk.ref_keys),
                    "score": r.score,
                    "dense": r.dense,
                    "bm25": r.bm25,
                },
            )
            for r in self.retrieve(query)
        ]
