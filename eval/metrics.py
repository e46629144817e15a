"""The metrics of an evaluation run.

Deterministic metrics (retrieval against gold passages, quote verification,
abstention, latency) need no judge. LLM-judged metrics are ragas metrics, so
our claim-level faithfulness appears beside ragas' standard ones and runs
through the same ``single_turn_ascore`` interface.
"""

from __future__ import annotations

import asyncio
import logging
import typing as t
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from ragas.dataset_schema import SingleTurnSample
from ragas.metrics.base import MetricType, SingleTurnMetric

from eval.claims import ClaimVerdict, claim_faithfulness
from eval.gold import retrieval_scores
from eval.judge import Judge

log = logging.getLogger(__name__)

#: metrics judged by an LLM (their NaN rate is reported) and which of them measure faithfulness
STANDARD = ("faithfulness", "answer_relevancy", "llm_context_precision_with_reference", "context_recall",
            "non_llm_context_recall")
OURS = ("claim_faithfulness",)
FAITHFULNESS_METRICS = ("claim_faithfulness", "faithfulness")
JUDGE_TARGETS = {"claim_faithfulness": 0.9}


def deterministic_scores(turn: dict, answer: dict) -> tuple[dict[str, float], dict[str, str]]:
    """Scores that need no judge, and their reasons; a metric that does not apply to the turn is absent.

    ``turn`` is one scored turn of a case (expected, must, must_not, gold); ``answer`` the chain's answer.
    """
    from eval.correct import check

    scores: dict[str, float] = {}
    reasons: dict[str, str] = {}
    answerable = turn.get("expected") == "answer"
    if answerable:
        scores.update(retrieval_scores([c["text"] for c in answer["contexts"]], turn.get("gold") or []))
        scores["false_refusal"] = float(bool(answer["abstained"]))
        if turn.get("must") or turn.get("must_not"):
            if answer["abstained"]:
                scores["answer_correct"], reasons["answer_correct"] = 0.0, "refused"
            else:
                verdict = check(answer["answer"], turn.get("must") or [], turn.get("must_not") or [])
                scores["answer_correct"], reasons["answer_correct"] = float(verdict.correct), verdict.reasons()
    quotes = [c for c in answer["citations"] if c.get("quote")]
    if quotes:
        scores["quote_verification"] = sum(bool(c["verified"]) for c in quotes) / len(quotes)
    scores["abstention_accuracy"] = float(answer["abstained"] == (turn.get("expected") == "abstain"))
    scores["latency_s"] = float(answer["timings"]["total_s"])
    return scores, reasons


@dataclass
class ClaimFaithfulness(SingleTurnMetric):
    """Our faithfulness for small judges (see eval/claims.py), as a ragas metric.

    ``verdicts`` keeps the last sample's per-claim verdicts so the runner can
    store them as the score's reasons.
    """

    name: str = "claim_faithfulness"
    _required_columns: t.Dict[MetricType, t.Set[str]] = field(  # noqa: UP006
        default_factory=lambda: {MetricType.SINGLE_TURN: {"response", "retrieved_contexts"}}
    )
    judge: Judge | None = None
    embed: Callable[[Sequence[str]], np.ndarray] | None = None
    verdicts: list[ClaimVerdict] = field(default_factory=list)

    def init(self, run_config) -> None:  # no ragas LLM to set up
        return None

    def score_sample(self, response: str, contexts: Sequence[str]) -> float:
        assert self.judge is not None and self.embed is not None, "ClaimFaithfulness needs a judge and an embedder"
        score, self.verdicts = claim_faithfulness(response, contexts, self.judge, self.embed)
        return float("nan") if score is None else score

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        return self.score_sample(sample.response or "", sample.retrieved_contexts or [])

    def reasons(self) -> str:
        return "\n".join(f"{v.score:.2f} [{v.how}] {v.claim}" for v in self.verdicts)


def standard_metrics(names: Sequence[str], llm, embeddings) -> dict[str, SingleTurnMetric]:
    """ragas' standard metrics with the given judge (a ragas LLM wrapper) and embeddings."""
    from ragas.metrics import (
        Faithfulness,
        LLMContextPrecisionWithReference,
        LLMContextRecall,
        NonLLMContextRecall,
        ResponseRelevancy,
    )
    from ragas.run_config import RunConfig

    factories: dict[str, Callable[[], SingleTurnMetric]] = {
        "faithfulness": lambda: Faithfulness(llm=llm),
        # strictness 1: one generated question instead of three, a third of the judge time on a 1.5B model
        "answer_relevancy": lambda: ResponseRelevancy(llm=llm, embeddings=embeddings, strictness=1),
        "llm_context_precision_with_reference": lambda: LLMContextPrecisionWithReference(llm=llm),
        "context_recall": lambda: LLMContextRecall(llm=llm),
        "non_llm_context_recall": lambda: NonLLMContextRecall(),
    }
    out = {n: factories[n]() for n in names if n in factories}
    config = RunConfig(max_workers=1, timeout=600, max_retries=1)
    for m in out.values():
        m.init(config)
    return out


def needs(metric: str, case: dict, answer: dict) -> bool:  # case: one scored turn's expectations
    """Whether a metric applies: faithfulness-type metrics need an answer that was given; reference-based
    ones need a reference and gold passages."""
    if metric in ("claim_faithfulness", "faithfulness", "answer_relevancy"):
        return not answer["abstained"] and bool(answer["contexts"]) and bool(prose_of(answer).strip())
    if metric in ("llm_context_precision_with_reference", "context_recall"):
        return case.get("expected") == "answer" and bool(answer["contexts"]) and bool(case.get("reference"))
    if metric == "non_llm_context_recall":
        return bool(case.get("gold")) and bool(answer["contexts"])
    return True


def prose_of(answer: dict) -> str:
    """The model's own checked sentences: what a faithfulness metric judges (the quotes that follow them in
    ``answer`` are verbatim by construction and would only inflate the score)."""
    return answer["prose"] if "prose" in answer else answer["answer"]


def shown_contexts(answer: dict) -> list[str]:
    """What the model read of each passage (after context pruning): the evidence its answer is judged on."""
    return [c.get("shown") or c["text"] for c in answer["contexts"]]


def sample_for(case: dict, answer: dict, metric: str = "") -> SingleTurnSample:
    contexts = shown_contexts(answer)
    if metric == "non_llm_context_recall":
        # gold passages are sentences: compare them with sentences, not with whole chunks (a string
        # similarity of a 120-character sentence to a 450-character chunk never reaches the threshold)
        from assistant.chunking import split_sentences

        contexts = [c[s:e] for c in contexts for s, e in split_sentences(c)]
    return SingleTurnSample(
        user_input=answer["query"] or answer["question"],
        response=prose_of(answer),
        retrieved_contexts=contexts,
        reference=case.get("reference") or None,
        reference_contexts=case.get("gold") or None,
    )


def score(metric: SingleTurnMetric, sample: SingleTurnSample) -> tuple[float | None, str]:
    """One metric on one sample: (score or None when the judge failed, reasons)."""
    try:
        value = asyncio.run(metric.single_turn_ascore(sample))
    except Exception as exc:  # a judge that breaks the schema is a NaN, counted, not a crash
        log.warning("%s failed: %s", metric.name, exc)
        return None, f"error: {exc}"
    reasons = metric.reasons() if isinstance(metric, ClaimFaithfulness) else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, reasons or "judge output could not be parsed"
    return float(value), reasons
