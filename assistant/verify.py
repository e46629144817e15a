"""Check the answer against its own sources before anyone reads it.

A 1.5B model copies the right sentences into its quotes and then, in its own
words, can still swap which drug does what, answer "yes" where the quote says
"no direct impact", or adopt a false premise. So every sentence of the prose
answer is checked, clause by clause, against the passages the model read:

1. a clause that is a verbatim slice of a passage stands;
2. a clause that gives one named agent's property to another, by the
   sources' own grammar (:mod:`assistant.attribution`), is removed;
3. a clause that only restates the question (:func:`echoes`) is removed: it is
   the model's yes/no verdict, or the question's premise, in sentence form;
4. a clause that turns a conversion the sources state around ("estrogen to
   testosterone" where they say "testosterone into estrogens") or moves an
   amount the other way ("Anastrozole raises estrogen" where they say "By
   reducing estrogen levels, Anastrozole ...") is removed
   (:func:`assistant.relations.reversed_conversion`, :func:`~assistant.relations.reversed_change`);
5. a clause stating a number no passage and not the question state is removed
   (:func:`invented_numbers`: a count, a ratio, a year; doses are the guards');
6. a clause that joins as cause and effect two statements the sources make
   in different places ("X, which leads to Y" / "X because Y") is removed
   (:func:`assistant.relations.invented_link`);
7. an optional model check (:class:`ModelCheck`, e.g. the yes/no polarity of
   the answer to a yes/no question) may remove more.

A sentence goes when any of its clauses fails. When nothing supported is left,
the answer falls back to the verified quotes themselves under a fixed
lead-in, so the reader still gets what the sources say, never the contradiction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant.lexicon import tokenize
from assistant.quotes import normalise
from assistant.relations import (
    Change,
    changes,
    conversions,
    invented_link,
    link_head,
    reversed_change,
    reversed_conversion,
    sentences,
)
from assistant.schema import ClaimCheck

_CITE = re.compile(r"\s*\[\d+(?:\s*[,–-]\s*\d+)*\]")
_CLAUSE = re.compile(r";\s+|,?\s+whereas\s+|,\s+while\s+|,\s+but\s+", re.I)
_LEADING = re.compile(r"^(?:yes|no|in short|in summary|overall|so|however|also|additionally)\b[,:]?\s*", re.I)
MIN_CLAIM_WORDS = 3
FALLBACK_LEAD = "The sources say:"
QUOTES_LEAD = "In the sources' words:"


def clauses(sentence: str) -> list[str]:
    """A sentence's claims: its contrasted clauses, citations removed, each of at least three words."""
    text = _CITE.sub("", sentence).strip()
    out = []
    for part in _CLAUSE.split(text):
        part = _LEADING.sub("", part.strip(" .;,"))
        if len(part.split()) >= MIN_CLAIM_WORDS:
            out.append(part)
    return out


def is_verbatim(claim: str, passages: Sequence[str]) -> bool:
    c = normalise(claim)[0].strip(" .")
    return len(c.split()) >= MIN_CLAIM_WORDS and any(c in normalise(p)[0] for p in passages)


#: a model-based check of one claim: returns (keep, reason); None when it has no opinion
ModelCheck = Callable[[str, str], tuple[bool, str] | None]


