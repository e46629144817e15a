"""How text becomes index terms, shared by everything that compares words.

Why one module: BM25 (:mod:`assistant.retrieval`), the corpus vocabulary test
(``HybridRetriever.knows``) and the echo check of :mod:`assistant.verify` must
agree on what counts as "the same word", or a question word the index matches
would be "unknown" to the guard, or an echo would go unnoticed because the
question said "oestrogen" and the answer "estrogen". Changing a rule here
changes retrieval: re-run bench/retrieval.py on both splits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container
from typing import Any

_TOKEN = re.compile(r"[a-z0-9]+(?:[-:][a-z0-9]+)*")
STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have how i if in
    into is it its me my of on or our should so than that the their them then there these they this those to
    was we were what when where which who whom why will with would you your about also any such may might
    more most other some very one ones""".split()
)


_BRITISH = (
    (re.compile(r"^oe(?=st)"), "e"),  # oestrogen, oestradiol
    (re.compile(r"(?<=[a-z])ae(?=[mdst])"), "e"),  # haemoglobin, anaemia, paediatric, anaesthesia
    (re.compile(r"(?<=[a-z]{3})our"), "or"),  # favour, behaviour, tumour (not hour, four, your)
    (re.compile(r"(?<=[a-z]{4})is(?=e|ed|es|ing|ation)"), "iz"),  # recognise, organisation (not praise)
    (re.compile(r"(?<=[a-z]{2})([bt])re(?=s?$)"), r"\1er"),  # litre, centre, fibre
)


@functools.lru_cache(maxsize=65536)
def american_spelling(word: str) -> str:
    """British spellings mapped to the American ones the article uses: clinicians write both."""
    for pattern, repl in _BRITISH:
        word = pattern.sub(repl, word)
    return word


@functools.lru_cache(maxsize=1)
def _snowball() -> Any:
    """One stemmer per process, imported on first use: building it is not free and most imports never stem."""
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=65536)
def _stem(tok: str) -> str:
    """The Snowball (Porter 2) English stem: "combined" ~ "combination", "restoring" ~ "restored",
    "inhibitors" ~ "inhibitor". It replaced a one-suffix strip (-ation/-ing/-ed) and a plural rule that were
    tuned on the evaluation questions; measured on both splits in bench/retrieval.py (README, Retrieval).
    Codes ("t:e2") and anything with a digit stay whole: they are identifiers, not English words."""
    if ":" in tok or any(ch.isdigit() for ch in tok):
        return tok
    return _snowball().stemWord(tok)


_INFLECTIONS = ("ing", "ed", "es", "s", "er", "ers", "ly", "ation", "ion", "ions")
_ENDINGS = ("", "e", "ed", "es", "s", "ing", "ion", "er")


def word_forms(word: str) -> set[str]:
    """``word`` and the forms that share its stem: "prescribing" -> "prescribe", "prescribed", ...

    Why not the Snowball stem: this is matched against the embedding model's
    WordPiece vocabulary, which holds whole words, so candidate spellings are
    needed, not a stem that may be no word at all.
    """
    forms = {word}
    for suffix in _INFLECTIONS:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3:
            forms.update(stem + ending for ending in _ENDINGS)
    return forms


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stopwords, in American spelling, Snowball-stemmed.

    A hyphenated word is kept whole (exact compounds such as "post-trt" match
    best) and also split into its stemmed parts, so "post-TRT" still finds "TRT".
    """
    out = []
    for tok in _TOKEN.findall(text.lower().replace("’", "'")):
        if tok in STOPWORDS:
            continue
        tok = american_spelling(tok)
        out.append(_stem(tok) if "-" not in tok else tok)
        if "-" in tok:  # 'post-trt' also matches 'trt'
            out.extend(_stem(p) for p in tok.split("-") if p and p not in STOPWORDS)
    return out


#: characters of a stem that name its word family (:func:`family`)
FAMILY_PREFIX = 6


@functools.lru_cache(maxsize=65536)
def family(word: str) -> str:
    """A word family's key: the first six characters of the word's Snowball stem.

    Why: the stemmer strips inflections but not derivations, so "production" (product) and "produce"
    (produc), "testicles" (testicl) and "testicular", "conversion" (convers) and "convert" stay apart, and
    the model writes the noun where the article has the verb. Truncating to a fixed prefix is the plain
    truncation stemmer of information retrieval (five or six characters do about as well as Porter's
    stemmer for English); it also joins some unrelated words ("general", "generation"), which is why it
    is only used to compare a claim's words with its sources', never for retrieval or names.
    """
    stem = _stem(american_spelling(word.lower()))
    return stem[:FAMILY_PREFIX]


WORDS = re.compile(r"[A-Za-z]+")  # a word, for spelling look-ups


def corpus_spelling(text: str, spelled: Container[str]) -> str:
    """``text`` with each British spelling a corpus never uses in the American one it does use (``spelled``:
    the corpus's lower-case words): "oestradiol" -> "estradiol", for the dense search (see
    :meth:`assistant.retrieval.HybridRetriever.corpus_spelling`)."""

    def fix(m: re.Match) -> str:
        word = m.group(0)
        low = word.lower()
        us = american_spelling(low)
        if us == low or low in spelled or us not in spelled:
            return word
        return us[:1].upper() + us[1:] if word[:1].isupper() else us

    return WORDS.sub(fix, text)
