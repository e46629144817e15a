"""Check the answer against its own sources before anyone reads it.

A 1.5B model copies the right sentences into its quotes and then, in its own
words, can still swap which drug does what, answer "yes" where the quote says
"no direct impact", or adopt a false premise. So every sentence of the prose
answer is checked, clause by clause, against the passages the model read:

1. a clause that is a verbatim slice of a passage stands;
2. a clause that gives one named agent's property to another, by the
   sources' own grammar (:mod:`assistant.attribution`), is removed;
3. a clause that only restates the question (:func:`assistant.polar.echoes`) is removed: it is
   the model's yes/no verdict, or the question's premise, in sentence form;
4. a clause that turns a conversion the sources state around ("estrogen to
   testosterone" where they say "testosterone into estrogens") or moves an
   amount the other way ("Anastrozole raises estrogen" where they say "By
   reducing estrogen levels, Anastrozole ...") is removed
   (:func:`assistant.relations.reversed_conversion`, :func:`~assistant.relations.reversed_change`), or
   likens two named things the sources do not liken ("Tamoxifen acts like anastrozole" where they say it
   acts like clomiphene; :func:`assistant.likeness.misliken`) is removed;
5. a clause stating a number no passage and not the question state is removed
   (:func:`invented_numbers`: a count, a ratio, a year; doses are the guards');
6. a clause that joins as cause and effect two statements the sources make
   in different places ("X, which leads to Y" / "X because Y") is removed
   (:func:`assistant.relations.invented_link`);
7. an optional model check (:class:`ModelCheck`, e.g. the yes/no polarity of
   the answer to a yes/no question) may remove more.

A sentence goes when any of its clauses fails, except that the clauses of a contrast that passed
and stand alone (:func:`stands_alone`) stay as sentences of their own. When nothing supported is left,
the answer falls back to the verified quotes themselves under a fixed
lead-in, so the reader still gets what the sources say, never the contradiction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant.distribute import distribute, each_object
from assistant.lexicon import tokenize
from assistant.likeness import Likeness, likenesses, misliken
from assistant.polar import (
    ECHO_REASON,
    MIN_CLAIM_WORDS,
    POLARITY_REASON,
    echoes,
    is_polar,
    strip_polarity,
    unsourced_topics,
)
from assistant.premise import premise_of, proposition_of, restates
from assistant.quotes import normalise
from assistant.relations import (
    CITE_MARK,
    Change,
    changes,
    conversions,
    invented_link,
    link_head,
    reversed_change,
    reversed_conversion,
    self_related,
    sentences,
)
from assistant.schema import ClaimCheck
from assistant.syntax import parse

_CLAUSE = re.compile(r";\s+|,?\s+whereas\s+|,\s+while\s+|,\s+but\s+", re.I)
_LEADING = re.compile(r"^(?:yes|no|in short|in summary|overall|so|however|also|additionally)\b[,:]?\s*", re.I)
FALLBACK_LEAD = "The sources say:"
QUOTES_LEAD = "In the sources' words:"


def clauses(sentence: str) -> list[str]:
    """A sentence's claims: its contrasted clauses, citations removed, each of at least three words."""
    text = CITE_MARK.sub("", sentence).strip()
    out = []
    for part in _CLAUSE.split(text):
        part = _LEADING.sub("", part.strip(" .;,"))
        if len(part.split()) >= MIN_CLAIM_WORDS:
            out.append(part)
    return out


def stands_alone(clause: str) -> bool:
    """A clause that says the same thing on its own as inside its sentence: no personal or demonstrative
    pronoun ("it", "its", "this medication") that may point into the clause beside it."""
    return not any(t.morph.get("PronType") and set(t.morph.get("PronType")) & {"Prs", "Dem"}
                   for t in parse(clause))


def is_verbatim(claim: str, passages: Sequence[str]) -> bool:
    c = normalise(claim)[0].strip(" .")
    return len(c.split()) >= MIN_CLAIM_WORDS and any(c in normalise(p)[0] for p in passages)


