"""A content-addressed cache of answers and judge verdicts.

Keys hash everything the value depends on (question turns, prompt text,
settings, model and corpus fingerprints, code of the answering package; or
metric, judge, judge prompt and sample), so a re-run of an unchanged suite
reads every value back, and editing one prompt recomputes only the answers
that used it. One JSON file per entry: concurrent runs cannot corrupt each
other (writes are atomic renames) and stale entries are easy to delete.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    def __init__(self, root: Path, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def _path(self, kind: str, k: str) -> Path:
        return self.root / kind / k[:2] / f"{k}.json"

    def get(self, kind: str, k: str) -> Any | None:
        if not self.enabled:
            self.misses += 1
            return None
        p = self._path(kind, k)
        try:
            value = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, kind: str, k: str, value: Any) -> None:
        if not self.enabled:
            return
        p = self._path(kind, k)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        tmp.replace(p)
