"""Statistics, run comparison and report of the evaluation, on small hand-made run folders.

The inputs are fixed so every expected number below can be worked out by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from eval.compare import compare, main, render_comparison
from eval.report import CHART_FILE, write_report, write_summary
from eval.stats import (
    LOWER_IS_BETTER,
    RunFormatError,
    judge_accuracy,
    judge_accuracy_detail,
    load_run,
    mean_ci,
    metric_names,
    nan_rate,
    paired_diff_ci,
    summarise,
)

LONG_ANSWER = "Clomiphene is a SERM that blocks estrogen receptors. " * 40


def case(cid: str, category: str, scores: dict[str, float | None], *, answer: str = "", expected: str = "answer",
         abstained: bool = False, latency: float = 2.0, question: str | None = None) -> dict[str, Any]:
    return {
        "id": cid,
        "category": category,
        "expected": expected,
        "turns": [question or f"question {cid}?"],
        "question": question or f"question {cid}?",
        "answer": answer or f"answer {cid}",
        "abstained": abstained,
        "contexts": ["ctx"],
        "citations": [],
        "scores": scores,
        "reasons": {},
        "latency_s": latency,
    }


def jc(jid: str, error_type: str, faithful: float | None, unfaithful: float | None) -> dict[str, Any]:
    return {"id": jid, "error_type": error_type,
            "scores": {"claim_faithfulness": {"faithful": faithful, "unfaithful": unfaithful}}}


def write_run(root: Path, cases: list[dict[str, Any]], judge: list[dict[str, Any]], **meta: Any) -> Path:
    root.mkdir(parents=True)
    run_meta = {
        "id": root.name, "started": "2025-01-01T00:00:00", "git_commit": "abc123", "prompt": "answer-v1",
        "prompt_sha256": "p" * 64, "model_sha256": "m" * 64, "judge": "local-judge", "dataset": "questions.jsonl",
        "settings": {"k": 4}, "durations": {"answers_s": 10.0, "scoring_s": 5.0, "total_s": 15.0},
        "cache": {"hits": 3, "misses": 7},
    }
    run_meta.update(meta)
    (root / "run.json").write_text(json.dumps(run_meta), encoding="utf-8")
    (root / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    (root / "judge_check.jsonl").write_text("".join(json.dumps(r) + "\n" for r in judge), encoding="utf-8")
    return root


def s(cf: float | None, rel: float | None, hit: float | None, abst: float | None = 1.0) -> dict[str, float | None]:
    return {"claim_faithfulness": cf, "answer_relevancy": rel, "hit@3": hit, "abstention_accuracy": abst}


CASES_A = [
    case("c1", "mechanism", s(1.0, 0.9, 1.0), answer="A says anastrozole blocks aromatase."),
    case("c2", "mechanism", s(0.8, 0.8, 1.0)),
    case("c3", "comparison", s(1.0, 0.7, 0.0)),
    case("c4", "out_of_scope", s(None, None, None), expected="abstain", abstained=True, latency=1.0),
    case("c5", "comparison", s(0.5, 0.6, 1.0)),
    case("only-a", "mechanism", s(1.0, 1.0, 1.0), question="Only asked in A?"),
]
CASES_B = [
    case("c1", "mechanism", s(0.2, 0.9, 1.0), answer=LONG_ANSWER, question="How does anastrozole work?"),
    case("c2", "mechanism", s(0.8, 0.8, 1.0)),
    case("c3", "comparison", s(1.0, 0.7, 1.0)),
    case("c4", "out_of_scope", s(None, None, None), expected="abstain", abstained=True, latency=1.0),
    case("c5", "comparison", s(None, 0.6, 1.0)),
    case("only-b", "mechanism", s(1.0, 1.0, 1.0), question="Only asked in B?"),
]
JUDGE = [
    jc("j1", "swapped_mechanism", 1.0, 0.0),  # right
    jc("j2", "swapped_mechanism", 0.5, 0.5),  # tie: wrong
    jc("j3", "invented_dose", 0.2, 0.9),  # wrong
    jc("j4", "invented_dose", None, 0.1),  # null: wrong
]


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    a = write_run(tmp_path / "run-a", CASES_A, JUDGE)
    b = write_run(tmp_path / "run-b", CASES_B, [*JUDGE[:1], jc("j2", "swapped_mechanism", 0.9, 0.1)],
                  git_commit="def456")
    return a, b


# ---------------------------------------------------------------- stats


def test_mean_ci_ignores_nulls_and_contains_mean() -> None:
    m, lo, hi = mean_ci([1, 2, 3, 4, None, math.nan])
    assert m == pytest.approx(2.5)
    assert 1 <= lo < m < hi <= 4
    assert mean_ci([1, 2, 3, 4]) == mean_ci([4, None, 3, 2, 1])  # order and nulls do not change it (same seed)


def test_mean_ci_degenerate_and_narrows_with_more_data() -> None:
    assert all(math.isnan(x) for x in mean_ci([None, math.nan]))
    assert tuple(mean_ci([0.7])) == (0.7, 0.7, 0.7)
    assert tuple(mean_ci([0.5] * 10)) == pytest.approx((0.5, 0.5, 0.5))
    _, lo_small, hi_small = mean_ci([0, 1] * 5)
    _, lo_big, hi_big = mean_ci([0, 1] * 200)
    assert hi_big - lo_big < (hi_small - lo_small) / 3


def test_paired_diff_uses_only_cases_scored_in_both() -> None:
    d, lo, hi = paired_diff_ci([0.1, 0.2, 0.3, None, 0.9], [0.2, 0.3, 0.4, 0.9, None])
    assert (d, lo, hi) == pytest.approx((0.1, 0.1, 0.1))
    same = [0.3, 0.9, None, 0.1, 0.5]
    assert tuple(paired_diff_ci(same, same)) == (0.0, 0.0, 0.0)
    d, lo, hi = paired_diff_ci([0.9, 0.8, 0.7, 0.9, 0.6, 0.8], [0.5, 0.6, 0.2, 0.4, 0.3, 0.5])
    assert lo <= d <= hi < 0
    with pytest.raises(ValueError):
        paired_diff_ci([1.0], [1.0, 2.0])


def test_nan_rate() -> None:
    assert nan_rate([1.0, None, math.nan, 0.0]) == 0.5
    assert nan_rate([0.0]) == 0.0
    assert math.isnan(nan_rate([]))


def test_judge_accuracy_counts_ties_and_nulls_as_wrong() -> None:
    rows = [*JUDGE, {"id": "j5", "error_type": "x", "scores": {"other_metric": {"faithful": 1, "unfaithful": 0}}}]
    assert judge_accuracy(rows, "claim_faithfulness") == (0.25, 4)  # j5 lacks the metric: not counted
    d = judge_accuracy_detail(rows, "claim_faithfulness")
    assert (d.correct, d.ties, d.nulls) == (1, 1, 1)
    acc, n = judge_accuracy(rows, "missing_metric")
    assert n == 0 and math.isnan(acc)


def test_load_run_and_summarise(runs: tuple[Path, Path]) -> None:
    run = load_run(runs[0])
    assert run.id == "run-a" and len(run.cases) == 6 and len(run.judge_check) == 4
    assert metric_names(run.cases) == ["claim_faithfulness", "answer_relevancy", "hit@3", "abstention_accuracy",
                                       "latency_s"]
    summary = summarise(run.cases, run.judge_check, n_boot=200)
    cf = summary["metrics"]["claim_faithfulness"]
    assert cf["mean"] == pytest.approx((1.0 + 0.8 + 1.0 + 0.5 + 1.0) / 5)
    assert cf["n"] == 5 and cf["nan_rate"] == pytest.approx(1 / 6)
    assert cf["ci"][0] <= cf["mean"] <= cf["ci"][1]
    assert summary["metrics"]["latency_s"]["lower_is_better"] and "latency_s" in LOWER_IS_BETTER
    assert summary["categories"]["comparison"]["means"]["claim_faithfulness"] == pytest.approx(0.75)
    assert summary["categories"]["out_of_scope"]["means"]["claim_faithfulness"] is None
    judge = summary["judge_accuracy"]["claim_faithfulness"]
    assert (judge["accuracy"], judge["n"], judge["ties"], judge["nulls"]) == (0.25, 4, 1, 1)
    assert judge["by_error_type"]["swapped_mechanism"]["accuracy"] == 0.5
    assert judge["by_error_type"]["invented_dose"]["accuracy"] == 0.0
    assert summarise(run.cases, run.judge_check, n_boot=200) == summary  # deterministic
    json.dumps(summary, allow_nan=False)


def test_load_run_rejects_malformed(tmp_path: Path) -> None:
    with pytest.raises(RunFormatError, match="not found"):
        load_run(tmp_path / "nope")
    bad = write_run(tmp_path / "bad", CASES_A, JUDGE)
    (bad / "cases.jsonl").write_text('{"id": "x", "scores": {"hit@3": "high"}}\n', encoding="utf-8")
    with pytest.raises(RunFormatError, match="hit@3"):
        load_run(bad)
    (bad / "cases.jsonl").write_text('{"id": "x"}\n{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(RunFormatError, match="duplicate"):
        load_run(bad)


# ---------------------------------------------------------------- compare


def test_compare_finds_worse_better_and_unmatched_cases(runs: tuple[Path, Path]) -> None:
    c = compare(load_run(runs[0]), load_run(runs[1]), threshold=0.05, n_boot=200)
    assert [(w.case_id, [(m.metric, m.a, m.b) for m in w.moves]) for w in c.worse] == [
        ("c1", [("claim_faithfulness", 1.0, 0.2)])
    ]
    assert [(b.case_id, [m.metric for m in b.moves]) for b in c.better] == [("c3", ["hit@3"])]
    assert [(o.case_id, o.moves[0].metric) for o in c.one_sided] == [("c5", "claim_faithfulness")]
    assert [x["id"] for x in c.only_in_a] == ["only-a"] and [x["id"] for x in c.only_in_b] == ["only-b"]
    assert [m.name for m in c.regressions] == ["claim_faithfulness"]
    cf = next(m for m in c.metrics if m.name == "claim_faithfulness")
    assert cf.n_paired == 3 and cf.diff.mean == pytest.approx(-0.8 / 3)
    assert [(j.metric, j.a.accuracy, j.b.accuracy) for j in c.judge] == [("claim_faithfulness", 0.25, 1.0)]
    assert ("git_commit", "abc123", "def456") in c.meta_differences

    md = render_comparison(c)
    worse_section = md.split("## Got worse")[1].split("## Got better")[0]
    assert "`c1`" in worse_section and "How does anastrozole work?" in worse_section
    assert "A says anastrozole blocks aromatase." in worse_section  # both answers shown
    assert "Clomiphene is a SERM" in worse_section and LONG_ANSWER.strip() not in worse_section  # truncated
    assert "`c3`" in md.split("## Got better")[1]
    assert "only-a" in md and "only-b" in md and "Verdict: FAIL" in md


def test_compare_identical_runs_is_quiet(runs: tuple[Path, Path]) -> None:
    a = load_run(runs[0])
    c = compare(a, a, threshold=0.0, n_boot=200)
    assert not c.worse and not c.better and not c.one_sided and not c.regressions
    assert not c.only_in_a and not c.only_in_b
    for m in c.metrics:
        assert tuple(m.diff) == (0.0, 0.0, 0.0), m.name


def test_latency_threshold_is_relative(tmp_path: Path) -> None:
    base = [case(f"c{i}", "x", {"hit@3": 1.0}, latency=2.0) for i in range(4)]
    slow = [case(f"c{i}", "x", {"hit@3": 1.0}, latency=2.0 if i else 5.0) for i in range(4)]  # mean 2.0 -> 2.75
    a, b = load_run(write_run(tmp_path / "a", base, [])), load_run(write_run(tmp_path / "b", slow, []))
    assert [m.name for m in compare(a, b, threshold=0.3, n_boot=50).regressions] == ["latency_s"]  # +37.5%
    assert not compare(a, b, threshold=0.4, n_boot=50).regressions
    c = compare(a, b, threshold=None, n_boot=50)
    assert [w.case_id for w in c.worse] == ["c0"] and not c.regressions
    assert not compare(b, a, threshold=0.0, n_boot=50).regressions  # faster is never a regression


def test_metric_lost_in_b_is_a_regression(tmp_path: Path) -> None:
    a = load_run(write_run(tmp_path / "a", [case("c1", "x", {"faithfulness": 0.9})], []))
    b = load_run(write_run(tmp_path / "b", [case("c1", "x", {"faithfulness": None})], []))
    assert [m.name for m in compare(a, b, threshold=0.5, n_boot=50).regressions] == ["faithfulness"]


def test_main_exit_codes(runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = (str(p) for p in runs)
    assert main([a, b]) == 0  # no gate without --fail-on-regression
    assert "# Run comparison" in capsys.readouterr().out

    assert main([a, b, "--fail-on-regression", "0.05"]) == 1
    captured = capsys.readouterr()
    assert "claim_faithfulness" in captured.err and "REGRESSION" in captured.err

    out = tmp_path / "reports" / "cmp.md"
    assert main(["compare", a, b, "--fail-on-regression", "0.5", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Run comparison") and "Verdict: PASS" in out.read_text()
    assert main([a, a, "--fail-on-regression", "0"]) == 0
    assert main([a, b, "--out", str(out / "under-a-file.md")]) == 2  # cannot write: parent is a file
    assert "cannot write" in capsys.readouterr().err

    assert main([a, str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "run folder not found" in err and "Traceback" not in err

    (Path(b) / "cases.jsonl").write_text("{not json\n", encoding="utf-8")
    assert main([a, b]) == 2
    err = capsys.readouterr().err
    assert "invalid JSON" in err and "Traceback" not in err

    (Path(b) / "run.json").unlink()
    assert main([a, b]) == 2
    assert "run.json is missing" in capsys.readouterr().err
    assert main([a, b, "--fail-on-regression", "-1"]) == 2


# ---------------------------------------------------------------- report


def test_report_warns_when_judge_below_target(runs: tuple[Path, Path]) -> None:
    run = load_run(runs[0])
    summary = summarise(run.cases, run.judge_check, n_boot=100)  # judge accuracy 0.25

    path = write_report(runs[0], summary, {"claim_faithfulness": 0.9})
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert "WARNING" in first and "claim_faithfulness" in first and "25.0%" in first
    assert (runs[0] / CHART_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"]({CHART_FILE})" in text
    for needle in ("abc123", "answer-v1", "p" * 64, "m" * 64, "local-judge", "questions.jsonl", "3 hits",
                   "invented_dose", "| comparison |", "`only-a`", "BELOW TARGET"):
        assert needle in text, needle

    first_ok = write_report(runs[0], summary, {"claim_faithfulness": 0.2}).read_text(encoding="utf-8").splitlines()[0]
    assert "WARNING" not in first_ok and "meets every target" in first_ok

    # a target whose metric was never judge-checked cannot be called fine
    missing = write_report(runs[0], summary, {"faithfulness": 0.9}).read_text(encoding="utf-8").splitlines()[0]
    assert "WARNING" in missing and "faithfulness not measured" in missing

    summary_path = write_summary(runs[0], summary)
    assert json.loads(summary_path.read_text(encoding="utf-8")) == summary