@dataclass(frozen=True)
class Stated:
    """The relations the passages and the corpus state, read once an answer for all its claims."""

    conversions: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    likenesses: list[Likeness] = field(default_factory=list)
    names: Callable[[str], set[str]] = lambda _text: set()  # the terms of the sources a text names

    def named(self, text: str) -> bool:
        return bool(self.names(text))

    @classmethod
    def read(cls, passages: Sequence[str], corpus=None) -> Stated:
        """The passages' relations and the corpus checker's (``corpus``: an Attributor, or None)."""
        own = cls([c for p in passages for c in conversions(p)], [c for p in passages for c in changes(p)],
                  [c for p in passages for c in likenesses(p)])
        if corpus is None:
            return own
        return cls(own.conversions + corpus.conversions, own.changes + corpus.changes,
                   own.likenesses + corpus.likenesses, lambda text: {name for name, _ in corpus.named_in(text)})


#: a model-based check of one claim: returns (keep, reason); None when it has no opinion
ModelCheck = Callable[[str, str], tuple[bool, str] | None]


@dataclass
class Verified:
    prose: str  # the model's sentences that survived ("" when none did)
    checks: list[ClaimCheck] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # a yes/no question's nouns the corpus never uses
    note: str = ""  # leads the answer: the question's premise the sources contradict (assistant.premise)

    @property
    def fell_back(self) -> bool:
        """Nothing the model wrote survived: the answer is the quotes alone."""
        return not self.prose and bool(self.checks)

    @property
    def removed(self) -> list[ClaimCheck]:
        return [c for c in self.checks if not c.kept]


def verify(
    answer: str,
    passages: Sequence[str],
    attributor=None,
    subject: str | None = None,
    model_check: ModelCheck | None = None,
    question: str = "",
    resolved: str = "",
    known: Callable[[str], bool] | None = None,
) -> Verified:
    """The answer with every sentence its sources contradict removed.

    ``passages`` are the texts the model read; ``subject`` is what "it" means
    in the first sentence (the question's first named term); ``question`` is
    what the user asked and ``resolved`` the follow-up joined to what it
    follows (so "Is it approved for men?" after a question about clomiphene
    knows what "it" restates).
    """
    evidence = attributor.evidence(passages) if attributor is not None else None
    kept: list[str] = []
    checks: list[ClaimCheck] = []
    previous = subject
    answer, polarity = strip_polarity(answer)
    if polarity:
        checks.append(ClaimCheck(claim=polarity, kept=False, how="polarity", reason=POLARITY_REASON))
    stated = Stated.read(passages, attributor)
    topics = unsourced_topics(question, known) if known is not None else []
    premise = premise_of(question) if attributor is not None and question else ""
    against = _contradicted(premise, passages, attributor, evidence, subject, stated) if premise else None
    changed = False
    asked = [word for _, word in attributor.named_in(question)] if attributor is not None else []
    denied: tuple[str, ClaimCheck] | None = None  # a yes/no question's proposition the sources contradict
    for sentence in sentences(answer):
        ok = True
        parts = clauses(sentence)
        for claim in parts:
            if against is not None and restates(claim, premise, stated.names):
                check = ClaimCheck(claim=claim, kept=False, how="premise",
                                   reason=f"restates the question's premise, which the sources contradict: "
                                          f"{against.reason}")
            else:
                check = _check_claim(claim, sentence, passages, attributor, evidence, previous, model_check,
                                     (question, resolved), stated, topics)
                if check.kept and check.how != "verbatim" and attributor is not None:
                    check = _each(claim, check, asked, passages, attributor, evidence, (question, resolved), stated,
                                  previous)
            checks.append(check)
            ok = ok and check.kept
            if check.how == "echo" and against is None and denied is None and attributor is not None:
                # the model's yes or no in sentence form is the question's proposition: when the sources
                # contradict it, the answer says so rather than leaving the reader with the quotes alone
                asserted = _SAYS.sub("", CITE_MARK.sub("", claim)).strip(" .")
                wrong = _contradicted(asserted, passages, attributor, evidence, previous, stated, asked)
                denied = (asserted, wrong) if wrong is not None else None
        if not ok and len(parts) == 1 and checks[-1].how == "link":
            # the link is the model's, what comes before it may be the sources': "hMG contains both FSH and LH
            # activity, which is why it is used with hCG" keeps its first half if a source sentence holds it
            # and it passes the checks on its own
            head = link_head(parts[0], passages)
            if head:
                again = _check_claim(head, head, passages, attributor, evidence, previous, model_check,
                                     (question, resolved), stated, topics)
                checks.append(again)
                if again.kept:
                    cites = "".join(CITE_MARK.findall(sentence))
                    sentence, ok, changed = f"{head}{cites}.", True, True
        if not ok and len(parts) > 1:
            # "A does X, while B does Y": a wrong half takes only itself when the other is a passage's own words
            # and stands alone (a half the checks merely found nothing against is as doubtful as its sentence)
            salvaged = [c.claim for c in checks[-len(parts):] if c.how == "verbatim" and stands_alone(c.claim)]
            if salvaged:
                cites = "".join(dict.fromkeys(CITE_MARK.findall(sentence)))
                sentence = " ".join(f"{c[0].upper()}{c[1:]}{cites}." for c in salvaged)
                ok, changed = True, True
        if attributor is not None:
            named = [k for k in attributor.facts(CITE_MARK.sub("", sentence), previous) if attributor.is_named(k)]
            previous = named[0] if named else previous
        if ok:
            kept.append(sentence)
    note = f"The sources do not support the question's premise that {premise}." if against is not None else ""
    if denied is None and against is None and attributor is not None and question and is_polar(question):
        # no restatement to read the proposition from: the question's own, put as a statement
        asked_for = _SAYS.sub("", proposition_of(question))
        wrong = _contradicted(asked_for, passages, attributor, evidence, subject, stated, asked) if asked_for \
            else None
        denied = (asked_for, wrong) if wrong is not None else None
    if denied is not None:
        first = denied[0].split(" ", 1)[0]
        said = denied[0] if first[1:] != first[1:].lower() or (attributor and attributor.is_term(first)) else \
            denied[0][:1].lower() + denied[0][1:]
        note = f"The sources do not support that {said}."
    if checks and not any(clauses(s) for s in kept):
        return Verified("", checks, topics, note)
    whole = len(kept) == len(sentences(answer)) and not changed
    return Verified(answer.strip() if whole else " ".join(kept), checks, topics, note)


