"""Each of ragas' standard metrics returns a number with the local judge (slow: the real 1.5B model).

A metric that errored on every sample used to drop out of the summary quietly (answer_relevancy never
produced a score: ragas wants a model *name* where the project passed the model object); these tests make
such a break visible."""

from __future__ import annotations

import math

import pytest
from ragas.dataset_schema import SingleTurnSample

from assistant.settings import Settings

pytestmark = pytest.mark.llm

FSH = "FSH, on the other hand, acts directly on the Sertoli cells, which are crucial for supporting sperm cells."
SAMPLE = SingleTurnSample(
    user_input="Which cells does FSH act on?",
    response="FSH acts directly on the Sertoli cells.",
    retrieved_contexts=[FSH],
    reference="FSH acts directly on the Sertoli cells.",
    reference_contexts=[FSH],
)


@pytest.fixture(scope="module")
def metrics(ingested_settings: Settings):
    from ragas.embeddings import LangchainEmbeddingsWrapper

    from assistant.embeddings import LocalEmbeddings
    from eval.judge import ragas_llm
    from eval.metrics import STANDARD, standard_metrics
    from eval.run import RagasEmbeddings

    llm = ragas_llm("local", ingested_settings.updated(llm={"max_tokens": 512}))
    return standard_metrics(STANDARD, llm, LangchainEmbeddingsWrapper(RagasEmbeddings(LocalEmbeddings())))


@pytest.mark.parametrize("name", ["faithfulness", "answer_relevancy", "llm_context_precision_with_reference",
                                  "context_recall", "non_llm_context_recall"])
def test_standard_metric_returns_a_number_with_the_local_judge(metrics, name: str) -> None:
    from eval.metrics import score

    value, why = score(metrics[name], SAMPLE)
    assert value is not None and not math.isnan(value), why
    assert 0.0 <= value <= 1.0
