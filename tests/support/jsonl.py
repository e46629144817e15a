"""JSON Lines, as the datasets, the runs and ``ask --json`` write them."""

from __future__ import annotations

import json
from pathlib import Path


def parse_jsonl(text: str) -> list:
    """One JSON value per non-blank line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_jsonl(path: Path) -> list:
    """The rows of a UTF-8 JSON Lines file (blank lines skipped)."""
    return parse_jsonl(path.read_text(encoding="utf-8"))
