"""``python -m eval run`` end to end: plumbing and cache with scripted fakes, then one real run with the
real chain and the real local judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT, Settings
from eval import run as run_mod
from eval.compare import main as compare_main
from eval.run import RunOptions, run
from eval.stats import load_run
from tests.support.jsonl import read_jsonl

DATASETS = PROJECT_ROOT / "eval" / "datasets"


def _subset(src: Path, ids: list[str], dst: Path) -> Path:
    rows = read_jsonl(src)
    dst.write_text("".join(json.dumps(r) + "\n" for r in rows if r["id"] in ids), encoding="utf-8")
    return dst


class FakeScriptedJudge:
    """Says yes when a statement pairs FSH with Sertoli cells or LH with Leydig cells; counts its calls."""

    name = "fake-scripted"
    calls = 0

    def p_yes(self, system: str, user: str) -> float:
        FakeScriptedJudge.calls += 1
        statement = user.split("Statement:")[1].split("\n\n")[0].strip()
        right = ("FSH", "Sertoli") if statement.startswith("FSH") else ("LH", "Leydig")
        return 0.9 if right[1] in statement else 0.2


def test_run_writes_a_complete_folder_and_reruns_from_cache(tmp_path, monkeypatch, ingested_settings) -> None:
    calls: list[list[str]] = []

    def fake_scripted_converse(self, turns):
        calls.append(list(turns))
        contexts = [{"text": "FSH, on the other hand, acts directly on the Sertoli cells, which are crucial."}]
        out = []
        for q in turns:
            abstain = "weather" in q
            prose = "" if abstain else ("FSH acts on Sertoli cells [1]." if "FSH" in q else "LH acts on Sertoli cells.")
            out.append({"question": q, "query": q, "abstained": abstain, "prose": prose,
                        "answer": "The sources do not cover this question." if abstain else prose,
                        "contexts": [] if abstain else contexts, "timings": {"total_s": 1.0, "first_token_s": 0.5},
                        "citations": [] if abstain else [{"n": 1, "quote": "FSH acts", "verified": False}]})
        return out

    monkeypatch.setattr(run_mod.Answerer, "converse", fake_scripted_converse)
    monkeypatch.setattr("eval.judge.make_judge", lambda kind, settings: FakeScriptedJudge())
    data = tmp_path / "q.jsonl"
    data.write_text(
        json.dumps({"id": "a", "category": "mechanism", "turns": ["Which cells does FSH act on?"],
                    "expected": "answer", "reference": "Sertoli cells.", "must": [["Sertoli"]],
                    "must_not": ["\\bFSH\\b[^.]*Leydig"],
                    "gold": ["FSH, on the other hand, acts directly on the Sertoli cells"]}) + "\n"
        + json.dumps({"id": "b", "category": "out_of_scope", "turns": ["What is the weather?"],
                      "expected": "abstain", "reference": "Refuse.", "gold": []}) + "\n"
        + json.dumps({"id": "c", "category": "multi_turn", "turns": [
            {"question": "And LH?", "expected": "answer", "must": [["Leydig"]]},
            {"question": "What is the weather?", "expected": "abstain"}]}) + "\n",
        encoding="utf-8",
    )
    check = _subset(DATASETS / "judge_check.jsonl", ["jc-05"], tmp_path / "jc.jsonl")
    options = RunOptions(dataset=data, out=tmp_path / "runs", judge="local",
                         metrics=["claim_faithfulness", "non_llm_context_recall"], judge_check=check,
                         cache_dir=tmp_path / "cache", name="first")
    first = run(options, ingested_settings)
    assert len(calls) == 3
    r = load_run(first)
    by_id = {c["id"]: c for c in r.cases}
    assert by_id["a"]["scores"]["answer_correct"] == 1.0 and by_id["a"]["scores"]["false_refusal"] == 0.0
    # every turn of a conversation is a row of its own, scored against its own expectations
    assert by_id["c#1"]["scores"]["answer_correct"] == 0.0 and "Leydig" in by_id["c#1"]["reasons"]["answer_correct"]
    assert by_id["c#2"]["scores"]["abstention_accuracy"] == 1.0 and "answer_correct" not in by_id["c#2"]["scores"]
    assert by_id["a"]["scores"]["claim_faithfulness"] == pytest.approx(0.9)
    assert by_id["a"]["scores"]["hit@1"] == 1.0 and by_id["a"]["scores"]["quote_verification"] == 0.0
    assert "claim_faithfulness" not in by_id["b"]["scores"]  # an abstention is not judged
    assert by_id["b"]["scores"]["abstention_accuracy"] == 1.0
    assert r.judge_check[0]["scores"]["claim_faithfulness"]["faithful"] > \
        r.judge_check[0]["scores"]["claim_faithfulness"]["unfaithful"]
    assert r.meta["prompt"] == ingested_settings.answer.prompt and len(r.meta["prompt_sha256"]) == 64
    report = (first / "report.md").read_text(encoding="utf-8")
    assert "claim_faithfulness" in report and (first / "categories.png").is_file()

    judge_calls = FakeScriptedJudge.calls
    second = run(RunOptions(**{**options.__dict__, "name": "second"}), ingested_settings)
    assert len(calls) == 3, "unchanged cases must come from the cache"
    assert FakeScriptedJudge.calls == judge_calls, "unchanged verdicts must come from the cache"
    meta = load_run(second).meta
    assert meta["cache"]["misses"] == 0 and meta["cache"]["hits"] > 0
    assert compare_main([str(first), str(second), "--fail-on-regression", "0.01"]) == 0

    # a different prompt re-answers (and re-judges) only what it touches: here, every case
    run(RunOptions(**{**options.__dict__, "name": "third", "prompt": "v2"}), ingested_settings)
    assert len(calls) == 6


def test_bad_dataset_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(run_mod.EvalError, match="needs an 'id' and 'turns'"):
        run_mod.load_dataset(bad)
    with pytest.raises(run_mod.EvalError, match="cannot read"):
        run_mod.load_dataset(tmp_path / "missing.jsonl")


@pytest.mark.llm
def test_real_run_with_the_local_judge(tmp_path, ingested_settings: Settings) -> None:
    """The real chain answers one case; the real 1.5B judge scores it and three judge-check pairs."""
    data = _subset(DATASETS / "dev.jsonl", ["mech-03"], tmp_path / "q.jsonl")
    check = _subset(DATASETS / "judge_check.jsonl", ["jc-01", "jc-22", "jc-29"], tmp_path / "jc.jsonl")
    run_dir = run(RunOptions(dataset=data, out=tmp_path / "runs", metrics=["claim_faithfulness"],
                             judge_check=check, cache_dir=tmp_path / "cache", name="real"), ingested_settings)
    r = load_run(run_dir)
    case = r.cases[0]
    assert not case["abstained"], case["answer"]
    value = case["scores"]["claim_faithfulness"]
    assert value is not None and 0.0 <= value <= 1.0
    assert case["reasons"]["claim_faithfulness"]
    for row in r.judge_check:
        s = row["scores"]["claim_faithfulness"]
        assert s["faithful"] is not None and s["unfaithful"] is not None, row
        assert s["faithful"] > s["unfaithful"], row
    assert (run_dir / "report.md").read_text(encoding="utf-8").splitlines()[0].startswith("✅")


def test_the_answer_cache_key_covers_every_file_of_the_package(tmp_path) -> None:
    """A change to any answering module, or a new one, must re-answer: no hand-kept list of files."""
    import shutil

    pkg = tmp_path / "assistant"
    shutil.copytree(PROJECT_ROOT / "assistant", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = run_mod.package_sha256(pkg)
    assert run_mod.package_sha256(pkg) == before
    for path, change in ((pkg / "pruning.py", "\n# a comment\n"), (pkg / "prompts" / "v3.yaml", "\n"),
                         (pkg / "advice_model.json", " ")):
        original = path.read_text(encoding="utf-8")
        path.write_text(original + change, encoding="utf-8")
        assert run_mod.package_sha256(pkg) != before, path.name
        path.write_text(original, encoding="utf-8")
    assert run_mod.package_sha256(pkg) == before
    (pkg / "new_stage.py").write_text("X = 1\n", encoding="utf-8")
    assert run_mod.package_sha256(pkg) != before


def test_eval_answers_from_its_own_store(tmp_path, ingested_settings) -> None:
    """Never the user's data/chroma nor a Chroma server."""
    answerer = run_mod.Answerer(ingested_settings.updated(store={"chroma_host": "10.0.0.1"}), tmp_path / "store")
    assert answerer.settings.store.dir == tmp_path / "store" and answerer.settings.store.chroma_host is None


@pytest.mark.llm
def test_replay_runs_todays_checks_on_a_runs_drafts(tmp_path, ingested_settings: Settings) -> None:
    """A real run's drafts replayed through the current code score as the run did; a draft changed in the run
    folder is checked afresh (so the replay really re-runs the stages after generation, not the scores)."""
    from eval.replay import replay

    data = _subset(DATASETS / "dev.jsonl", ["mech-03"], tmp_path / "q.jsonl")
    run_dir = run(RunOptions(dataset=data, out=tmp_path / "runs", metrics=[], judge_check=None,
                             cache_dir=tmp_path / "cache", name="real"), ingested_settings)
    chain = run_mod.Answerer(ingested_settings, tmp_path / "cache" / "store").chain
    [same] = replay(run_dir, data, chain)
    row = load_run(run_dir).cases[0]
    before = {k: v for k, v in same["before"].items() if k != "latency_s"}
    assert same["same_passages"] and same["after"] == before and same["answer"] == row["answer"]
    row["raw"] = "Quotes:\nAnswer: The sources do not cover this question."
    (run_dir / "cases.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    [refused] = replay(run_dir, data, chain)
    assert refused["after"]["false_refusal"] == 1.0 and refused["after"]["answer_correct"] == 0.0
