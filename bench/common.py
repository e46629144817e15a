"""Helpers shared by the benchmark scripts (not part of the package).

Each script prints its tables and also writes its figures to ``bench/out/<name>.json``
(:func:`write_result`); ``bench/summary.py`` turns those files into ``bench/RESULTS.md``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "eval" / "datasets" / "questions.jsonl"
OUT = ROOT / "bench" / "out"


def load_cases(path: Path = DATASET) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def machine() -> str:
    mem = _memory_gib()
    ram = f", {mem:.0f} GiB" if mem else ""
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores{ram}, Python {platform.python_version()}"


def load_average() -> str:
    """1/5/15-minute load: figures taken while other work ran on the cores are not comparable."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    i = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[i]


def write_result(name: str, figures: dict, args: dict | None = None, started: float | None = None) -> Path:
    """Write one benchmark's figures as ``bench/out/<name>.json`` for ``bench/summary.py``.

    The file also records the command line, the machine, the load average at the
    end and the wall time, so a summary built later says how each figure was made.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    data = {
        "name": name,
        "command": " ".join(["python", *(Path(a).relative_to(ROOT).as_posix() if a.startswith(str(ROOT)) else a
                                         for a in sys.argv)]),
        "args": args or {},
        "machine": machine(),
        "load_average_at_end": load_average(),
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": round(time.perf_counter() - started, 1) if started is not None else None,
        "figures": figures,
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"\nfigures written to {path.relative_to(ROOT)}")
    return path
