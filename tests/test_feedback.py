"""Feedback rows: stored by concurrent writers without loss, exported as eval cases the runner accepts."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from assistant.feedback import Feedback, FeedbackError, FeedbackStore
from eval.feedback import main as feedback_main


def test_concurrent_writers_lose_no_row(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")

    def write(k: int) -> None:
        other = FeedbackStore(tmp_path / "fb.sqlite")  # each session its own connection
        for i in range(25):
            other.add(Feedback(rating=-1 if i % 2 else 1, question=f"q{k}-{i}", answer="a"))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = store.rows()
    assert len(rows) == 200 and len({r["question"] for r in rows}) == 200


def test_bad_feedback_is_refused(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    with pytest.raises(FeedbackError):
        store.add(Feedback(rating=0, question="q", answer="a"))
    with pytest.raises(FeedbackError):
        store.add(Feedback(rating=1, question=" ", answer="a"))


def test_thumbs_down_export_runs_as_a_dataset(tmp_path: Path) -> None:
    from eval.run import load_dataset

    db = tmp_path / "fb.sqlite"
    store = FeedbackStore(db)
    store.add(Feedback(rating=1, question="Which enzyme does anastrozole block?", answer="Aromatase [1]."))
    row = store.add(Feedback(rating=-1, question="Which one is first-line?", answer="Anastrozole [1].",
                             history=(("How does anastrozole differ from clomiphene?", "..."),)))
    store.comment(row, "It is clomiphene, not anastrozole.")
    out = tmp_path / "cases.jsonl"
    assert feedback_main(["export", "--db", str(db), "--out", str(out)]) == 0
    cases = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(cases) == 1 and cases[0]["needs_review"] and "clomiphene" in cases[0]["feedback"]["comment"]
    loaded = load_dataset(out)
    assert loaded[0]["turns"] == ["How does anastrozole differ from clomiphene?", "Which one is first-line?"]
    assert [t["scored"] for t in loaded[0]["turn_specs"]] == [False, True]
