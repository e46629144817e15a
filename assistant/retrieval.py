"""Hybrid retrieval: dense (Chroma) + BM25, fused on their scores, plus neighbour evidence.

Why hybrid: drug names, abbreviations (T:E2, hCG, ITT) and study names are
exact tokens that embeddings blur; BM25 catches them, embeddings catch
paraphrase. Why few passages: every context token costs the CPU model time.

Fusion: each candidate gets ``dense_weight * cosine + bm25_weight * bm25 /
best_bm25``. Unlike reciprocal rank fusion, this keeps *how much* better one
passage matches than the next: in a small corpus that repeats the same facts
at several depths, candidates are often near-ties in rank and far apart in
score. A BM25-only candidate (outside the dense top ``candidate_k``) gets the
lowest dense similarity seen, an upper bound of its own.

Neighbour evidence: a passage whose adjacent chunk in the same document
section also matches the question is more likely to be the answer than an
isolated match (a bibliography entry, a stray sentence elsewhere), so each
candidate adds ``neighbour_weight`` times the better fused score of its two
neighbours. Neighbours are found by (source, chunk index) in the BM25
snapshot; their BM25 score is exact, their dense score the same bound as above.

Follow-up questions arrive already joined with the question(s) they follow
(:func:`assistant.condense.standalone_query`) and are scored as one text.

Words become index terms in :mod:`assistant.lexicon`, shared with the guards
that must agree with the index on what counts as the same word.

BM25 is :class:`assistant.bm25.BM25Index`.
"""

from __future__ import annotations

import copy
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.bm25 import BM25Index
from assistant.chunking import Chunk
from assistant.embeddings import LocalEmbeddings
from assistant.guards import corpus_names
from assistant.lexicon import WORDS, american_spelling, corpus_spelling, tokenize, word_forms
from assistant.ranking import entries_placed, mentions, names, neighbours
from assistant.settings import RetrievalSettings
from assistant.store import Store

if TYPE_CHECKING:
    from assistant.attribution import Attributor

log = logging.getLogger(__name__)


#: up to this many chunks, the class/member statements and conversions of the whole corpus are read when the
#: checker is built (beyond, those of the passages each claim is checked against)
KIN_CORPUS_MAX_CHUNKS = 1000


@dataclass(frozen=True)
class Retrieved:
    chunk: Chunk
    score: float  # fused score (comparable within one query only)
    dense: float | None  # cosine similarity, if the chunk was a dense candidate
    bm25: float | None  # BM25 score, if any query term occurs in the chunk


