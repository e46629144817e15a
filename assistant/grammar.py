"""Grammar-constrained output for the local model: quotes can only be real sentences.

Why: a 1.5B model asked to "copy a sentence exactly" often paraphrases or
invents one. With llama.cpp's GBNF grammars the quote lines are restricted to
the sentences of the retrieved passages, so every quote is verbatim by
construction, and the answer line that follows is written after the model has
committed to its evidence. The prose answer stays free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.passages import Shown

MAX_QUOTES = 3
MIN_UNIT_CHARS = 20  # shorter units (a table's row label) say nothing on their own


def passage_sentences(passage: Shown) -> list[str]:
    """Quotable units of a passage as shown to the model: its sentences, a table row's cells, a reference whole."""
    if passage.chunk.kind == "table_row":
        units = [c.strip() for c in passage.chunk.text.strip().strip("|").split("|")]
    else:
        units = list(passage.sentences)
    return [u for u in units if len(u) >= MIN_UNIT_CHARS]


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def quote_grammar(passages: Sequence[Shown], refusal: str, numbers: Sequence[int] | None = None) -> str:
    """GBNF: either the refusal alone, or 1-3 quote lines of real sentences then an answer line.

    ``numbers`` are the labels the model knows the passages by (default 1..k; in corpus mode, their place
    in the whole corpus)."""
    rules = []
    alts = []
    for n, passage in zip(numbers or range(1, len(passages) + 1), passages, strict=True):
        sents = passage_sentences(passage)
        if not sents:
            continue
        rules.append(f"s{n} ::= " + " | ".join(_lit(s) for s in sents))
        alts.append(f'"[{n}] \\"" s{n} "\\"\\n"')
    if not alts:
        return f"root ::= {_lit(refusal)}"
    opt = " ".join(["qline?"] * (MAX_QUOTES - 1))
    head = [
        f"root ::= refusal | {_lit('Quotes:')} \"\\n\" qline {opt} answer",
        f"refusal ::= {_lit(refusal)}",
        "qline ::= " + " | ".join(alts),
        'answer ::= "Answer: " [^\\n]+',
    ]
    return "\n".join(head + rules)


_OPEN_QUOTE = re.compile(r'\[(\d+)\] "([^"\n]*)$')


def quote_forcing(
    passages: Sequence[Shown], refusal: str, numbers: Sequence[int] | None = None
) -> Callable[[str], str | None]:
    """What the grammar of :func:`quote_grammar` forces next, given the output so far.

    Inside a quote, once the text typed matches the start of exactly one
    allowed sentence, the rest of that sentence and the closing quote are
    forced; at the start, once the output can only be the refusal, the rest of
    the refusal is. The decoder (``assistant.engine``) evaluates forced text in
    one batch instead of token by token.
    """
    sentences = {n: passage_sentences(p) for n, p in zip(numbers or range(1, len(passages) + 1), passages,
                                                          strict=True)}

    def forced(text: str) -> str | None:
        m = _OPEN_QUOTE.search(text)
        if m and "\n" not in text[m.start():]:
            partial = m.group(2)
            candidates = [s for s in sentences.get(int(m.group(1)), []) if s.startswith(partial)]
            if len(candidates) == 1 and len(candidates[0]) > len(partial):
                return candidates[0][len(partial):] + '"\n'
            return None
        if text and refusal.startswith(text) and not "Quotes:".startswith(text) and len(text) < len(refusal):
            return refusal[len(text):]
        return None

    return forced
