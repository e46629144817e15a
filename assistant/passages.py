"""What the model is shown of a retrieved passage, and the sentence units it is cut into.

Why a module of its own: the prompt (:mod:`assistant.chain`), the quote
grammar (:mod:`assistant.grammar`), the evidence units beside the answer
(:mod:`assistant.evidence`) and context pruning (:mod:`assistant.pruning`) must
cut a passage into the same units, or a quote the grammar allows would not be
a sentence the model was shown, and a pruned passage would not verify against
its chunk. Context pruning is optional; these types are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.chunking import Chunk, split_sentences


@dataclass(frozen=True)
class Shown:
    """What the model is shown of one passage: exact sentence slices of the chunk text."""

    chunk: Chunk
    sentences: tuple[str, ...]

    def text(self) -> str:
        """The passage as the prompt shows it: a table row under its header, so its cells keep their meaning."""
        body = " ".join(self.sentences)
        return f"{self.chunk.header}\n{body}" if self.chunk.header else body


def units(chunk: Chunk) -> list[str]:
    """A passage's sentences; table rows and reference entries are short and atomic: one unit each."""
    if chunk.kind in ("table_row", "reference"):
        return [chunk.text]
    spans = split_sentences(chunk.text)
    return [chunk.text[s:e] for s, e in spans] or [chunk.text]


def whole(chunks: Sequence[Chunk]) -> list[Shown]:
    """Every unit of every passage: what the model reads when nothing is pruned."""
    return [Shown(c, tuple(units(c))) for c in chunks]
