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
DATASET = ROOT / "eval" / "datasets" / "dev.jsonl"
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


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_ticks() -> int | None:
    """CPU ticks the whole machine spent busy (user, nice, system, irq, softirq, steal) since boot."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)


def _own_ticks() -> int | None:
    """CPU ticks of this process, its reaped children, and its live descendants (e.g. a server it started)."""
    try:
        stats = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    raw = (d / "stat").read_text()
                except OSError:
                    continue
                rest = raw[raw.rindex(")") + 2 :].split()
                stats[int(d.name)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))  # ppid, utime..cstime
    except OSError:
        return None
    mine, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in mine:
                mine.add(pid)
                frontier.append(pid)
    return sum(stats[pid][1] for pid in mine if pid in stats)


# taken when a benchmark script imports this module, i.e. before it starts work
_START = (time.perf_counter(), _busy_ticks(), _own_ticks())


def other_cpu() -> float | None:
    """Cores' worth of CPU that *other* processes used since this script started (0 = a quiet machine).

    Why not the load average: the benchmark's own threads (llama.cpp keeps both cores busy) push it
    above the core count on an idle machine, so it cannot tell other work from our own.
    """
    t0, busy0, own0 = _START
    busy, own = _busy_ticks(), _own_ticks()
    if None in (busy0, own0, busy, own):
        return None
    wall = time.perf_counter() - t0
    return max(0.0, (busy - busy0 - (own - own0)) / _TICK / wall) if wall > 0 else None  # type: ignore[operator]


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    i = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[i]


def write_result(name: str, figures: dict, args: dict | None = None, started: float | None = None) -> Path:
    """Write one benchmark's figures as ``bench/out/<name>.json`` for ``bench/summary.py``.

    The file also records the command line, the machine, the CPU other processes
    used meanwhile, the load average at the end and the wall time, so a summary
    built later says how each figure was made.
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
        "other_cpu_cores": None if (oc := other_cpu()) is None else round(oc, 2),
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": round(time.perf_counter() - started, 1) if started is not None else None,
        "figures": figures,
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"\nfigures written to {path.relative_to(ROOT)}")
    return path