#: checks whose verdict on a premise is the sources contradicting it (not silence: an echo, an unknown topic)
_CONTRADICTING = frozenset({"attribution", "direction", "likeness"})


def _contradicted(premise: str, passages, attributor, evidence, subject, stated: Stated,
                  asked: Sequence[str] = ()) -> ClaimCheck | None:
    """The check that finds a proposition (the question's premise, or what a yes/no question asks) contradicted
    by the sources, or None; a proposition about several things (``asked``: the question's names) for each."""
    for claim in clauses(premise) or [premise]:
        check = _check_claim(claim, claim, passages, attributor, evidence, subject, None, ("", ""), stated)
        if check.kept and check.how != "verbatim":
            check = _each(claim, check, asked, passages, attributor, evidence, ("", ""), stated, subject)
        if not check.kept and check.how in _CONTRADICTING:
            return check
    return None


#: "The article says (that) ...": who says it, not what is said
_SAYS = re.compile(r"^\s*(?:the\s+)?(?:article|sources?|text|passages?|authors?|material)\s+(?:(?:does|do)\s+)?"
                   r"(?:says?|states?|mentions?|claims?|suggests?|shows?)\s+(?:that\s+)?", re.I)


def _each(claim: str, check: ClaimCheck, asked, passages, attributor, evidence, question, stated,
          previous: str | None = None) -> ClaimCheck:
    """A claim about several things at once (:func:`assistant.distribute.distribute`), or saying one thing of
    a list (:func:`assistant.distribute.each_object`), stands only if the sources contradict it for none of
    them: "Both drugs work by binding to estrogen receptors" is wrong if they say so of only one."""
    def named(word: str) -> bool:
        return attributor.first_named(word) is not None

    text = CITE_MARK.sub("", claim)
    parts = [(name, attributor.canonical(name), part) for name, part in distribute(text, asked, named)]
    parts += [("", previous, part) for part in each_object(text, named)]
    for name, agent, part in parts:
        against = _check_claim(part, part, passages, attributor, evidence, agent, None, question, stated)
        if not against.kept and against.how in _CONTRADICTING:
            said = f"said of {name} too" if name else "said of each item of its list"
            return ClaimCheck(claim=claim, kept=False, how=against.how,
                              reason=f"{said} (“{part}”): {against.reason}")
    return check


