"""The question gates (assistant/classifier.py): advice (refused) and literature (reference entries may answer)."""

import pytest

from assistant.advice import AdviceGate
from assistant.embeddings import LocalEmbeddings
from assistant.literature import LiteratureGate
from eval.gates import GATES, measure

# worded unlike any training question (the training sets are eval/gates.py's dev splits)
UNSEEN = {
    "advice": (AdviceGate,
               ["Should I quit my testosterone shots so we can have a baby?",
                "What's the right amount of letrozole for me to take weekly?",
                "My E2 is 70 - do I need anastrozole?"],
               ["How much does anastrozole lower estradiol?", "What dose was studied?",
                "Why do men take anastrozole?", "What should a man on anastrozole watch for?"]),
    "literature": (LiteratureGate,
                   ["Which paper in the bibliography is the oldest one?",
                    "Who were the authors behind the gonadotropin article in Andrologia?",
                    "Give me the journal name for the O'Donnell reference."],
                   ["How does anastrozole work for male infertility?", "What does hCG do to Leydig cells?",
                    "Why might a doctor add anastrozole after TRT?", "Do studies show clomiphene raises LH?"]),
}


@pytest.mark.parametrize("name", sorted(UNSEEN))
def test_gate_on_questions_it_was_not_trained_on(name: str) -> None:
    cls, yes, no = UNSEEN[name]
    gate = cls(LocalEmbeddings().embed_query)
    for q in yes:
        assert gate.asks(q), (q, gate.probability(q))
    for q in no:
        assert not gate.asks(q), (q, gate.probability(q))


def test_a_gate_reads_a_vector_as_it_reads_the_question() -> None:
    """The chain embeds the question once and hands the vector to both gates."""
    embed = LocalEmbeddings().embed_query
    gate = AdviceGate(embed)
    q = "My E2 is 70 - do I need anastrozole?"
    assert gate.probability_of(embed(q)) == gate.probability(q) and gate.asks_of(embed(q)) == gate.asks(q)


@pytest.mark.parametrize("name", sorted(GATES))
def test_the_model_file_is_measured_on_the_frozen_split(name: str) -> None:
    """Figures, not a timed test: the shipped model on the test split it never saw (README: the gates)."""
    m = measure(GATES[name], "test")
    assert m["n"] >= 60 and m["accuracy"] >= 0.9, m
    assert m["fp"] <= 2, m["wrong"]  # questions of another kind caught: refused, or denied the passages they need
