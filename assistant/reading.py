"""What a text says each named agent does: agent -> the content words of the clauses it is the subject of.

Agents are technical terms (acronyms, words the embedding model's vocabulary has to split, like
"anastrozole" or "Sertoli"), so "studies", "men" or "the choice" never count as one; "it", "this
medication" and "its mechanism" resolve to the term they refer back to. A relative clause belongs to the
noun it hangs on ("Unlike Anastrozole, which blocks ...": Anastrozole blocks), a phrase of contrast to
nobody. :mod:`assistant.attribution` compares a claim's reading with its evidence's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.syntax import (
    RELATIVE,
    SUBJECT,
    clause,
    contrasted,
    negated,
    parse,
    split_table,
    under_negation,
)
from assistant.terms import ACRONYM, phrase

_REFERRING = {"it", "its", "they", "them", "their", "this", "these", "that", "those", "he", "she"}
_CONTENT = {"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM"}
# verbs that carry no content of their own ("works by binding", "acts as", "involves blocking")
_LIGHT = {"be", "have", "do", "work", "act", "involve", "make", "also", "often", "thereby", "such", "other"}


@dataclass
class Reading:
    """What a text says of each agent: agent key -> content words."""

    facts: dict[str, set[str]] = field(default_factory=dict)
    mentions: dict[str, set[str]] = field(default_factory=dict)
    negated: dict[str, set[str]] = field(default_factory=dict)
    kin: set[frozenset[str]] = field(default_factory=set)  # the class/member pairs the texts state

    def merge(self, other: Reading) -> Reading:
        for mine, theirs in ((self.facts, other.facts), (self.mentions, other.mentions),
                             (self.negated, other.negated)):
            for k, v in theirs.items():
                mine.setdefault(k, set()).update(v)
        self.kin |= other.kin
        return self


class Reader:
    """Reads texts into agent -> words facts.

    ``technical(word)`` says whether a lower-case word is a technical term;
    ``aliases`` maps a term to its canonical name (hCG -> chorionic, Clomid ->
    clomiphene), see :func:`aliases_from`; ``idf(word)`` weighs words by rarity;
    ``kin`` pairs a class with its members (:meth:`kinds`, :func:`assistant.terms.kin_by_name`).
    """

    def __init__(
        self,
        technical: Callable[[str], bool],
        aliases: Mapping[str, str] | None = None,
        idf: Callable[[str], float] | None = None,
        named: Callable[[str], bool] | None = None,
        kin: Iterable[frozenset[str]] = (),
        kin_cache: dict[str, frozenset[frozenset[str]]] | None = None,
        conversions: Iterable[tuple[frozenset[str], frozenset[str]]] = (),
        changes: Iterable[tuple[frozenset[str], frozenset[str], int]] = (),
        likenesses: Iterable = (),
    ) -> None:
        self._technical = lru_cache(maxsize=8192)(technical)
        self.aliases = dict(aliases or {})
        self.idf = idf or (lambda _w: 1.0)
        self._named = named or (lambda _w: True)
        self.kin = set(kin)  # pairs of names one of which is a kind of the other (see kinds())
        # text -> its pairs (:meth:`_kinds_of`); a rebuilt reader with the same aliases may share the last one's
        self.kin_cache = {} if kin_cache is None else kin_cache
        # (converted, product) of each conversion the corpus states (assistant.verify.conversions)
        self.conversions = list(conversions)
        # (doer, what it moves, +1 up / -1 down) of each change the corpus states (assistant.relations.changes)
        self.changes = list(changes)
        # what the corpus likens to what, and contrasts (assistant.likeness.likenesses)
        self.likenesses = list(likenesses)
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
        if ACRONYM.match(word):
            return True
        forms = {word.lower(), (lemma or word).lower()}
        return all(any(self._technical(p) for p in f.split("-") if len(p) > 2) for f in forms)

    def token_term(self, t) -> bool:
        return self.is_term(t.text, t.lemma_)

    def canonical(self, word: str) -> str:
        if re.fullmatch(r"[a-z]?[A-Z]{2,}s", word.strip("’'")):  # SERMs, AIs: the plural of an acronym
            word = word.strip("’'")[:-1]
        w = phrase(word)
        return self.aliases.get(w, w)

    def key(self, token, previous: str | None) -> str | None:
        """The agent key of a subject token: its first technical word, resolving references."""
        if token.lower_ in _REFERRING:
            return previous
        poss = [c for c in token.children if c.dep_ == "poss"]
        mods, name = modified(token, ("compound", "amod", "nmod"))
        if name in self.aliases:  # "Human Chorionic Gonadotropin" -> hcg
            return self.aliases[name]
        for t in [*mods, token]:
            if self.token_term(t):
                return self.canonical(t.text)
        if poss:  # "its primary mechanism", "Anastrozole's ability"
            return self.key(poss[0], previous)
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
                subjects = [c for c in t.children if c.dep_ in SUBJECT]
                if subjects:
                    s = subjects[0]
                    if s.lower_ in RELATIVE and t.dep_ in ("relcl", "acl"):
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
        prose, rows = split_table(self.abbreviate(text))
        if rows:
            self._read_rows(rows, reading)
        if prose.strip():
            self._read_prose(prose, previous, reading)
        for key, said in reading.facts.items():
            reading.mentions.setdefault(key, set()).update(said)
        return reading

    def read_claim(self, claim: str, previous: str | None = None) -> Reading:
        """:meth:`read` for one claim, with its leading name read as "It" when the parser found no agent.

        Why: the small parser takes an acronym or a lower-case drug name before a verb for part of a noun
        compound ("LH stimulates Leydig cells": "LH stimulates" a modifier of "cells"; "FSH stimulates
        Sertoli cells", "Clomid works by competitively binding ..." alike), so the claim had no agent and
        nothing was checked; 13 of 155 name-led claims of the dev split and the probes read as nothing. "It
        stimulates Sertoli cells" parses, and "it" means the name (``previous``), as in any sentence.
        """
        reading = self.read(claim, previous)
        m = re.match(r"\s*([A-Za-z][\w-]*)\s+(?=[a-z])", claim)
        if reading.facts or not m or not self.is_term(m.group(1)):
            return reading
        name = self.canonical(m.group(1))
        again = self.read(f"It {claim[m.end():]}", name)
        return again if name in again.facts else reading

    def abbreviate(self, text: str) -> str:
        """Long forms the corpus defines written as their short form ("intratesticular testosterone" -> ITT), so
        a claim and a table header that name one thing in two ways read as the same word."""
        if self._long_forms is None:
            longs = sorted((k for k in self.aliases if " " in k), key=len, reverse=True)
            self._long_forms = re.compile(r"\b(" + "|".join(re.escape(k) for k in longs) + r")\b", re.I) \
                if longs else re.compile(r"(?!x)x")
        return self._long_forms.sub(lambda m: self.aliases[phrase(m.group(1))].upper(), text)

    def _words(self, doc) -> dict[int, str]:
        return {t.i: (self.canonical(t.text) if self.token_term(t) else t.lemma_.lower()) for t in doc
                if t.pos_ in _CONTENT and not t.is_stop and t.lemma_.lower() not in _LIGHT}

    def _read_rows(self, rows: list[tuple[list[str], list[str]]], reading: Reading) -> None:
        for header, cells in rows:
            agent = next((self.canonical(w) for w in re.findall(r"[A-Za-z][\w-]*", cells[0]) if self.is_term(w)),
                         None)
            if agent is None:
                continue
            for j, cell in enumerate(cells[1:], 1):
                head = header[j] if j < len(header) else ""
                doc = parse(f"{head}: {cell}")
                # of the header, only its terms: "Effect on ITT" says what the cell is about, but "Primary
                # Hormonal Target" is the column's framing, not a word the row's agent says ("LH targets Leydig
                # cells" was given to hCG, whose row sits under that header)
                words = {w for i, w in self._words(doc).items()
                         if doc[i].idx > len(head) or self.token_term(doc[i])} - {agent}
                target = reading.negated if negated(doc) else reading.facts
                target.setdefault(agent, set()).update(words)
                # a term the cell names takes part in what its clause says ("enhances Leydig cell T production
                # via increased LH; supports Sertoli cells ..."): Leydig cells produce, Sertoli cells do not
                for part in re.split(r";\s*", cell):
                    part_doc = parse(part)
                    said = self._words(part_doc)
                    for i, w in said.items():
                        if w != agent and self.token_term(part_doc[i]):
                            reading.mentions.setdefault(w, set()).update(v for v in said.values() if v != w)

    def _read_prose(self, text: str, previous: str | None, reading: Reading) -> None:
        """Each paragraph on its own: a list item's label ("Gonadorelin ∞ This is ...") is what its "this" means,
        also when a short paragraph was merged into the chunk before it."""
        for k, para in enumerate(paragraphs(text)):
            self._read_paragraph(para, previous if k == 0 else None, reading)

    def label(self, text: str) -> str | None:
        """A list item's label term ("Clomiphene Citrate (Clomid) ∞ This ..."): what its "this" means."""
        label = re.match(r"\s*[-*]?\s*([^∞:]{2,60}?)\s*[∞:]\s", text)
        if label:
            for word in label.group(1).replace("(", " ").replace(")", " ").split():
                if self.is_term(word):
                    return self.canonical(word)
        return None

    def _read_paragraph(self, text: str, previous: str | None, reading: Reading) -> None:
        doc = parse(text)
        last = self.label(text) or previous
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
                    agents[a.i] = self.key(a, last)
                key = agents[a.i]
                if key is not None and words[t.i] != key:
                    target = reading.negated if under_negation(t, a) else reading.facts
                    target.setdefault(key, set()).add(words[t.i])
            for t in sent:
                if t.i in words and self.token_term(t) and not contrasted(t):
                    key = words[t.i]
                    near = {words[i] for i in clause(t) if i in words and words[i] != key}
                    reading.mentions.setdefault(key, set()).update(near)
            root_subject = [c for c in sent.root.children if c.dep_ in SUBJECT]
            named = [k for k in agents.values() if k]
            if root_subject and self.key(root_subject[0], last):
                last = self.key(root_subject[0], last)  # "it" in the next sentence: the main subject
            elif named:
                last = named[-1]

    def kinds(self, texts: Iterable[str]) -> set[frozenset[str]]:
        """Pairs of names the texts say are one a kind of the other (:func:`assistant.kinds.kinds`)."""
        from assistant.kinds import kinds

        return kinds(self, texts)


def paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def modified(token, deps: tuple[str, ...]) -> tuple[list, str]:
    """(the modifiers of ``deps`` before ``token``, the phrase they make with it as one name):
    "Human Chorionic Gonadotropin" -> "human chorionic gonadotropin"."""
    mods = [c for c in token.children if c.dep_ in deps and c.i < token.i]
    return mods, phrase(" ".join(x.text for x in token.doc[min([token.i, *(m.i for m in mods)]) : token.i + 1]))