@dataclass
class Verified:
    prose: str  # the model's sentences that survived ("" when none did)
    checks: list[ClaimCheck] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # a yes/no question's nouns the corpus never uses

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
    # the conversions the sources state, read once for every claim: the passages', and the corpus's
    stated = [c for p in passages for c in conversions(p)] + (attributor.conversions if attributor is not None else [])
    moved = [c for p in passages for c in changes(p)] + (attributor.changes if attributor is not None else [])
    topics = unsourced_topics(question, known) if known is not None else []
    changed = False
    for sentence in sentences(answer):
        ok = True
        parts = clauses(sentence)
        for claim in parts:
            check = _check_claim(claim, sentence, passages, attributor, evidence, previous, model_check,
                                 (question, resolved), stated, topics, moved)
            checks.append(check)
            ok = ok and check.kept
        if not ok and len(parts) == 1 and checks[-1].how == "link":
            # the link is the model's, what comes before it may be the sources': "hMG contains both FSH and LH
            # activity, which is why it is used with hCG" keeps its first half if a source sentence holds it
            # and it passes the checks on its own
            head = link_head(parts[0], passages)
            if head:
                again = _check_claim(head, head, passages, attributor, evidence, previous, model_check,
                                     (question, resolved), stated, topics, moved)
                checks.append(again)
                if again.kept:
                    cites = "".join(_CITE.findall(sentence))
                    sentence, ok, changed = f"{head}{cites}.", True, True
        if attributor is not None:
            named = [k for k in attributor.facts(_CITE.sub("", sentence), previous) if attributor.is_named(k)]
            previous = named[0] if named else previous
        if ok:
            kept.append(sentence)
    if checks and not any(clauses(s) for s in kept):
        return Verified("", checks, topics)
    whole = len(kept) == len(sentences(answer)) and not changed
    return Verified(answer.strip() if whole else " ".join(kept), checks, topics)


_POLARITY = re.compile(r"^\s*(yes|no)\b\s*[,.;:!–-]?\s*", re.I)
POLARITY_REASON = ("a bare yes/no is not checked against the sources, and the model's is no better than chance "
                   "(9 and 10 of 17 on the dev split's yes/no questions); the sentences that follow say what the "
                   "sources say")


def strip_polarity(answer: str) -> tuple[str, str]:
    """The answer without a leading "Yes,"/"No," and the word removed ("" if none).

    Why: the 1.5B model answers "Yes" to most yes/no questions (it said "Yes,
    rFSH boosts intratesticular testosterone" above a quote saying "No direct
    impact on ITT"), and neither it nor the parser can verify a bare polarity.
    What follows the word is a claim like any other and is checked as such.
    """
    m = _POLARITY.match(answer)
    if not m:
        return answer, ""
    rest = answer[m.end():]
    first = rest.split(" ", 1)[0]
    if first[1:] == first[1:].lower():  # "high E2" -> "High E2"; never "rFSH" -> "RFSH"
        rest = rest[:1].upper() + rest[1:]
    return rest, m.group(1)


#: share of a clause's content words that come from the question at or above which it only restates it
ECHO_SHARE = 0.75
#: share of the question's own content words a clause repeats at or above which it asserts the asked proposition
COVER_SHARE = 0.85
ECHO_REASON = ("restates the yes/no question instead of answering from the sources: the model's yes or no in "
               "sentence form, no better than chance (like a bare yes/no); the quotes say what the sources say")


_AUX = r"(?:is|are|was|were|do|does|did|can|could|should|will|would|has|have|had|may|might|must|shall)\b"
_POLAR = re.compile(rf"^{_AUX}", re.I)
# "how common", "how safe", "how often": a degree the answer can only assert or deny, like a yes or no
_DEGREE = re.compile(rf"^how\s+(?!{_AUX}|to\b)[a-z]+\b", re.I)
# the parts of a coordinated question: "What kind of drug is it, and is it approved for men?"
_PART = re.compile(rf",?\s+(?:and|but)\s+(?={_AUX})|,\s+(?=how\b)", re.I)


# a statement put as a question: "Anastrozole raises estrogen, right?", "..., isn't it?", "... - true?"
_TAG = re.compile(
    r"(?:,|\s[-–—])\s*(?:right|correct|true|yes|no|or not|isn'?t (?:it|that|there)|aren'?t (?:they|there)|"
    r"doesn'?t (?:it|he|she)|don'?t (?:they|we|you)|is that (?:right|correct|true|so)|am i right)\s*\?+\s*$",
    re.I,
)
_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b", re.I)


