"""Our metrics on fixed inputs. The judges here are scripted fakes (named as such): they test the
plumbing and the deterministic parts, not the judgement; tests/test_eval_run.py runs the real judge."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.cache import Cache, key
from eval.claims import claim_faithfulness, evidence_for, is_verbatim, split_claims
from eval.gold import retrieval_scores
from eval.metrics import ClaimFaithfulness, deterministic_scores, needs, sample_for, score

CONTEXTS = [
    "Anastrozole works by selectively inhibiting the aromatase enzyme, which is responsible for converting "
    "androgens, including testosterone, into estrogens. It is taken by mouth.",
    "This medication is a Selective Estrogen Receptor Modulator (SERM). Clomiphene works by competitively "
    "binding to estrogen receptors in the hypothalamus and pituitary.",
]


class FakeScriptedJudge:
    """Answers P(yes) from a script keyed by a word of the statement; records every call."""

    name = "fake-scripted"

    def __init__(self, script: dict[str, float], default: float = 0.5) -> None:
        self.script = script
        self.default = default
        self.calls: list[str] = []

    def p_yes(self, system: str, user: str) -> float:
        self.calls.append(user)
        statement = user.split("Statement:")[1]
        return next((p for word, p in self.script.items() if word in statement), self.default)


def fake_embed(texts) -> np.ndarray:
    """Bag-of-words vectors over a tiny vocabulary: enough to test alignment deterministically."""
    vocab = ["aromatase", "estrogen", "receptor", "serm", "clomiphene", "anastrozole", "mouth", "pituitary"]
    rows = []
    for t in texts:
        low = t.lower()
        v = np.array([low.count(w) for w in vocab], dtype=float) + 1e-3
        rows.append(v / np.linalg.norm(v))
    return np.array(rows)


def test_split_claims_drops_citations_and_splits_contrasts() -> None:
    claims = split_claims(
        "Anastrozole inhibits aromatase [1], whereas clomiphene blocks estrogen receptors [2]. It is a SERM; "
        "it acts centrally. Yes."
    )
    assert claims == ["Anastrozole inhibits aromatase", "clomiphene blocks estrogen receptors", "It is a SERM",
                      "it acts centrally"]


def test_verbatim_claims_ignore_case_quotes_and_spacing_only() -> None:
    assert is_verbatim("anastrozole  works by selectively inhibiting the aromatase enzyme", CONTEXTS)
    assert not is_verbatim("anastrozole works by blocking the aromatase enzyme", CONTEXTS)


def test_evidence_prefers_aligned_sentences_and_resolves_pronouns() -> None:
    from eval.claims import _sentences

    sents = _sentences(CONTEXTS)
    # the pronoun sentence carries its predecessor so the judge knows what "It" is
    assert any(s.startswith("Anastrozole works") and s.endswith("taken by mouth.") for _, s in sents)
    vecs = fake_embed([s for _, s in sents])
    ev = evidence_for("Clomiphene binds estrogen receptors in the pituitary", sents, vecs,
                      fake_embed(["Clomiphene binds estrogen receptors in the pituitary"])[0])
    assert "competitively binding to estrogen receptors" in ev


def test_claim_faithfulness_skips_the_judge_for_quotes_and_invented_amounts() -> None:
    judge = FakeScriptedJudge({"SERM": 0.9})
    answer = ("Anastrozole works by selectively inhibiting the aromatase enzyme [1]. Clomiphene is a SERM [2]. "
              "The usual dose is 1 mg daily.")
    value, verdicts = claim_faithfulness(answer, CONTEXTS, judge, fake_embed)
    assert [v.how for v in verdicts] == ["quote", "judge", "amount"]
    assert len(judge.calls) == 1 and "Clomiphene is a SERM" in judge.calls[0]
    assert value == pytest.approx((1.0 + 0.9 + 0.0) / 3)


def test_claim_faithfulness_ranks_a_half_right_answer_lower() -> None:
    judge = FakeScriptedJudge({"epididymis": 0.05, "SERM": 0.95})
    good, _ = claim_faithfulness("Clomiphene is a SERM. It binds receptors as a SERM does.", CONTEXTS, judge,
                                 fake_embed)
    half, _ = claim_faithfulness("Clomiphene is a SERM. It acts on the epididymis directly.", CONTEXTS, judge,
                                 fake_embed)
    assert good is not None and half is not None and good > half


def test_no_claims_or_no_context_is_not_applicable() -> None:
    judge = FakeScriptedJudge({})
    assert claim_faithfulness("Yes.", CONTEXTS, judge, fake_embed)[0] is None
    assert claim_faithfulness("Clomiphene is a SERM.", [], judge, fake_embed)[0] is None
    assert not judge.calls


def test_claim_metric_runs_through_ragas_and_keeps_reasons() -> None:
    metric = ClaimFaithfulness(judge=FakeScriptedJudge({"SERM": 0.8}), embed=fake_embed)
    case = {"expected": "answer", "reference": "r", "gold": []}
    answer = {"question": "q", "query": "q", "answer": "Clomiphene is a SERM [2].", "abstained": False,
              "contexts": [{"text": c} for c in CONTEXTS], "citations": [], "timings": {"total_s": 1.0}}
    value, reasons = score(metric, sample_for(case, answer))
    assert value == pytest.approx(0.8)
    assert "[judge] Clomiphene is a SERM" in reasons


def test_a_failing_judge_is_a_null_score_not_a_crash() -> None:
    class FakeBrokenJudge:
        name = "fake-broken"

        def p_yes(self, system: str, user: str) -> float:
            raise RuntimeError("endpoint closed")

    metric = ClaimFaithfulness(judge=FakeBrokenJudge(), embed=fake_embed)
    answer = {"question": "q", "query": "q", "answer": "Clomiphene is a SERM.", "abstained": False,
              "contexts": [{"text": c} for c in CONTEXTS], "citations": [], "timings": {"total_s": 1.0}}
    value, reasons = score(metric, sample_for({"expected": "answer"}, answer))
    assert value is None and "endpoint closed" in reasons


def test_retrieval_scores_against_gold() -> None:
    gold = ["Clomiphene works by competitively binding to estrogen receptors"]
    assert retrieval_scores(CONTEXTS, gold) == {"hit@1": 0.0, "hit@3": 1.0, "mrr": 0.5}
    assert retrieval_scores(CONTEXTS[:1], gold) == {"hit@1": 0.0, "hit@3": 0.0, "mrr": 0.0}
    assert retrieval_scores(CONTEXTS, []) == {}


def test_deterministic_scores_and_applicability() -> None:
    answer = {"answer": "x", "abstained": True, "contexts": [{"text": CONTEXTS[0]}], "timings": {"total_s": 2.5},
              "citations": [{"quote": "a", "verified": True}, {"quote": "b", "verified": False}, {"quote": None}]}
    s, reasons = deterministic_scores({"expected": "abstain", "gold": []}, answer)
    assert s == {"quote_verification": 0.5, "abstention_accuracy": 1.0, "latency_s": 2.5} and reasons == {}
    s, reasons = deterministic_scores({"expected": "answer", "gold": ["selectively inhibiting the aromatase"],
                                       "must": [["aromatase"]]}, answer)
    assert s["abstention_accuracy"] == 0.0 and s["hit@1"] == 1.0 and s["false_refusal"] == 1.0
    assert s["answer_correct"] == 0.0 and reasons["answer_correct"] == "refused"
    answered = {**answer, "abstained": False, "answer": "It blocks the aromatase enzyme."}
    s, reasons = deterministic_scores({"expected": "answer", "gold": [], "must": [["aromatase"]],
                                       "must_not": ["estrogen receptors"]}, answered)
    assert s["answer_correct"] == 1.0 and s["false_refusal"] == 0.0
    assert not needs("claim_faithfulness", {}, answer)  # an abstention makes no claim to judge
    assert not needs("context_recall", {"expected": "abstain", "reference": "r"}, {**answer, "abstained": False})


def test_ragas_faithfulness_plumbing_with_a_scripted_fake_judge() -> None:
    """ragas' own Faithfulness through our wrapper, with a fake chat model that returns ragas' JSON."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from ragas.llms import LangchainLLMWrapper

    from eval.metrics import standard_metrics

    statements = json.dumps({"statements": ["Clomiphene is a SERM.", "Clomiphene is FDA-approved for men."]})
    verdicts = json.dumps({"statements": [
        {"statement": "Clomiphene is a SERM.", "reason": "passage 2", "verdict": 1},
        {"statement": "Clomiphene is FDA-approved for men.", "reason": "not stated", "verdict": 0},
    ]})
    fake = FakeListChatModel(responses=[statements, verdicts])
    metric = standard_metrics(["faithfulness"], LangchainLLMWrapper(fake), None)["faithfulness"]
    answer = {"question": "What is clomiphene?", "query": "What is clomiphene?", "abstained": False,
              "answer": "Clomiphene is a SERM that is FDA-approved for men.",
              "contexts": [{"text": c} for c in CONTEXTS], "citations": [], "timings": {"total_s": 1.0}}
    value, _ = score(metric, sample_for({"expected": "answer"}, answer))
    assert value == pytest.approx(0.5)