class HybridRetriever:
    """The ``top_k`` fused passages of a question, over a BM25 snapshot of the store kept in memory.

    The snapshot (BM25 index, chunks, neighbours, attribution checker) is built
    lazily and rebuilt when the store's chunk count changes; it is what makes a
    retriever expensive to create, so variants share it (:meth:`with_settings`).
    """

    def __init__(self, *, store: Store, embeddings: LocalEmbeddings, settings: RetrievalSettings) -> None:
        self.store = store
        self.embeddings = embeddings
        self.settings = settings
        self._bm25: BM25Index | None = None
        self._chunks: list[Chunk] = []
        self._by_id: dict[str, int] = {}
        self._neighbours: np.ndarray = np.full((0, 2), -1, dtype=np.int64)
        self._count = -1
        self._checked = -math.inf
        self._lock = threading.Lock()
        self._attributor: tuple | None = None
        self._spelled: frozenset[str] = frozenset()  # the corpus's words as written (lower case)

    def with_settings(self, settings: RetrievalSettings) -> HybridRetriever:
        """This retriever with other settings (another ``top_k``, say), sharing the current snapshot.

        Why a shallow copy: a new retriever would rebuild the BM25 index and the
        attribution checker (seconds) on its first question. Each copy replaces
        its snapshot on its own next refresh; the lock is shared too, which only
        serialises the copies' refreshes.
        """
        other = copy.copy(self)
        other.settings = settings
        return other

    def refresh(self) -> None:
        """(Re)build the BM25 index when the store's chunk count changed."""
        with self._lock:
            self._checked = time.monotonic()
            count = self.store.count()
            if count == self._count and self._bm25 is not None:
                return
            t0 = time.perf_counter()
            chunks = self.store.all_chunks()
            self._bm25 = BM25Index([c.embed_text() for c in chunks])
            self._by_id = {c.id: i for i, c in enumerate(chunks)}
            self._neighbours = neighbours(chunks)
            self._spelled = frozenset(w for c in chunks for w in WORDS.findall(c.text.lower()))
            self._chunks = chunks
            self._count = count
            log.debug("BM25 index over %d chunks built in %.2fs", count, time.perf_counter() - t0)

    def retrieve(self, query: str, k: int | None = None, literature: bool | None = None) -> list[Retrieved]:
        """The ``k`` (default ``top_k``) best passages, best first; fewer if ``max_score_gap`` drops some.

        ``literature``: whether the question asks about the cited works themselves
        (:mod:`assistant.literature`). False leaves reference-list entries out (a title answers no other
        question, yet matches its topic better than any passage); True gives the best entry a place among
        the first ``top_k`` (what the model reads, also when more are asked for); None ranks entries like
        any passage.
        """
        s = self.settings
        if self._bm25 is None or time.monotonic() - self._checked >= s.refresh_interval_s:
            self.refresh()  # a count query: ~13 ms at 100,000 chunks, so not on every question
        k = k or s.top_k
        with self._lock:  # one consistent snapshot, even if another thread refreshes meanwhile
            bm25, chunks, by_id, nbrs = self._bm25, self._chunks, self._by_id, self._neighbours
        assert bm25 is not None
        dense = self._dense(self.embeddings.embed_query(self.corpus_spelling(query)), min(s.candidate_k, len(chunks)))
        acc, sparse = bm25.search(query, s.candidate_k)
        ranked = self._score_fusion(dense, acc, sparse, by_id, nbrs)
        if literature is not None:
            ranked = entries_placed(ranked, chunks, min(k, s.top_k), literature)
        best = ranked[:k]
        if s.max_score_gap is not None and best:
            best = [t for t in best if best[0][0] - t[0] <= s.max_score_gap]
        missing = [key for _, key, _ in best if isinstance(key, str)]
        extra = {c.id: c for c in self.store.get_chunks(missing)} if missing else {}
        out = []
        for score, key, sim in best:
            if isinstance(key, str):
                chunk, bm = extra.get(key), None
            else:
                chunk, bm = chunks[key], (float(acc[key]) if acc[key] > 0 else None)
            if chunk is not None:
                out.append(Retrieved(chunk, score, sim, bm))
        return out

    def retrieve_covering(self, query: str, terms: Sequence[tuple[str, str]], k: int | None = None,
                          literature: bool | None = None) -> list[Retrieved]:
        """Like :meth:`retrieve`, but every named thing in the question gets a passage that is about it.

        ``terms`` are (canonical name, word as written) of the named things in
        the question, in order. Why: for "How does anastrozole differ from
        clomiphene?" the three best passages by score were all about clomiphene
        (one mentions anastrozole in passing), so the model had nothing to say
        about anastrozole but a subordinate clause it then misread; and for
        "What exactly is gonadorelin and how is it given in these protocols?"
        three passages about protocols outranked the one about gonadorelin.
        With several terms, each gets the best passage of the question asked
        about it alone (the others left out) that names it, or that question's
        best passage if none of its candidates does, after the overall best passage;
        a single term that no chosen passage is about (:meth:`_about`; when no candidate is, naming it in
        the first sentence will do) gets the best passage that is. The remaining slots keep the overall order.
        ``literature`` as in :meth:`retrieve`, for every search made here.
        """
        k = k or self.settings.top_k
        ranked = self.retrieve(query, max(k, 2 * k), literature)
        if not terms or k < 2:
            return ranked[:k]
        chosen: list[Retrieved] = ranked[:1] if len(terms) > 1 else ranked[:k]
        for key, word in terms:
            others = [w for _, w in terms if w != word]
            sub = re.sub("|".join(re.escape(w) for w in others), " ", query, flags=re.I) if others else query
            if len(terms) == 1:
                if any(self._about(r.chunk, key, word) for r in chosen):
                    break  # the best passages hold one about it: no second search
                candidates = self.retrieve(sub, self.settings.candidate_k, literature)
                pool = [r for r in candidates if self._about(r.chunk, key, word)]
                if not pool:  # no passage says anything of it ("SERMs": only ever a class named in passing)
                    if any(names(r.chunk, word) for r in chosen):
                        break
                    pool = [r for r in candidates if names(r.chunk, word)]
            else:
                pool = self.retrieve(sub, self.settings.candidate_k, literature)
            fresh = [r for r in pool if all(r.chunk.id != c.chunk.id for c in chosen)]
            # a passage that names the term, if the question asked about it alone finds one; else its best one
            pick = next((r for r in fresh if mentions(r.chunk, word)), fresh[0] if fresh else None)
            if pick is not None:
                if len(chosen) >= k:
                    chosen[-1] = pick  # the lowest of the overall best gives way
                else:
                    chosen.append(pick)
            if len(chosen) >= k and len(terms) > 1:
                break
        for r in ranked:
            if len(chosen) >= k:
                break
            if all(r.chunk.id != c.chunk.id for c in chosen):
                chosen.append(r)
        return chosen[:k]

    def _about(self, chunk, key: str, word: str) -> bool:
        """The passage is about the named thing: it names it in its first sentence (:func:`names`) and says
        something of it there or anywhere (the thing is an agent of one of its clauses, as the attribution
        check reads them). Why both: "Anastrozole (Optional) ∞ Anastrozole may be included ..., stimulated
        by Gonadorelin or Clomid" names gonadorelin in its first sentence and is about anastrozole; the list
        item "- Gonadorelin ∞ This is a synthetic form of GnRH ..." further down is the one about it."""
        return names(chunk, word) and key in self.attributor().read(chunk.prompt_text()).facts

    def _dense(self, vector: list[float], k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the ``k`` nearest chunks.

        ``Store.nearest``: like ``Store.query``, minus its count query per call
        (~13 ms at 100,000 chunks): ``k`` is already capped by the snapshot's
        size, and Chroma returns fewer hits if the store has shrunk since.
        """
        return self.store.nearest(vector, k)

    def _score_fusion(
        self,
        dense: list[tuple[str, float]],
        acc: np.ndarray,
        sparse: list[tuple[int, float]],
        by_id: dict[str, int],
        nbrs: np.ndarray,
    ) -> list[tuple[float, int | str, float | None]]:
        """(score, snapshot position or unknown id, cosine) of every candidate, best first."""
        s = self.settings
        wd, wb, wn = s.dense_weight, s.bm25_weight, s.neighbour_weight
        sims: dict[int, float] = {}
        unknown: dict[str, float] = {}  # dense hits added to the store after the last refresh
        for cid, sim in dense:
            p = by_id.get(cid)
            if p is None:
                unknown[cid] = sim
            else:
                sims[p] = sim
        floor = min((sim for _, sim in dense), default=0.0)  # bound for chunks outside the dense top k
        bm_scale = wb / sparse[0][1] if sparse and sparse[0][1] > 0 else 0.0

        def base(p: int) -> float:
            return wd * sims.get(p, floor) + bm_scale * float(acc[p])

        lone = wd * floor  # what a missing or unmatched neighbour is worth
        ranked: list[tuple[float, int | str, float | None]] = []
        for p in sims.keys() | {i for i, _ in sparse}:
            score = base(p)
            if wn:
                near = [base(int(j)) for j in nbrs[p] if j >= 0]
                score += wn * max(near, default=lone)
            ranked.append((score, p, sims.get(p)))
        for cid, sim in unknown.items():
            ranked.append((wd * sim + wn * lone, cid, sim))
        ranked.sort(key=lambda t: -t[0])
        return ranked

    def snapshot(self) -> tuple[object, list[Chunk]]:
        """(a token that changes when the store does, every chunk): what corpus mode reads into the model."""
        if self._bm25 is None:
            self.refresh()
        with self._lock:
            return self._bm25, list(self._chunks)

    def attributor(self) -> Attributor:
        """The attribution checker for the current snapshot: the corpus's names, aliases and word rarity."""
        from assistant.attribution import for_corpus

        if self._bm25 is None:
            self.refresh()
        with self._lock:
            if self._attributor is None or self._attributor[0] is not self._bm25:
                last = self._attributor[1] if self._attributor else None
                checker = for_corpus([c.text for c in self._chunks], self.is_rare_word, self._bm25.rarity, last,
                                     read_all=len(self._chunks) <= KIN_CORPUS_MAX_CHUNKS)
                self._attributor = (self._bm25, checker)
            return self._attributor[1]

    def corpus_spelling(self, text: str) -> str:
        """``text`` with each British spelling the corpus never uses in the American one it does use
        ("oestradiol" -> "estradiol", "haemoglobin" -> "hemoglobin"), for the dense search.

        Why: BM25 already reads both spellings as one (:mod:`assistant.lexicon`), but the embedding model
        reads "oestradiol" as other word pieces than the corpus's "estradiol", and the passage on what
        estradiol does in men ranked 8th for a question spelled the British way. Only words whose mapped
        form the corpus has and whose own form it lacks change, so a rule that would misfire ("precise")
        leaves the word alone.
        """
        return corpus_spelling(text, self._spelled)

    def corpus_names(self, text: str) -> list[str]:
        """:func:`assistant.guards.corpus_names` by this corpus's vocabulary and word rarity."""
        return corpus_names(text, self.knows, self.is_rare_word)

    def knows(self, word: str) -> bool:
        """Whether every index term of ``word`` occurs somewhere in the corpus (stopwords always do)."""
        if self._bm25 is None:
            self.refresh()
        assert self._bm25 is not None
        return all(self._bm25.has_term(tok) for tok in tokenize(word))

    def is_rare_word(self, word: str) -> bool:
        """A technical or unusual term: the embedding model's WordPiece vocabulary has to split it,
        and not just into a common word plus an inflection ("regime"+"n", "predict"+"s"), nor is it
        another form of a word the vocabulary has whole ("prescribing" ~ "prescribed")."""
        if any(self.embeddings.in_vocabulary(form) for form in word_forms(american_spelling(word))):
            return False
        pieces = self.embeddings.word_pieces(word)
        return len(pieces) > 1 and len(pieces[0]) < len(word) - 2