def is_polar(question: str) -> bool:
    """A question the answer can only assert or deny: one of its last sentence's coordinated parts opens with
    an auxiliary verb ("..., and is it approved for men?") or asks "how" of a degree ("How common are ...?",
    "Since ..., how much does it cut ...?"), and offers no "or" choice; or a statement put as a question
    ("Anastrozole raises estrogen, right?", "So clomiphene blocks aromatase?")."""
    last = re.split(r"(?<=[.?!:])\s+", question.strip())[-1] if question.strip() else ""
    if _TAG.search(last):
        return True
    if re.search(r"\bor\b", last, re.I):
        return False
    if any(_POLAR.match(part) or _DEGREE.match(part) for part in _PART.split(last)):
        return True
    return last.endswith("?") and not _WH.search(last) and _declarative(last)


def _declarative(sentence: str) -> bool:
    """A sentence with a subject and a finite verb, not an order ("Tell me about hCG?") or a bare phrase
    ("Anastrozole vs clomiphene?")."""
    from assistant.syntax import SUBJECT, parse

    doc = parse(sentence)
    roots = [t for t in doc if t.dep_ == "ROOT"]
    return any(r.pos_ in ("VERB", "AUX") and r.tag_ != "VB" and any(c.dep_ in SUBJECT for c in r.children)
               for r in roots)


def echoes(claim: str, question: str, resolved: str = "") -> bool:
    """The clause only restates a yes/no question's own words.

    Why: "Is the HPG axis the only hormone system that matters?" drew "The HPG
    axis is the only hormone system that matters ...", "Is anastrozole approved
    for male infertility?" drew "... it is officially approved", right above
    quotes saying the opposite. Such a clause carries the question's proposition
    with a polarity the model picks at chance. Measured on the dev split's stored
    answers: 10 such clauses in yes/no answers (threshold 0.75 of content
    stems), about half of them wrong, no correct answer turns wrong; the quotes
    that follow still say what the sources say. Only questions an answer can
    only assert or deny (:func:`is_polar`: yes/no parts, "how common"): the
    answer to "which drugs are combined?" restates the question too, but the
    few words it adds (the drugs) are the answer. A clause that repeats nearly
    all of the question's own words (``COVER_SHARE``) asserts its proposition
    however much it adds: on the dev replay this removed one more clause (a
    correct one, whose next sentence gives the reason and stays) and none that
    made an answer wrong; on questions written after that, it removed one that
    contradicted the quotes beneath it.
    """
    if not is_polar(question):
        return False
    asked = set(tokenize(f"{question} {resolved}"))
    # the whole proposition asked about, asserted with words of the model's own around it ("Clomiphene is the
    # first-line choice for severe hypogonadotropic hypogonadism when the central drive is lacking ..."),
    # unless what it adds is a number (an amount the question asks for is the answer)
    said, own = set(tokenize(claim)), set(tokenize(question))
    numbered = any(ch.isdigit() for w in said - asked for ch in w)
    if not numbered and len(own) >= MIN_CLAIM_WORDS and len(own & said) / len(own) >= COVER_SHARE:
        return True
    # the clause, or its head before a comma or a "by"/"because" phrase: "Its side effects are common, with
    # changes in lipid profiles ..." asserts the verdict first and lists the quote's words after it
    for part in dict.fromkeys((claim, _HEAD.split(claim, 1)[0])):
        words = set(tokenize(part))
        if any(ch.isdigit() for w in words - asked for ch in w):
            continue  # a number the question does not have is an answer ("about 40% of men respond")
        if len(words) >= MIN_CLAIM_WORDS and len(words & asked) / len(words) >= ECHO_SHARE:
            return True
    return False


_HEAD = re.compile(r",\s+|\s+(?:by|because|through|since|as|which|so that|thereby)\s+", re.I)


_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.]*\d)")


