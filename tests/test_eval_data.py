"""The evaluation datasets are only worth what their gold passages are: verbatim slices of the corpus."""

from __future__ import annotations

import json
from collections import Counter

from assistant.quotes import normalise
from assistant.settings import PROJECT_ROOT

DATASETS = PROJECT_ROOT / "eval" / "datasets"


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATASETS / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _corpus() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((PROJECT_ROOT / "corpus").iterdir()))


def test_every_gold_passage_is_a_verbatim_slice_of_the_corpus() -> None:
    corpus = _corpus()
    missing = [(r["id"], g[:60]) for r in _rows("questions.jsonl") for g in r["gold"] if g not in corpus]
    assert not missing, missing


def test_question_set_covers_every_kind() -> None:
    rows = _rows("questions.jsonl")
    assert len(rows) >= 40
    assert len({r["id"] for r in rows}) == len(rows)
    kinds = Counter(r["category"] for r in rows)
    for kind in ("mechanism", "comparison", "patient_selection", "side_effects", "protocols", "references",
                 "multi_turn", "out_of_scope", "dose_advice", "false_premise", "injection"):
        assert kinds[kind] >= 1, kind
    for r in rows:
        assert r["expected"] in ("answer", "abstain"), r["id"]
        assert r["turns"] and all(t.strip() for t in r["turns"]), r["id"]
        assert r["reference"].strip(), r["id"]
        if r["expected"] == "answer":
            assert r["gold"], f"{r['id']} expects an answer but has no gold passage"
    assert any(len(r["turns"]) > 1 for r in rows)


def test_judge_check_pairs_differ_and_their_contexts_come_from_the_corpus() -> None:
    corpus = normalise(_corpus())[0]
    rows = _rows("judge_check.jsonl")
    assert len(rows) >= 24
    assert len({r["id"] for r in rows}) == len(rows)
    types = Counter(r["error_type"] for r in rows)
    for t in ("swapped_mechanism", "swapped_cell_type", "invented_dose", "invented_approval", "invented_percentage",
              "wrong_population", "wrong_reference", "half_right"):
        assert types[t] >= 2, t
    for r in rows:
        assert r["faithful"] != r["unfaithful"], r["id"]
        for c in r["contexts"]:
            assert normalise(c)[0] in corpus, (r["id"], c[:60])
