"""Structure-aware chunking whose chunks are exact slices of the source text.

Why slices: quotes are verified against chunk text and highlighted in the
source by character offsets, so a chunk may never be a rewritten copy. Anything
a chunk needs for context (its section path, a table's header) travels in
metadata and is added at embedding and prompt time, not into the text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from assistant.references import Reference

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# A sentence ends at . ! ? (plus closing quotes/brackets) before whitespace and
# an uppercase letter, digit or opening quote.
# a sentence starts with a capital, a digit, a quote, or a name written lower-case first ("hCG", "rFSH", "mRNA")
_SENT_END = re.compile(r"(?<=[.!?])[”\"’')\]]*\s+(?=[A-Z0-9“\"(‘]|[a-z]{1,2}[A-Z])")
_NO_SPLIT_BEFORE = re.compile(r"(?:\b[A-Z]|\bal|\be\.g|\bi\.e|\bvs|\bDr|\bFig|\bvol|\bno|\bpp|\bSt)\.$")


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str
    text: str  # == document_text[start:end]
    start: int
    end: int
    section: str
    kind: str  # "text", "table_row" or "reference"
    ref_keys: tuple[str, ...] = ()
    header: str = ""  # table header line for table rows
    index: int = 0

    def prompt_text(self) -> str:
        """What the LLM and the embedder see: the slice plus its table header."""
        return f"{self.header}\n{self.text}" if self.header else self.text

    def embed_text(self) -> str:
        return f"{self.section}\n{self.prompt_text()}" if self.section else self.prompt_text()


@dataclass
class _Block:
    start: int
    end: int
    section: str
    kind: str  # "para", "item", "table_row", "reference"
    header: str = ""
    ref_keys: list[str] = field(default_factory=list)


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) of ``text``; abbreviations do not end a sentence."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        head = text[pos : m.start()].rstrip("”\"’')]")
        if _NO_SPLIT_BEFORE.search(head):
            continue
        end = m.start() + len(m.group(0).rstrip())
        spans.append((offset + pos, offset + end))
        pos = m.end()
    if text[pos:].strip():
        spans.append((offset + pos, offset + len(text.rstrip())))
    return spans


def _lines(text: str) -> Iterable[tuple[int, str]]:
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


def _blocks(text: str, references: Sequence[Reference]) -> list[_Block]:
    """Headings set the section path; tables, list items and paragraphs become blocks."""
    stack: list[tuple[int, str]] = []
    blocks: list[_Block] = []
    para: list[tuple[int, int]] = []
    table: list[tuple[int, str]] = []

    def section() -> str:
        return " > ".join(title for _, title in stack)

    def flush_para() -> None:
        if para:
            blocks.append(_Block(para[0][0], para[-1][1], section(), "para"))
            para.clear()

    def flush_table() -> None:
        if not table:
            return
        header = table[0][1] if len(table) > 1 and _TABLE_SEP.match(table[1][1]) else ""
        rows = table[2:] if header else table
        for pos, line in rows:
            s = line.strip()
            if s:
                lead = len(line) - len(line.lstrip())
                blocks.append(_Block(pos + lead, pos + lead + len(s), section(), "table_row", header=header.strip()))
        table.clear()

    for pos, line in _lines(text):
        stripped = line.strip()
        if line.lstrip().startswith("|"):
            flush_para()
            table.append((pos, line))
            continue
        flush_table()
        heading = _HEADING.match(line)
        if heading:
            flush_para()
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2).strip()))
            continue
        if not stripped:
            flush_para()
            continue
        item = _LIST_ITEM.match(line)
        if item:
            flush_para()
            start = pos + item.end()
            blocks.append(_Block(start, pos + len(line.rstrip()), section(), "item"))
            continue
        lead = len(line) - len(line.lstrip())
        para.append((pos + lead, pos + len(line.rstrip())))
    flush_para()
    flush_table()

    for block in blocks:
        body = text[block.start : block.end]
        low = body.lower()
        for ref in references:
            if block.kind == "item" and ref.title.lower() in low and ref.first_author().lower() in low:
                block.kind = "reference"
                block.ref_keys = [ref.key]
                break
            if any(cue.lower() in low for cue in ref.cues) and ref.key not in block.ref_keys:
                block.ref_keys.append(ref.key)
    return blocks


def _split_long(text: str, block: _Block, size: int, overlap: int) -> list[tuple[int, int]]:
    """Split one over-long block into sentence groups of at most ``size`` chars."""
    sents = split_sentences(text[block.start : block.end], block.start)
    if not sents:
        return [(block.start, block.end)]
    parts: list[tuple[int, int]] = []
    i = 0
    while i < len(sents):
        j = i
        while j + 1 < len(sents) and sents[j + 1][1] - sents[i][0] <= size:
            j += 1
        parts.append((sents[i][0], sents[j][1]))
        if j + 1 >= len(sents):
            break
        i = max(j + 1 - overlap, i + 1)
    return parts


def chunk_text(
    text: str,
    source: str,
    *,
    chunk_size: int,
    chunk_overlap: int,
    min_chunk_size: int,
    references: Sequence[Reference] = (),
) -> list[Chunk]:
    """Chunks of one document, in document order."""
    spans: list[tuple[int, int, _Block]] = []
    pending: _Block | None = None  # a short text block waiting to merge with the next
    for block in _blocks(text, references):
        mergeable = block.kind in {"para", "item"}
        if pending is not None:
            if mergeable and block.section == pending.section and block.end - pending.start <= chunk_size:
                block = _Block(pending.start, block.end, block.section, block.kind,
                               ref_keys=sorted(set(pending.ref_keys) | set(block.ref_keys)))
            else:
                spans.append((pending.start, pending.end, pending))
            pending = None
        length = block.end - block.start
        if mergeable and length < min_chunk_size:
            pending = block
            continue
        if mergeable and length > chunk_size:
            for s, e in _split_long(text, block, chunk_size, chunk_overlap):
                spans.append((s, e, block))
        else:
            spans.append((block.start, block.end, block))
    if pending is not None:
        spans.append((pending.start, pending.end, pending))

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for index, (start, end, block) in enumerate(spans):
        body = text[start:end]
        occurrence = seen.get(body, 0)
        seen[body] = occurrence + 1
        digest = hashlib.sha256(f"{source}\x00{block.header}\x00{body}\x00{occurrence}".encode()).hexdigest()[:24]
        low = body.lower()
        keys = [k for k in block.ref_keys if block.kind == "reference" or _cue_in(k, low, references)]
        chunks.append(
            Chunk(
                id=digest,
                source=source,
                text=body,
                start=start,
                end=end,
                section=block.section,
                kind="reference" if block.kind == "reference" else ("table_row" if block.header else "text"),
                ref_keys=tuple(keys),
                header=block.header,
                index=index,
            )
        )
    return chunks


def _cue_in(key: str, low_text: str, references: Sequence[Reference]) -> bool:
    """A split part keeps a reference key only if it still contains that reference's cue."""
    for ref in references:
        if ref.key == key:
            return any(cue.lower() in low_text for cue in ref.cues)
    return False
