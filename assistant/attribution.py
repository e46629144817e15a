"""Who does what, according to the sources: catch an answer that gives one drug's property to another.

Why a parser and not the model: the article's key comparison is written as
"Unlike Anastrozole, which blocks estrogen production, Clomiphene works by
competitively binding to estrogen receptors ...". The 1.5B model misreads that
sentence when it writes the answer (the mechanisms come out swapped) and again
when asked to judge the swapped claim (P(yes) 0.75 for the swap, 0.24 for the
correct version, measured). A dependency parse reads it mechanically: "which
blocks" is a relative clause on Anastrozole, "Clomiphene" is the subject of
"works by binding".

How: every clause of a text is reduced to facts, agent -> the content words
of what the text says it does (``facts``). A claim's agent must be the one the
sources attach those words to: when the sources attach the claim's words
clearly better to a different agent than the claim names (a counterfactual:
the claim with its agent exchanged is better supported than the claim itself),
the claim is misattributed. How a text is read into facts:
:mod:`assistant.reading`; the parser: :mod:`assistant.syntax`; which words
are names: :mod:`assistant.terms`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from assistant.lexicon import family, tokenize
from assistant.reading import Reader, Reading
from assistant.relations import best_sentence, sentences

MIN_WORDS = 2  # a claim fact needs at least this many content words to be judged
ALT_MIN = 0.5  # the other agent must carry at least half of the claim's words (idf-weighted) ...
MARGIN = 0.3  # ... and clearly more than the claim's own agent does
#: against the whole corpus, the other agent must carry every one of the claim's words: the article says a great
#: deal of its main subjects, so half of a claim's words ("pituitary gland") are said of anastrozole somewhere
CORPUS_ALT_MIN = 1.0
#: a claim whose words (at least this many) a sentence holds at least this share of came from that sentence
FOREIGN_MIN_WORDS = 4
FOREIGN_SHARE = 0.7


@dataclass(frozen=True)
class Misattribution:
    agent: str  # the agent the claim names
    other: str  # the agent the sources give these words to
    own: float  # share of the claim's words (idf-weighted) the sources give to ``agent``
    alt: float  # ... and to ``other``
    words: tuple[str, ...]  # the claim's words the sources give to ``other``
    term: str = ""  # an object swap: the claim's term ...
    instead: str = ""  # ... where the sources have this one
    polarity: str = ""  # a contradiction in direction, said in words
    where: str = ""  # "" when the passages shown say it; else where else in the sources (the whole corpus)

    def reason(self) -> str:
        if self.polarity:
            text = self.polarity
        elif self.term:
            text = (f"the sources say this of {self.agent} with {self.instead}, and never name {self.term} "
                    f"with {self.agent}")
        else:
            text = (f"the sources say “{' '.join(self.words)}” of {self.other}, not of {self.agent} "
                    f"({self.alt:.2f} vs {self.own:.2f} of the claim's words)")
        return f"{text} ({self.where})" if self.where else text


class Attributor(Reader):
    """Checks claims against evidence: the claim's facts read as the sources read them (see :class:`Reader`).

    ``corpus`` is the reading of every chunk of the corpus when it is small enough to read at once (set by
    the retriever), for :meth:`against_sources`.
    """

    corpus: Reading | None = None

    def against_sources(
        self, claim: str, evidence: Sequence[str] | Reading, previous: str | None = None
    ) -> Misattribution | None:
        """:meth:`check` against the passages shown, then, if they settle nothing, against the whole corpus.

        Why: the model also writes from its own memory. "Tamoxifen and Clomiphene both act on the aromatase
        enzyme" came with three passages on SERMs that never name aromatase, so nothing in them gives it to
        another agent; the article does, to anastrozole, in a dozen clauses, and never to either SERM. The
        corpus's reading of the claim's own agent only grows (it includes the passages), so a claim the
        passages support stays supported; but the other agent must carry all of the claim's words
        (``CORPUS_ALT_MIN``), not half: "LH comes from the pituitary gland" was otherwise given to anastrozole,
        of which the article says "pituitary gland" once. The object-swap rule is not applied to the corpus:
        across a whole article an agent is named with most terms somewhere, and "gonadorelin ... helps to
        reactivate the HPG axis" was taken for a swap of a term it is never named with.
        """
        wrong = self.check(claim, evidence, previous)
        if wrong is None and self.corpus is not None:
            wrong = self.check(claim, self.corpus, previous, alt_min=CORPUS_ALT_MIN, objects=False)
            if wrong is not None:
                wrong = replace(wrong, where="read in the whole corpus, not only the passages shown")
        return wrong

    def foreign(self, claim: str, passages: Sequence[str], previous: str | None = None) -> str:
        """Why the claim says of a named thing what the passages say only where that thing is never named
        ("" if it does not).

        Why: asked for clomiphene's side effects, the model wrote "Clomiphene can cause changes in lipid
        profiles, bone mineral density, and mood alterations" from a passage on anastrozole's off-label use
        whose sentence has "potential side effects" for subject: no agent of the sources carries those words,
        so :meth:`check` has no other agent to prefer. The passage the words come from (one sentence holding
        ``FOREIGN_SHARE`` of the claim's words) names other things and never the claim's agent, its kin or
        aliases; and the whole corpus says no more than half of those words of the agent anywhere.
        """
        sents: list[tuple[int, int, set[str]]] | None = None  # the passages' sentences, read once if needed
        for agent, words in self.read_claim(claim, previous).facts.items():
            if len(words) < FOREIGN_MIN_WORDS or not self.is_named(agent):
                continue
            names = {agent} | {k for pair in self.kin if agent in pair for k in pair}
            wanted = set(tokenize(claim)) - set(tokenize(" ".join(names)))
            if len(wanted) < FOREIGN_MIN_WORDS:
                continue
            if sents is None:
                sents = [(n, k, set(tokenize(t))) for n, p in enumerate(passages) for k, t in enumerate(sentences(p))]
            share, n, _ = best_sentence(wanted, sents)
            if share < FOREIGN_SHARE:
                continue
            named = {k for k, _ in self.named_in(passages[n])}
            if named & names or not named:
                continue
            corpus = self.corpus
            if corpus is not None and self._share(words, _said_of(agent, corpus.mentions, self.kin))[0] >= 0.5:
                continue
            return (f"the sources say this in a passage about {', '.join(sorted(named))}, which never names "
                    f"{agent}")
        return ""

    def _share(self, words: Iterable[str], have: set[str]) -> tuple[float, tuple[str, ...]]:
        """The idf-weighted share of ``words`` that ``have`` holds: a name as written, another word in any
        form of its family ("production of testosterone" is what "to produce testosterone" says)."""
        words = list(words)
        total = sum(self.idf(w) for w in words) or 1.0
        families = {family(w) for w in have if not self.is_term(w)}
        hit = tuple(w for w in words if w in have or (not self.is_term(w) and family(w) in families))
        return sum(self.idf(w) for w in hit) / total, hit

    def evidence(self, texts: Sequence[str]) -> Reading:
        """The readings of several passages, merged."""
        merged = Reading()
        for text in texts:
            merged.merge(self.read(text))
        merged.kin |= self.kinds(texts)
        return merged

    def check(
        self, claim: str, evidence: Sequence[str] | Reading, previous: str | None = None, alt_min: float = ALT_MIN,
        objects: bool = True,
    ) -> Misattribution | None:
        """The first fact of ``claim`` that the evidence clearly gives to another agent, or denies, or None.

        A claim "A does W" is misattributed when the evidence says W of another
        named agent B (B's share of W, idf-weighted, at least ``ALT_MIN``) while
        saying clearly less of it about A, as agent or in any clause A takes
        part in, or about A's class or members (at least ``MARGIN`` less). B must not be named in the claim
        itself: "A, unlike B, does W" is about both. It is contradicted when it
        says A changes a named term the evidence says A does not ("No direct
        impact on ITT"), or the other way round. ``objects=False`` leaves out the object-swap rule.
        """
        ev = evidence if isinstance(evidence, Reading) else self.evidence(evidence)
        facts, mentions = ev.facts, ev.mentions
        kin = self.kin | ev.kin  # the corpus's defined names, and what the evidence says is a kind of what
        reading = self.read_claim(claim, previous)
        claim_facts = reading.facts
        named = set(claim_facts) | {w for words in claim_facts.values() for w in words}
        named |= {k for k, _ in self.named_in(claim)}  # "SERMs like tamoxifen ...": tamoxifen is named too
        denied = self._polarity(reading, ev)
        if denied:
            return denied
        for agent, words in claim_facts.items():
            if len(words) < MIN_WORDS or not self.is_named(agent):
                continue
            # what the evidence says of the agent, or of its class or members ("SERMs ... block estrogen
            # feedback" is what a table row says of clomiphene, a SERM)
            own, _ = self._share(words, _said_of(agent, mentions, kin))
            best: tuple[float, str, tuple[str, ...]] | None = None
            for other, have in facts.items():
                if other in named or not self.is_named(other) or frozenset((agent, other)) in kin:
                    continue  # a comparison's other side, an object of the claim, no named agent, or kin
                alt, hit = self._share(words, have)
                if best is None or alt > best[0]:
                    best = (alt, other, hit)
            if best and best[0] >= alt_min - 1e-9 and best[0] - own >= MARGIN:
                return Misattribution(agent, best[1], round(own, 3), round(best[0], 3), _in_order(best[2], claim))
            swapped = self._swapped_object(agent, words, facts, mentions) if objects else None
            if swapped:
                return swapped
        return None

    def _polarity(self, claim: Reading, ev: Reading) -> Misattribution | None:
        """A claim that A changes (raises, blocks, affects ...) a named term T where the sources say A does not:
        "rFSH boosts intratesticular testosterone" against "| rFSH ... | No direct impact on ITT ... |".

        Only this direction: a claim that A does *not* do something is usually a
        hedge ("not directly"), and the sources' positive facts about A are too
        broad a bag to contradict it safely.
        """
        for agent, said in claim.facts.items():
            against = ev.negated.get(agent, set())
            if not self.is_named(agent) or not against or not said & _CHANGE:
                continue
            terms = sorted(w for w in said & against if self.is_named(w) and w != agent)
            if terms:
                return Misattribution(agent, agent, 0.0, 1.0, tuple(terms),
                                      polarity=f"the sources say {agent} has no such effect on {', '.join(terms)}")
        return None

    def _swapped_object(
        self, agent: str, words: set[str], facts: Mapping[str, set[str]], mentions: Mapping[str, set[str]]
    ) -> Misattribution | None:
        """"LH stimulates the Sertoli cells": the sources say the same of LH with another named term (Leydig)
        in place of one the claim uses, never name the claim's term in a clause with LH, and do name it with
        another agent (FSH)."""
        have = facts.get(agent, set())
        with_agent = mentions.get(agent, set())
        own, _ = self._share(words, have)
        if not have:
            return None
        for term in sorted(w for w in words if self.is_named(w) and w not in with_agent):
            if not any(term in v for k, v in facts.items() if k != agent):
                continue
            for other in sorted(w for w in have - words if self.is_named(w) and self.is_term(w)):
                alt, hit = self._share((words - {term}) | {other}, have)
                if alt >= ALT_MIN and alt > own:
                    return Misattribution(agent, agent, round(own, 3), round(alt, 3), hit, term, other)
        return None


def _said_of(agent: str, mentions: Mapping[str, set[str]], kin: Iterable[frozenset[str]]) -> set[str]:
    """What a reading says of an agent or of its class or members (``kin`` pairs)."""
    said = set(mentions.get(agent, set()))
    for pair in kin:
        if agent in pair:
            for k in pair - {agent}:
                said |= mentions.get(k, set())
    return said


#: verbs and nouns of change: what a "does / does not" contradiction is about
_CHANGE = {"increase", "raise", "boost", "elevate", "stimulate", "affect", "impact", "effect", "change", "improve",
           "lower", "reduce", "decrease", "suppress", "inhibit", "block", "enhance", "drive", "support", "rise"}
def _in_order(words: Iterable[str], text: str) -> tuple[str, ...]:
    low = text.lower()
    return tuple(sorted(words, key=lambda w: (low.find(w[:4]) if low.find(w[:4]) >= 0 else len(low))))


def for_corpus(
    texts: Sequence[str], rare: Callable[[str], bool], idf: Callable[[str], float], last: Attributor | None = None,
    read_all: bool = True,
) -> Attributor:
    """The checker for a corpus: its names and aliases, word rarity, and (``read_all``, for a corpus small
    enough to parse now) the class/member pairs, conversions, changes, likenesses and who-does-what of every
    text, read once; a larger corpus is read from the evidence's sentences as a claim is checked. ``last``
    (the checker of the corpus before a change) lends its parsed pairs when the names are the same.
    """
    from assistant.likeness import likenesses
    from assistant.relations import changes, conversions
    from assistant.terms import aliases_from, kin_by_name, named_terms

    aliases = aliases_from(texts, Attributor(rare).is_term)
    named = named_terms(texts)
    checker = Attributor(rare, aliases, idf=idf, named=lambda w: w in named or any(k in named for k in w.split("-")),
                         kin=kin_by_name(aliases),
                         kin_cache=last.kin_cache if last and last.aliases == aliases else None,
                         conversions=[c for t in texts for c in conversions(t)] if read_all else (),
                         changes=[c for t in texts for c in changes(t)] if read_all else (),
                         likenesses=[x for t in texts for x in likenesses(t)] if read_all else ())
    if read_all:
        checker.kin |= checker.kinds(texts)
        checker.corpus = checker.evidence(texts)
    return checker
