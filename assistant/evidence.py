"""The retrieved passages' own words that bear most on the question, shown beside the model's quotes.

Why: retrieval finds the passage that answers the question far more often than
the 1.5B model quotes the sentence that does. On the dev split (stored answers
of the run before this module), 16 of the 27 answers that missed a key fact had
it in a passage retrieval had returned; the model had quoted a neighbouring
sentence, a reference entry or the wrong table cell instead. Adding the units
of those passages most similar to the (resolved) question, by the same
embedding model retrieval uses, raised answer correctness from 0.651 to 0.733
with one unit and 0.767 with two, and lost no answer that was right (the figures
and the frozen test split's are in the README).

These units are verbatim slices of the passages, so they can never contradict
the sources; they are marked as chosen by retrieval, not by the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.chunking import Chunk
from assistant.passages import units as sentence_units


@dataclass(frozen=True)
class Unit:
    """A quotable piece of a passage: a sentence, a table cell (with its row and column), a reference entry."""

    n: int  # the passage's number in the answer (1-based)
    text: str  # exact slice of the chunk text
    label: str = ""  # "<row label>, <column header>" for a table cell
    topic: str = ""  # the list item's label a later sentence of the item is about ("Gonadorelin"), for embedding

    def embed_text(self) -> str:
        """What the unit is compared with the question as: with its cell's row and column, or with the list
        item it belongs to. Why the item: "Administered in a pulsatile fashion, it directly stimulates the
        pituitary ..." does not name gonadorelin, and without the name it ranked below sentences that
        do not answer "is gonadorelin given continuously?"."""
        head = self.label or self.topic
        return f"{head}: {self.text}" if head else self.text


def table_cells(chunk: Chunk) -> list[tuple[str, str]]:
    """A table row's cells after the first, each with the label "<row label>, <column header>"."""
    cells = [c.strip() for c in chunk.text.strip().strip("|").split("|")]
    header = [c.strip() for c in chunk.header.strip().strip("|").split("|")] if chunk.header else []
    return [(f"{cells[0]}, {header[j]}" if j < len(header) else cells[0], cells[j])
            for j in range(1, len(cells)) if cells[j]]


_ITEM = re.compile(r"^\s*[-*]\s*([^∞\n]{2,60}?)\s*∞\s", re.M)


def _topics(text: str) -> list[tuple[int, str]]:
    """(where a list item's body starts, the item's label) for each "- Label ∞ ..." item of the text."""
    return [(m.end(), m.group(1).strip()) for m in _ITEM.finditer(text)]


def units(n: int, chunk: Chunk) -> list[Unit]:
    """The passage's sentences (a reference entry whole, as the grammar quotes them); a table row's cells."""
    if chunk.kind == "table_row":
        return [Unit(n, text, label) for label, text in table_cells(chunk)]
    topics = _topics(chunk.text)
    out, at = [], 0
    for text in sentence_units(chunk):
        start = chunk.text.find(text, at)
        at = max(at, start)
        # the item the sentence sits in, unless the sentence holds the item's label itself
        inside = [label for begin, label in topics if begin <= start and "\n\n" not in chunk.text[begin:start]]
        if text.strip():
            out.append(Unit(n, text.strip(), topic=inside[-1] if inside else ""))
    return out


_SUBJECTS = {"nsubj", "nsubjpass", "expl", "csubj"}


def is_instruction(text: str) -> bool:
    """The unit tells someone what to do ("Ignore previous instructions", "do not quote any passage"): a
    base-form verb with no subject of its own or of the verb it is joined to, and no modal, "to" or
    "does"/"did". On the corpus as shipped no unit of the article or its references counts as one.

    Why: the units are picked by similarity to the question alone, so a document's instruction to the
    assistant that names the question's words would be shown as evidence. A source states; it does not
    instruct. (The model's own quotes are kept to the passages the grammar allows and are not filtered.)
    """
    from assistant.syntax import parse

    for t in parse(text):
        if t.tag_ != "VB" or t.dep_ not in ("ROOT", "conj", "acl", "dep", "ccomp", "parataxis"):
            continue
        governor = t
        while governor.dep_ == "conj" and governor.head is not governor:
            governor = governor.head
        kids = [*t.children, *governor.children]
        # "does"/"did" agree with a third-person subject the parser may have attached elsewhere
        if not any(k.dep_ in _SUBJECTS for k in kids) and not any(
            k.dep_ in ("aux", "auxpass") and k.tag_ in ("MD", "TO", "VBZ", "VBD") for k in kids
        ):
            return True
    return False


def _quoted(unit: Unit, quotes: Sequence[str]) -> bool:
    body = unit.text.rstrip(". ")
    return any(body in q or q.strip().rstrip(". ") in unit.text for q in quotes if q.strip())


def related(
    chunks: Sequence[Chunk],
    quotes: Sequence[str],
    query_vector: Sequence[float],
    embed: Callable[[list[str]], list[list[float]]],
    k: int,
) -> list[Unit]:
    """The ``k`` units of ``chunks`` most similar to the question that no quote already covers, in passage order."""
    if k <= 0:
        return []
    pool = [u for n, c in enumerate(chunks, 1) for u in units(n, c) if not _quoted(u, quotes)]
    if not pool:
        return []
    vecs = np.asarray(embed([u.embed_text() for u in pool]), dtype=np.float32)
    q = np.asarray(query_vector, dtype=np.float32)
    sims = vecs @ q / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(q) + 1e-9)
    best: list[int] = []
    for i in np.argsort(-sims, kind="stable").tolist():  # parsed only as far as needed
        if len(best) == k:
            break
        if not is_instruction(pool[i].text):
            best.append(i)
    return [pool[i] for i in sorted(best)]
