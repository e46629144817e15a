"""A question's premise, read out and checked like a claim: contradicted, the answer says so first and
drops what restates it; true, nothing changes."""

from __future__ import annotations

import pytest

from assistant.premise import premise_of, proposition_of, restates
from assistant.verify import verify


@pytest.mark.parametrize(
    ("question", "premise"),
    [
        ("Since clomiphene is an aromatase inhibitor, how does it reduce estrogen production?",
         "clomiphene is an aromatase inhibitor"),
        ("Why is anastrozole FDA-approved for male infertility?", "anastrozole is FDA-approved for male infertility"),
        ("Why does gonadorelin act straight on the testicles?", "gonadorelin act straight on the testicles"),
        ("How come clomiphene raises LH?", "clomiphene raises LH"),
        ("I read the article. Why is FSH important for spermatogenesis?", "FSH is important for spermatogenesis"),
        ("Why isn't TRT used for fertility?", ""),  # a negative premise: not judged
        ("What is hCG?", ""),
    ],
)
def test_the_premise_is_read_from_the_question(question: str, premise: str) -> None:
    assert premise_of(question) == premise


def test_a_claim_restates_a_premise_only_with_its_names() -> None:
    def names(text: str) -> set[str]:
        return {w for w in ("hcg", "sertoli", "leydig") if w in text.lower()}

    premise = "hCG works on the Sertoli cells"
    assert restates("Since hCG works on the Sertoli cells, it helps sperm production", premise, names)
    assert not restates("hCG works on the Leydig cells", premise, names)  # another name in its place: a correction


def _passages(retriever, question: str) -> list[str]:
    att = retriever.attributor()
    return [r.chunk.prompt_text() for r in retriever.retrieve_covering(question, att.named_in(question))]


def test_a_contradicted_premise_leads_the_answer_and_its_restatement_goes(retriever) -> None:
    att = retriever.attributor()
    question = "Since TRT boosts sperm production, why isn't it the go-to fertility treatment?"
    # the local model's real draft: the premise adopted, then contradicted by the rest of the sentence
    draft = ("Since TRT boosts sperm production, it isn't the go-to fertility treatment because it can suppress "
             "endogenous LH and FSH production, leading to reduced sperm count or even azoospermia [1].")
    got = verify(draft, _passages(retriever, question), att, att.first_named(question), question=question)
    assert got.note == "The sources do not support the question's premise that TRT boosts sperm production."
    assert [(c.kept, c.how) for c in got.checks] == [(False, "premise")]
    assert "sources contradict" in got.checks[0].reason and got.prose == ""


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Why does anastrozole lower estrogen?", "Anastrozole blocks the aromatase enzyme [1]."),
        ("Why does LH stimulate the Leydig cells?", "LH stimulates the Leydig cells to produce testosterone [1]."),
    ],
)
def test_a_premise_the_sources_state_changes_nothing(retriever, question: str, answer: str) -> None:
    att = retriever.attributor()
    got = verify(answer, _passages(retriever, question), att, att.first_named(question), question=question)
    assert got.note == "" and got.prose == answer and not got.removed, got.checks


@pytest.mark.parametrize(
    ("question", "proposition"),
    [
        ("Does LH work directly on the Sertoli cells?", "LH works directly on the Sertoli cells"),
        ("Do anastrozole and clomiphene both block the aromatase enzyme?",
         "Anastrozole and clomiphene both block the aromatase enzyme"),
        ("Is hCG given as an injection?", "hCG is given as an injection"),
        ("Does the use of anastrozole in men count as off-label?",
         "The use of anastrozole in men counts as off-label"),
        ("Can estrogen be good for sperm at all?", "Estrogen can be good for sperm at all"),
        ("Isn't anastrozole a SERM?", ""),  # negative: not judged
        ("What is hCG?", ""),
    ],
)
def test_a_yes_no_question_is_read_as_the_statement_it_asks_about(question: str, proposition: str) -> None:
    assert proposition_of(question) == proposition


def test_a_yes_no_question_the_sources_contradict_gets_a_note_whatever_the_draft_says(retriever) -> None:
    att = retriever.attributor()
    question = "Do SERMs block the aromatase enzyme?"
    passages = [r.chunk.prompt_text() for r in retriever.retrieve_covering(question, att.named_in(question))]
    # a draft that restates nothing: the question's own proposition is checked
    got = verify("SERMs act on estrogen receptors.", passages, att, att.first_named(question), question=question)
    assert got.note == "The sources do not support that SERMs block the aromatase enzyme.", got.checks
    question = "Does hCG stimulate the Leydig cells?"
    passages = [r.chunk.prompt_text() for r in retriever.retrieve_covering(question, att.named_in(question))]
    assert verify("It acts like LH.", passages, att, att.first_named(question), question=question).note == ""


def test_a_why_question_about_two_things_keeps_both_in_its_premise() -> None:
    assert premise_of("Why are clomiphene and tamoxifen both SERMs?") == "clomiphene and tamoxifen are both SERMs"