_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.]*\d)")


def invented_numbers(claim: str, passages: Sequence[str], question: str = "") -> list[str]:
    """The numbers of the claim that no passage and not the question contain.

    Why: asked "How many men in the Cleveland Clinic study had side effects?", the model wrote "2 men in the
    Cleveland Clinic study had side effects"; the article gives no count. The dose guard only knows amounts
    with units (mg, %, "twice a week"); a bare count or ratio the model made up is as wrong.
    """
    have = set(_NUMBER.findall(" ".join(passages))) | set(_NUMBER.findall(question))
    return [n for n in dict.fromkeys(_NUMBER.findall(CITE_MARK.sub("", claim))) if n not in have]


def _check_claim(claim, sentence, passages, attributor, evidence, previous, model_check, asked=("", ""),
                 stated: Stated | None = None, topics=()) -> ClaimCheck:
    stated = stated or Stated()
    if is_verbatim(claim, passages):
        return ClaimCheck(claim=claim, kept=True, how="verbatim", reason="a slice of a passage")
    said = set(tokenize(claim))
    absent = [w for w in topics if said & set(tokenize(w))]
    if absent:
        return ClaimCheck(claim=claim, kept=False, how="unsourced",
                          reason=f"about {', '.join(absent)}, which the sources never mention")
    if echoes(claim, *asked):
        return ClaimCheck(claim=claim, kept=False, how="echo", reason=ECHO_REASON)
    invented = invented_numbers(claim, passages, asked[0])
    if invented:
        return ClaimCheck(claim=claim, kept=False, how="number",
                          reason=f"states {', '.join(invented)}, a number neither the passages nor the question state")
    if attributor is not None:
        wrong = attributor.against_sources(claim, evidence, previous)
        if wrong is not None:
            return ClaimCheck(claim=claim, kept=False, how="attribution", reason=wrong.reason())
        elsewhere = attributor.foreign(claim, passages, previous)
        if elsewhere:
            return ClaimCheck(claim=claim, kept=False, how="attribution", reason=elsewhere)
    turned = reversed_conversion(claim, stated.conversions) or reversed_change(claim, stated.changes)
    if turned:
        return ClaimCheck(claim=claim, kept=False, how="direction", reason=turned)
    likened = misliken(claim, stated.likenesses, stated.named)
    if likened:
        return ClaimCheck(claim=claim, kept=False, how="likeness", reason=likened)
    if attributor is not None:
        itself = self_related(claim, attributor.first_named)
        if itself:
            return ClaimCheck(claim=claim, kept=False, how="link", reason=itself)
    unlinked = invented_link(claim, passages)
    if unlinked:
        return ClaimCheck(claim=claim, kept=False, how="link", reason=unlinked)
    if model_check is not None:
        verdict = model_check(claim, sentence)
        if verdict is not None:
            keep, why = verdict
            return ClaimCheck(claim=claim, kept=keep, how="model", reason=why)
    return ClaimCheck(claim=claim, kept=True, how="unchecked" if attributor is None else "attribution",
                      reason="no contradiction found")


def assemble(prose: str, quotes: Sequence[tuple[int, str] | tuple[int, str, str]]) -> str:
    """The answer as read: the checked prose, then the verified quotes it rests on, in the sources' words.

    Why the quotes are part of the answer and not only a side panel: they are
    verbatim by construction and were chosen by the model as the evidence, so
    the facts the question asks for are in them even when the model's own
    sentence is short, and they can never contradict the sources. When no
    prose survived the checks, the quotes stand alone under a fixed lead-in.
    """
    if not quotes:
        return prose
    lines = "\n".join(f"[{q[0]}] {q[2] + ': ' if len(q) > 2 and q[2] else ''}“{q[1].rstrip()}”" for q in quotes)
    if not prose:
        return f"{FALLBACK_LEAD}\n{lines}"
    return f"{prose}\n\n{QUOTES_LEAD}\n{lines}"
