"""Thumbs up/down on answers, kept where the people who maintain the prompts can turn them into test cases.

One SQLite file next to the store (``feedback_db``; the stdlib ``sqlite3``) in
WAL mode, so several chat sessions write at once without losing a row. Each row
keeps what is needed to reproduce and judge the answer later: the question,
the conversation before it, the answer and its citations, the prompt version,
and fingerprints of the model and of the corpus as ingested.
``python -m eval feedback export`` turns the thumbs-down rows into evaluation
cases in the dataset format, marked for a maintainer to add the expected facts.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    answer TEXT NOT NULL,
    citations TEXT NOT NULL DEFAULT '[]',
    prompt TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    corpus TEXT NOT NULL DEFAULT ''
)
"""
MAX_COMMENT = 2000


class FeedbackError(ValueError):
    """Feedback that cannot be stored (bad rating, missing question); message meant for the user."""


@dataclass(frozen=True)
class Feedback:
    rating: int  # +1 or -1
    question: str
    answer: str
    comment: str = ""
    history: tuple[tuple[str, str], ...] = ()  # (question, answer) turns before this one
    citations: tuple[dict, ...] = ()
    prompt: str = ""
    model: str = ""
    corpus: str = ""


class FeedbackStore:
    """Append-only feedback rows in one SQLite file; safe to share between threads of one server."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def add(self, fb: Feedback) -> int:
        if fb.rating not in (-1, 1):
            raise FeedbackError("rating must be +1 (helpful) or -1 (wrong)")
        if not fb.question.strip() or not fb.answer.strip():
            raise FeedbackError("feedback needs the question and the answer it is about")
        row = (time.time(), fb.rating, fb.comment.strip()[:MAX_COMMENT], fb.question, json.dumps(fb.history),
               fb.answer, json.dumps(list(fb.citations), ensure_ascii=False), fb.prompt, fb.model, fb.corpus)
        with self._lock, self._connect() as db:
            cur = db.execute("INSERT INTO feedback (created, rating, comment, question, history, answer, citations, "
                             "prompt, model, corpus) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cur.lastrowid or 0)

    def comment(self, row_id: int, text: str) -> None:
        with self._lock, self._connect() as db:
            db.execute("UPDATE feedback SET comment = ? WHERE id = ?", (text.strip()[:MAX_COMMENT], row_id))

    def rows(self, rating: int | None = None) -> list[dict]:
        query = "SELECT * FROM feedback" + (" WHERE rating = ?" if rating is not None else "") + " ORDER BY id"
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            out = [dict(r) for r in db.execute(query, (rating,) if rating is not None else ())]
        for r in out:
            r["history"] = json.loads(r["history"])
            r["citations"] = json.loads(r["citations"])
        return out


def as_eval_case(row: dict) -> dict:
    """A thumbs-down row as an evaluation case: the conversation replayed, the last turn to be checked.

    ``must``/``must_not`` are left empty with ``needs_review``: what the right answer is, is the maintainer's
    call (the user's comment is kept as a hint); until then ``eval run`` scores retrieval, quotes and refusals.
    """
    return {
        "id": f"fb-{row['id']}", "split": "feedback", "category": "feedback", "needs_review": True,
        "turns": [q for q, _ in row["history"]] + [row["question"]],
        "expected": "answer", "must": [], "must_not": [], "gold": [], "reference": "",
        "feedback": {"comment": row["comment"], "answer": row["answer"], "prompt": row["prompt"],
                     "model": row["model"], "corpus": row["corpus"], "created": row["created"]},
    }


def corpus_fingerprint(file_hashes: dict[str, str]) -> str:
    """One hash of the ingested files' own hashes (the store's manifest)."""
    h = hashlib.sha256()
    for name in sorted(file_hashes):
        h.update(f"{name}:{file_hashes[name]}\n".encode())
    return h.hexdigest()[:16]