def test_cache_round_trip_and_counts(tmp_path) -> None:
    cache = Cache(tmp_path)
    k = key("answer", ["prompt-sha"], ["turn"])
    assert cache.get("answers", k) is None
    cache.put("answers", k, {"answer": "a"})
    assert cache.get("answers", k) == {"answer": "a"}
    assert (cache.hits, cache.misses) == (1, 1)
    assert key("answer", ["prompt-sha"], ["turn"]) == k != key("answer", ["other-prompt"], ["turn"])
    off = Cache(tmp_path, enabled=False)
    assert off.get("answers", k) is None


def test_non_llm_context_recall_finds_gold_sentences_inside_chunks() -> None:
    from eval.metrics import standard_metrics

    metric = standard_metrics(["non_llm_context_recall"], None, None)["non_llm_context_recall"]
    answer = {"question": "q", "query": "q", "answer": "a", "abstained": False, "citations": [],
              "contexts": [{"text": c} for c in CONTEXTS], "timings": {"total_s": 1.0}}
    found = {"gold": ["Clomiphene works by competitively binding to estrogen receptors in the hypothalamus and "
                      "pituitary."]}
    absent = {"gold": ["LH then stimulates the Leydig cells within the testes to produce testosterone."]}
    assert score(metric, sample_for(found, answer, "non_llm_context_recall"))[0] == 1.0
    assert score(metric, sample_for(absent, answer, "non_llm_context_recall"))[0] == 0.0
