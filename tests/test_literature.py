"""The literature gate: is a question about the cited works themselves (so a reference entry may answer it)?"""

from assistant.embeddings import LocalEmbeddings
from assistant.literature import LiteratureGate


def test_literature_gate_on_questions_it_was_not_trained_on() -> None:
    """Worded unlike any training question (the training set is eval/gates.py's dev split)."""
    gate = LiteratureGate(LocalEmbeddings().embed_query)
    for q in ["Which paper in the bibliography is the oldest one?",
              "Who were the authors behind the gonadotropin article in Andrologia?",
              "Give me the journal name for the O'Donnell reference."]:
        assert gate.asks(q), (q, gate.probability(q))
    for q in ["How does anastrozole work for male infertility?", "What does hCG do to Leydig cells?",
              "Why might a doctor add anastrozole after TRT?", "Do studies show clomiphene raises LH?"]:
        assert not gate.asks(q), (q, gate.probability(q))


def test_the_literature_model_file_is_measured_on_the_frozen_split() -> None:
    """Figures, not a timed test: the shipped model on the test split it never saw (README: question gates)."""
    from eval.gates import GATES, measure

    m = measure(GATES["literature"], "test")
    assert m["n"] >= 60 and m["accuracy"] >= 0.9, m
    assert m["fp"] <= 2, m["wrong"]  # topic questions that would lose the reference entries' competition
