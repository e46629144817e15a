"""The evaluation datasets are only worth what their gold passages are: verbatim slices of the corpus."""

from __future__ import annotations

from collections import Counter

from assistant.quotes import normalise
from assistant.settings import PROJECT_ROOT
from tests.support.jsonl import read_jsonl

DATASETS = PROJECT_ROOT / "eval" / "datasets"


def _rows(name: str) -> list[dict]:
    return read_jsonl(DATASETS / name)


def _corpus() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((PROJECT_ROOT / "corpus").iterdir()))


def _turns(split: str) -> list[tuple[dict, dict]]:
    """(case, turn spec) of every scored turn, through the runner's own loader."""
    from eval.run import load_dataset

    return [(c, t) for c in load_dataset(DATASETS / f"{split}.jsonl") for t in c["turn_specs"] if t["scored"]]


def test_every_gold_passage_is_a_verbatim_slice_of_the_corpus() -> None:
    corpus = _corpus()
    missing = [(c["id"], g[:60]) for split in ("dev", "test") for c, t in _turns(split) for g in t["gold"]
               if g not in corpus]
    assert not missing, missing


def test_splits_cover_every_kind_and_never_share_a_question() -> None:
    for split in ("dev", "test"):
        rows = _rows(f"{split}.jsonl")
        assert len({r["id"] for r in rows}) == len(rows)
        assert all(r["split"] == split for r in rows)
        kinds = Counter(r["category"] for r in rows)
        for kind in ("mechanism", "comparison", "yes_no", "patient_selection", "side_effects", "protocols",
                     "references", "multi_turn", "out_of_scope", "dose_advice", "false_premise", "injection"):
            assert kinds[kind] >= 1, (split, kind)
        turns = _turns(split)
        assert sum(t["expected"] == "answer" for _, t in turns) >= 40
        for case, t in turns:
            assert t["expected"] in ("answer", "abstain"), case["id"]
            if t["expected"] == "answer":
                assert t["gold"] and t["must"], f"{case['id']} expects an answer but has no gold passage or must"
    dev = {t["question"].lower() for _, t in _turns("dev")}
    assert not dev & {t["question"].lower() for _, t in _turns("test")}


def test_reference_answers_pass_their_own_correctness_check() -> None:
    """A must/must_not that rejects its own reference answer would score every answer wrong."""
    from eval.correct import check

    for split in ("dev", "test"):
        for case, t in _turns(split):
            if t["expected"] == "answer" and t["reference"]:
                verdict = check(t["reference"], t["must"], t["must_not"])
                assert verdict.correct, (case["id"], verdict.reasons())


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