def invented_numbers(claim: str, passages: Sequence[str], question: str = "") -> list[str]:
    """The numbers of the claim that no passage and not the question contain.

    Why: asked "How many men in the Cleveland Clinic study had side effects?", the model wrote "2 men in the
    Cleveland Clinic study had side effects"; the article gives no count. The dose guard only knows amounts
    with units (mg, %, "twice a week"); a bare count or ratio the model made up is as wrong.
    """
    have = set(_NUMBER.findall(" ".join(passages))) | set(_NUMBER.findall(question))
    return [n for n in dict.fromkeys(_NUMBER.findall(_CITE.sub("", claim))) if n not in have]


def unsourced_topics(question: str, known: Callable[[str], bool]) -> list[str]:
    """The nouns of a yes/no question that the corpus never uses, in any form ("hair" in "Does anastrozole
    cause hair loss?"): what such a question asks about and the sources do not cover.

    Why only yes/no questions and nouns: asked "Does anastrozole cause hair loss?", the model wrote "It
    works by reducing estrogen levels, which can indirectly affect hair growth ..." (every other word the
    sources'); the unknown-subject guard only refuses on rare words, as an everyday word the article happens
    not to use says nothing about scope. Any word was too much: a dev replay removed right answers repeating
    "candidates", "watch" or "doctors" from wh-questions. A yes/no question's nouns are its proposition.
    """
    if not is_polar(question):
        return []
    from assistant.syntax import noun_forms, parse

    out: dict[str, None] = {}  # in the question's order
    for t in parse(question):
        # any of its forms will do: the corpus says "men", the question "a man's estrogen"
        if t.pos_ == "NOUN" and t.text.isalpha() and not any(known(f) for f in noun_forms(t)) and _topical(t, known):
            out[t.text.lower()] = None  # as written: it is named in the note ("pregnancy", not its stem)
    return list(out)


_DEMONSTRATIVE = frozenset({"this", "that", "these", "those", "such"})
_LIKENESS = frozenset({"same", "similar", "different", "other", "another"})
_SAYING = frozenset({"mention", "say", "discuss", "cover", "list", "cite", "state", "describe", "write", "report"})


def _topical(noun, known: Callable[[str], bool]) -> bool:
    """Whether a noun names what the question is about, not how it asks: not "the way hCG does" (a manner),
    "that specific problem" (points back to the conversation), "the same job as" (a likeness), "in the
    material" after "mentioned" (where, not what), or the head of a compound whose modifier the corpus does use
    ("semen quality": semen is the topic)."""
    if noun.dep_ == "npadvmod":
        return False
    if any(c.lower_ in _DEMONSTRATIVE for c in noun.children if c.dep_ in ("det", "amod", "predet")):
        return False
    if any(c.lower_ in _LIKENESS for c in noun.children if c.dep_ in ("amod", "det")):
        return False
    head = noun.head
    governor = head.head if head.head.dep_ != "advmod" else head.head.head  # "mentioned anywhere in"
    if noun.dep_ == "pobj" and (governor.lemma_.lower() in _SAYING or governor.lower_ == "according"):
        return False  # "mentioned in the material", "according to the meta-analysis": where, not what
    # an aspect of something the corpus names: "semen quality" (but "hair" in "hair loss" is a topic of its own)
    parts = [c for c in noun.children if c.dep_ == "compound"]
    return not any(p.pos_ in ("NOUN", "PROPN") and known(p.text.lower()) for p in parts)


def _check_claim(claim, sentence, passages, attributor, evidence, previous, model_check, asked=("", ""),
                 stated: Sequence[tuple[frozenset[str], frozenset[str]]] = (), topics=(),
                 moved: Sequence[Change] = ()) -> ClaimCheck:
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
    turned = reversed_conversion(claim, stated) or reversed_change(claim, moved)
    if turned:
        return ClaimCheck(claim=claim, kept=False, how="direction", reason=turned)
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
