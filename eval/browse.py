"""Evaluation runs for the chat page's maintainer tab: list them, show one, compare two.

Why here and not in the UI: this is the ``python -m eval compare`` output and
the run's own report, read from the same files; the page only displays it.
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.compare import compare, render_comparison
from eval.report import CHART_FILE, REPORT_FILE
from eval.stats import RunFormatError, load_run


def _root(folder: Path | None) -> Path:
    if folder is not None:
        return Path(folder)
    from eval.run import DEFAULT_OUT  # eval.run imports the metrics stack: only when the default is asked for

    return DEFAULT_OUT


def runs(folder: Path | None = None) -> list[str]:
    """Run folders (those with a run.json), newest first."""
    root = _root(folder)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "run.json").is_file()]
    return [p.name for p in sorted(found, key=lambda p: (p / "run.json").stat().st_mtime, reverse=True)]


def _folder(name: str, folder: Path | None) -> Path:
    root = _root(folder).resolve()
    path = (root / name).resolve()
    if path.parent != root:  # a name from the page must not reach outside the runs folder
        raise RunFormatError(f"{name!r} is not a run in {root}")
    return path


def show(name: str, folder: Path | None = None) -> tuple[str, str | None]:
    """A run's report (Markdown) and its chart's path (None when it has none)."""
    if not name:
        return "Choose a run.", None
    try:
        path = _folder(name, folder)
        report = path / REPORT_FILE
        if report.is_file():
            text = report.read_text(encoding="utf-8")
        else:
            text = "```json\n" + json.dumps(json.loads((path / "run.json").read_text()), indent=2) + "\n```"
    except (OSError, ValueError, RunFormatError) as exc:
        return f"⚠️ cannot read run {name}: {exc}", None
    chart = path / CHART_FILE
    return text, str(chart) if chart.is_file() else None


def compare_runs(baseline: str, candidate: str, folder: Path | None = None) -> str:
    """The ``python -m eval compare`` Markdown of two runs (metric deltas with intervals, cases that got worse)."""
    if not baseline or not candidate:
        return "Choose a baseline and a candidate run."
    try:
        a, b = load_run(_folder(baseline, folder)), load_run(_folder(candidate, folder))
    except RunFormatError as exc:
        return f"⚠️ {exc}"
    return render_comparison(compare(a, b))
