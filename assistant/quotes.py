"""Parse the model's answer and check its quotes against the cited passages.

A quote counts as verified only if it occurs in a retrieved chunk's text after
normalising whitespace, quote marks and case, and nothing else. Verified
quotes are mapped to character spans of the source file for highlighting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.chunking import Chunk

log = logging.getLogger(__name__)

_QUOTE_CHARS = str.maketrans({"’": "'", "‘": "'", "‛": "'", "`": "'", "“": '"', "”": '"', "„": '"', "″": '"'})
_QUOTES_HEADER = re.compile(r"^\s*\**\s*(?:quotes?|sources?|quoted passages)\s*\**\s*:\s*\**\s*$", re.I | re.M)
_ANSWER_HEADER = re.compile(r"^\s*\**\s*answer\s*\**\s*:\s*\**", re.I | re.M)
_QUOTE_LINE = re.compile(r"^\s*[-*]?\s*\[(\d+)\]\s*[:\-–]?\s*(.+?)\s*$")
#: a citation in the answer: [1] or [1, 3]
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
MIN_QUOTE_CHARS = 12


@dataclass(frozen=True)
class ParsedAnswer:
    answer: str  # the prose, without the Quotes section
    quotes: list[tuple[int, str]]  # (passage number, quote text) in order


def normalise(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with unified quote marks and collapsed whitespace, plus
    for each output character the index of the input character it came from."""
    out: list[str] = []
    index: list[int] = []
    pending_space = False
    for i, ch in enumerate(text.translate(_QUOTE_CHARS)):
        if ch.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            index.append(i - 1)
            pending_space = False
        out.append(ch.lower())
        index.append(i)
    return "".join(out), index


def _clean_quote(q: str) -> str:
    q = q.strip()
    q = re.sub(r"^(?:\"|“|'|‘)+|(?:\"|”|'|’)+$", "", q).strip()
    q = re.sub(r"(?:\.\.\.|…)$", "", q).strip()
    return re.sub(r"^(?:\.\.\.|…)", "", q).strip()


def parse_answer(raw: str) -> ParsedAnswer:
    """Split the model output into prose and its quote lines.

    Two layouts are understood, so prompt versions may choose either: prose
    then a ``Quotes:`` block, or a ``Quotes:`` block then ``Answer:`` prose.
    """
    qm = _QUOTES_HEADER.search(raw)
    am = _ANSWER_HEADER.search(raw)
    if am and (qm is None or am.start() > qm.start()):
        prose = raw[am.end() :]
        quote_block = raw[qm.end() : am.start()] if qm else raw[: am.start()]
    elif qm:
        prose, quote_block = raw[: qm.start()], raw[qm.end() :]
    else:
        return ParsedAnswer(raw.strip(), [])
    quotes = []
    for line in quote_block.splitlines():
        lm = _QUOTE_LINE.match(line)
        if lm:
            text = _clean_quote(lm.group(2))
            if text:
                quotes.append((int(lm.group(1)), text))
    return ParsedAnswer(prose.strip(), quotes)


def cited_numbers(text: str) -> list[int]:
    seen: list[int] = []
    for m in CITATION.finditer(text):
        for part in m.group(1).split(","):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def find_span(quote: str, chunk: Chunk) -> tuple[int, int] | None:
    """Absolute (start, end) of ``quote`` in the chunk's source, or None if not verbatim."""
    if len(quote.strip()) < MIN_QUOTE_CHARS:
        return None
    hay, index = normalise(chunk.text)
    needle, _ = normalise(quote)
    needle = needle.rstrip(".")
    if not needle:
        return None
    pos = hay.find(needle)
    if pos < 0:
        return None
    start = index[pos]
    end = index[pos + len(needle) - 1] + 1
    # extend over a trailing full stop the model dropped
    if end < len(chunk.text) and chunk.text[end] == ".":
        end += 1
    return chunk.start + start, chunk.start + end


@dataclass(frozen=True)
class CheckedQuote:
    n: int  # passage number (possibly corrected, see ``moved``)
    text: str
    verified: bool
    start: int | None
    end: int | None
    moved: bool = False  # verbatim, but in another passage than the one the model cited


def check_quotes(quotes: Sequence[tuple[int, str]], passages: Sequence[Chunk]) -> list[CheckedQuote]:
    """Verify each quote against its cited passage first, then the other passages."""
    out: list[CheckedQuote] = []
    for n, text in quotes:
        order = list(range(len(passages)))
        if 1 <= n <= len(passages):
            order.remove(n - 1)
            order.insert(0, n - 1)
        found = None
        for i in order:
            span = find_span(text, passages[i])
            if span:
                found = (i + 1, span)
                break
        if found:
            out.append(CheckedQuote(found[0], text, True, found[1][0], found[1][1], moved=found[0] != n))
        else:
            out.append(CheckedQuote(n, text, False, None, None))
    bad = sum(not q.verified for q in out)
    if bad:
        log.info("%d of %d quotes are not verbatim in the passages", bad, len(out))
    return out
