"""What a yes/no question asks, and how an answer restates it instead of answering it.

A 1.5B model answers most yes/no questions "Yes" and restates the asked proposition in sentence form ("Anastrozole
raises estrogen." to "Anastrozole raises estrogen, right?"), with a polarity no better than chance; and it talks
about what a yes/no question names even when the sources never do ("hair loss"). :mod:`assistant.verify` asks
these questions of every answer: whether the question is yes/no (:func:`is_polar`), whether a clause only restates
it (:func:`echoes`), and which of its nouns name a topic the corpus never uses (:func:`unsourced_topics`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from assistant.guards import last_sentence
from assistant.lexicon import tokenize
from assistant.syntax import SUBJECT, noun_forms, parse

MIN_CLAIM_WORDS = 3  # a clause needs this many content words to be judged (as in assistant.verify)

#: a verdict opening the answer: "Yes," / "No" / "True." / "That's not correct:" (the last kinds only before a
#: stop, so "True hypogonadism ..." or "Right after TRT ..." open no verdict)
_POLARITY = re.compile(
    r"^\s*((?:yes|no)\b\s*[,.;:!–-]?|(?:(?:that|this|it)(?:'s|’s|\s+is)\s+)?(?:not\s+)?"
    r"(?:true|false|correct|incorrect|right|wrong)\s*[,.;:!–-])\s*", re.I)
POLARITY_REASON = ("a bare yes/no (true/false) is not checked against the sources, and the model's is no "
                   "better than chance (9 and 10 of 17 on the dev split's yes/no questions); the sentences that "
                   "follow say what the sources say")


def strip_polarity(answer: str) -> tuple[str, str]:
    """The answer without a leading verdict ("Yes,", "No", "False.", "That is correct.") and the verdict
    removed ("" if none).

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
    return rest, m.group(1).strip(" ,.;:!–-")


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


@lru_cache(maxsize=256)  # asked once per claim of an answer, and the declarative test parses the question
def is_polar(question: str) -> bool:
    """A question the answer can only assert or deny: one of its last sentence's coordinated parts opens with
    an auxiliary verb ("..., and is it approved for men?") or asks "how" of a degree ("How common are ...?",
    "Since ..., how much does it cut ...?"), and offers no "or" choice; or a statement put as a question
    ("Anastrozole raises estrogen, right?", "So clomiphene blocks aromatase?")."""
    last = last_sentence(question)
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
    head = _HEAD.split(claim, 1)[0]
    for part, least in [(claim, 2)] + ([(head, MIN_CLAIM_WORDS)] if head != claim else []):
        # a whole clause of two words counts ("Is gonadorelin a SERM?" -> "Gonadorelin is a SERM"), a head
        # needs three: "This can affect fertility" heads a sentence whose "by ..." part gives the reason
        words = set(tokenize(part))
        if any(ch.isdigit() for w in words - asked for ch in w):
            continue  # a number the question does not have is an answer ("about 40% of men respond")
        if len(words) >= least and len(words & asked) / len(words) >= ECHO_SHARE:
            return True
    return False


_HEAD = re.compile(r",\s+|\s+(?:by|because|through|since|as|which|so that|thereby)\s+", re.I)


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
    doc = parse(question)
    if re.match(r"\s*(?:do|does|did)\b", question, re.I) and not any(t.pos_ == "VERB" for t in doc):
        # "Does rFSH on its own push up testosterone ...?" parsed with no verb, "push" a noun: a parse that lost
        # the verb a do-question must have says nothing reliable about which words are its nouns
        return []
    out: dict[str, None] = {}  # in the question's order
    for t in doc:
        # any of its forms will do: the corpus says "men", the question "a man's estrogen"
        if t.pos_ == "NOUN" and t.text.isalpha() and not any(known(f) for f in noun_forms(t)) and _topical(t, known):
            out[t.text.lower()] = None  # as written: it is named in the note ("pregnancy", not its stem)
    return list(out)


_DEMONSTRATIVE = frozenset({"this", "that", "these", "those", "such"})
_LIKENESS = frozenset({"same", "similar", "different", "other", "another"})
#: nouns that name the sources themselves: "Does the article recommend a dose?" asks about a dose, and the
#: sources never calling themselves an article is no news to the reader
_SELF = frozenset({"article", "source", "text", "passage", "material", "document", "author", "writer", "page"})
_SAYING = frozenset({"mention", "say", "discuss", "cover", "list", "cite", "state", "describe", "write", "report"})


def _topical(noun, known: Callable[[str], bool]) -> bool:
    """Whether a noun names what the question is about, not how it asks: not "the way hCG does" (a manner),
    "that specific problem" (points back to the conversation), "the same job as" (a likeness), "in the
    material" after "mentioned" or "the article" before "say" (where, not what), the sources themselves
    ("Does the article recommend ...?"), or the head of a compound
    whose modifier the corpus does use ("semen quality": semen is the topic)."""
    if noun.dep_ == "npadvmod" or noun.lemma_.lower() in _SELF:
        return False
    if any(c.lower_ in _DEMONSTRATIVE for c in noun.children if c.dep_ in ("det", "amod", "predet")):
        return False
    if any(c.lower_ in _LIKENESS for c in noun.children if c.dep_ in ("amod", "det")):
        return False
    head = noun.head
    governor = head.head if head.head.dep_ != "advmod" else head.head.head  # "mentioned anywhere in"
    if noun.dep_ == "pobj" and (governor.lemma_.lower() in _SAYING or governor.lower_ == "according"):
        return False  # "mentioned in the material", "according to the meta-analysis": where, not what
    if noun.dep_ in ("nsubj", "nsubjpass") and head.lemma_.lower() in _SAYING:
        return False  # "Does the article say ...?": who says it, not what
    # an aspect of something the corpus names: "semen quality" (but "hair" in "hair loss" is a topic of its own)
    parts = [c for c in noun.children if c.dep_ == "compound"]
    return not any(p.pos_ in ("NOUN", "PROPN") and known(p.text.lower()) for p in parts)
