"""Context pruning keeps the sentences that answer, as exact slices, and the grammar follows what is shown."""

from __future__ import annotations

from llama_cpp import LlamaGrammar

from assistant.chunking import Chunk
from assistant.grammar import quote_grammar
from assistant.passages import units, whole
from assistant.pruning import prune

LH = (
    "LH then stimulates the Leydig cells within the testes to produce testosterone, the primary male sex hormone. "
    "FSH, on the other hand, acts directly on the Sertoli cells, which are crucial for supporting and nourishing "
    "developing sperm cells. This process is known as spermatogenesis and takes about seventy days."
)
SIDE = (
    "Anastrozole is generally well tolerated in men. While generally well-tolerated, potential side effects, "
    "though rare, include changes in lipid profiles, bone mineral density, and mood alterations. Regular clinical "
    "oversight is therefore necessary during treatment."
)
ROW = "| hCG (LH-like) | Leydig Cells (direct stimulation) | Stimulates testosterone production. |"


def _chunk(text: str, kind: str = "text", header: str = "", n: int = 0) -> Chunk:
    return Chunk(id=f"c{n}", source="a.md", text=text, start=0, end=len(text), section="S", kind=kind,
                 header=header, index=n)


def _budget_case(retriever, question: str, budget: int):
    chunks = [_chunk(LH, n=0), _chunk(SIDE, n=1), _chunk(ROW, "table_row", "| Treatment | Target | Effect |", 2)]
    emb = retriever.embeddings
    return chunks, prune(chunks, emb.embed_query(question), emb.embed_documents, budget)


def test_a_generous_budget_sends_whole_passages(retriever) -> None:
    chunks, shown = _budget_case(retriever, "Which cells respond to FSH?", 10_000)
    assert shown == whole(chunks)
    assert shown[2].text() == "| Treatment | Target | Effect |\n" + ROW  # a table row keeps its header


def test_pruning_keeps_the_answering_sentences_as_exact_slices(retriever) -> None:
    chunks, shown = _budget_case(retriever, "Which cells in the testes does FSH act on?", 300)
    fsh = units(chunks[0])[1]
    assert fsh in shown[0].sentences
    assert all(len(x.sentences) >= 1 for x in shown)  # every passage keeps its best sentence
    for x in shown:
        assert all(s in x.chunk.text for s in x.sentences)  # quotes copied from them verify against the chunk
        order = [x.chunk.text.index(s) for s in x.sentences]
        assert order == sorted(order)
    kept = sum(len(s) + 1 for x in shown for s in x.sentences)
    full = sum(len(s) + 1 for c in chunks for s in units(c))
    assert kept < full


def test_a_pronoun_sentence_brings_its_antecedent(retriever) -> None:
    chunks, shown = _budget_case(retriever, "What is spermatogenesis and how long does it take?", 250)
    first = units(chunks[0])
    assert first[2] in shown[0].sentences  # "This process is known as spermatogenesis..."
    assert first[1] in shown[0].sentences  # ...says which process: the FSH/Sertoli sentence before it
    assert first[0] not in shown[0].sentences


def test_the_quote_grammar_offers_only_what_the_model_was_shown(retriever) -> None:
    chunks, shown = _budget_case(retriever, "Which cells in the testes does FSH act on?", 300)
    dropped = [s for c, x in zip(chunks, shown, strict=True) for s in units(c) if s not in x.sentences]
    assert dropped
    gbnf = quote_grammar(shown, "The sources do not cover this question.")
    LlamaGrammar.from_string(gbnf, verbose=False)  # valid GBNF
    assert all(s not in gbnf for s in dropped)
    assert "Stimulates testosterone production." in gbnf  # a table row is quotable cell by cell
