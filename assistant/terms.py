"""The names a corpus uses: which words it writes as names, and which names it defines as one thing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

ACRONYM = re.compile(r"^[a-z]?[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*$|^[A-Z]{2,}[0-9]*$")
DEFINITION = re.compile(
    r"([A-Za-z][\w’'-]*(?:\s+[A-Za-z][\w’'-]*){0,4})\s+\(([A-Za-z][\w’'-]*(?:\s+[A-Za-z][\w’'-]*){0,3})\)"
)


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
            elif ACRONYM.match(w):  # rFSH, hCG, LH: names wherever they stand
                acronyms.add(w.lower())
        for m in re.finditer(r"(?<=[a-z,;] )([A-Za-z][\w-]*)", text):
            w = m.group(1)
            if ACRONYM.match(w) or w[0].isupper():
                upper[w.lower()] = upper.get(w.lower(), 0) + 1
            else:
                lower[w] = lower.get(w, 0) + 1
    return {w for w, n in upper.items() if n >= lower.get(w, 0)} | acronyms


def phrase(text: str) -> str:
    """A name as one comparable key: lower case, plain apostrophes, single spaces, "LH - like" -> "lh-like"."""
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
        for m in DEFINITION.finditer(text):
            long_words, short = m.group(1).split(), m.group(2).strip()
            short_words = short.split()
            if "like" in short.lower().split("-") or not any(is_term(w) for w in short_words):
                continue
            if len(short_words) == 1 and (ACRONYM.match(short) or _abbreviates(short, long_words)):
                # the long form: the fewest words back that the short form abbreviates
                n = next((k for k in range(1, len(long_words) + 1) if _abbreviates(short, long_words[-k:])), 0)
                if n and any(is_term(w) for w in long_words[-n:]):
                    join(phrase(" ".join(long_words[-n:])), phrase(short))
                continue
            if len(short_words) > 2 or not is_term(long_words[-1]) or not is_term(short_words[0]):
                continue  # "studies on aromatase inhibitors (including Anastrozole and Letrozole)" names examples
            join(phrase(long_words[-1]), phrase(short_words[0]))
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


def kin_by_name(aliases: Mapping[str, str]) -> set[frozenset[str]]:
    """Pairs of names whose long forms say one is a kind of the other: "recombinant follicle-stimulating
    hormone" (rFSH) ends with "follicle-stimulating hormone" (FSH), a modifier before the same name."""
    longs: dict[str, set[str]] = {}
    for long, name in aliases.items():
        longs.setdefault(name, set()).add(long)
    return {frozenset((a, b)) for a, forms in longs.items() for b, others in longs.items()
            if a != b and any(f.endswith(" " + o) for f in forms for o in others)}

