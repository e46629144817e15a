"""Write a run's ``report.md`` (with ``categories.png``) and ``summary.json``.

The report's first line says whether the judge can be trusted: faithfulness
scores from a judge that fails its own check (faithful vs. subtly unfaithful
answer pairs) are noise, and a reader should learn that before any number.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eval.stats import LOWER_IS_BETTER, Run, load_run, metric_value

log = logging.getLogger(__name__)

REPORT_FILE = "report.md"
SUMMARY_FILE = "summary.json"
CHART_FILE = "categories.png"

MAIN_METRICS: tuple[str, ...] = (
    "answer_correct",
    "claim_faithfulness",
    "faithfulness",
    "answer_relevancy",
    "context_recall",
    "hit@3",
    "quote_verification",
    "abstention_accuracy",
)
"""Metrics drawn in the category chart and shown in the per-case table, when present."""

PROMPT_INLINE_CHARS = 120


def write_summary(run_dir: str | Path, summary: Mapping[str, Any]) -> Path:
    """Write ``summary.json`` (strict JSON: the summary from ``summarise`` has no NaN)."""
    path = Path(run_dir) / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=2, sort_keys=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


def _fmt(x: Any, metric: str = "") -> str:
    v = _num(x)
    if math.isnan(v):
        return "–"
    return f"{v:.2f} s" if metric.endswith("_s") else f"{v:.3f}"  # seconds, or a rate


def _pct(x: Any) -> str:
    v = _num(x)
    return "–" if math.isnan(v) else f"{v:.1%}"


def _cell(text: Any, limit: int = 80) -> str:
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def judge_status_line(summary: Mapping[str, Any], targets: Mapping[str, float]) -> str:
    """The report's first line: a warning if any targeted judge metric is below target or unmeasured."""
    judge = summary.get("judge_accuracy") or {}
    failing: list[str] = []
    passing: list[str] = []
    for metric, target in targets.items():
        entry = judge.get(metric)
        acc = _num(entry.get("accuracy")) if entry else math.nan
        if math.isnan(acc):
            failing.append(f"{metric} not measured (target {target:.0%})")
        elif acc < target:
            nulls = f", {entry['nulls']} null" if entry.get("nulls") else ""
            failing.append(f"{metric} {acc:.1%} < {target:.0%} (n={entry.get('n')}{nulls})")
        else:
            passing.append(f"{metric} {acc:.1%} ≥ {target:.0%}")
    if failing:
        return (
            "⚠️ **WARNING: judge accuracy below target** — "
            + "; ".join(failing)
            + ". Scores from these metrics are not trustworthy in this run."
        )
    if not passing:
        return "✅ Judge accuracy: no targets set, nothing to check."
    return "✅ Judge accuracy meets every target: " + "; ".join(passing) + "."


def _chart_metrics(summary: Mapping[str, Any]) -> list[str]:
    present = [m for m in (summary.get("metrics") or {}) if m not in LOWER_IS_BETTER]
    main = [m for m in MAIN_METRICS if m in present]
    return main or present[:6]


def write_category_chart(run_dir: str | Path, summary: Mapping[str, Any]) -> Path | None:
    """Grouped bars of per-category means for the main (0-1) metrics; None when there is nothing to draw."""
    categories = summary.get("categories") or {}
    metrics = _chart_metrics(summary)
    if not categories or not metrics:
        return None
    cats = list(categories)
    fig = Figure(figsize=(max(6.0, 1.1 * len(cats) + 2), 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        heights = [_num(categories[c]["means"].get(metric)) for c in cats]
        xs = [k + (i - (len(metrics) - 1) / 2) * width for k in range(len(cats))]
        ax.bar(xs, heights, width=width, label=metric)
    rotate = len(cats) > 5
    labels = [f"{c}{' ' if rotate else chr(10)}(n={categories[c]['n_cases']})" for c in cats]
    if rotate:
        ax.set_xticks(range(len(cats)), labels, fontsize=8, rotation=30, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(range(len(cats)), labels, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean score")
    ax.set_title("Per-category means (missing bar = no score)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    path = Path(run_dir) / CHART_FILE
    fig.savefig(path, dpi=110)
    return path


def _metadata(run: Run) -> list[str]:
    meta = run.meta
    durations = meta.get("durations") or {}
    cache = meta.get("cache") or {}
    prompt = str(meta.get("prompt", "?"))
    lines = ["## Run", "", "| | |", "|---|---|"]
    lines.append(f"| id | `{_cell(run.id)}` |")
    lines.append(f"| started | {_cell(meta.get('started', '?'))} |")
    lines.append(f"| git commit | `{_cell(meta.get('git_commit', '?'))}` |")
    short = "\n" not in prompt and len(prompt) <= PROMPT_INLINE_CHARS
    lines.append(f"| prompt | {'`' + _cell(prompt) + '`' if short else '(below)'} |")
    lines.append(f"| prompt sha256 | `{_cell(meta.get('prompt_sha256', '?'))}` |")
    lines.append(f"| model sha256 | `{_cell(meta.get('model_sha256', '?'))}` |")
    lines.append(f"| judge | {_cell(meta.get('judge', '?'))} |")
    lines.append(f"| dataset | {_cell(meta.get('dataset', '?'))} |")
    for key in ("answers_s", "scoring_s", "total_s"):
        if key in durations:
            lines.append(f"| {key.replace('_s', '')} time | {_num(durations[key]):.1f} s |")
    if cache:
        hits, misses = int(cache.get("hits", 0)), int(cache.get("misses", 0))
        rate = f" ({hits / (hits + misses):.0%} hits)" if hits + misses else ""
        lines.append(f"| cache (answers and verdicts) | {hits} hits, {misses} misses{rate} |")
    lines.append("")
    if not short:
        lines += ["<details><summary>Prompt</summary>", "", "```text", prompt, "```", "", "</details>", ""]
    settings = meta.get("settings")
    if settings:
        lines += ["<details><summary>Settings</summary>", "", "```json"]
        lines += [json.dumps(settings, indent=2, sort_keys=True, default=str), "```", "", "</details>", ""]
    return lines


def _metrics_table(summary: Mapping[str, Any]) -> list[str]:
    lines = ["## Metrics", "", "| metric | mean | 95% CI | n | NaN rate |", "|---|---:|---|---:|---:|"]
    for name, m in (summary.get("metrics") or {}).items():
        lo, hi = m.get("ci") or (None, None)
        ci = "–" if lo is None else f"[{_fmt(lo, name)}, {_fmt(hi, name)}]"
        label = f"{name} ↓" if name in LOWER_IS_BETTER else name
        lines.append(f"| {label} | {_fmt(m.get('mean'), name)} | {ci} | {m.get('n', 0)} | {_pct(m.get('nan_rate'))} |")
    lines += [
        "",
        "↓ = lower is better. n counts the cases a metric applies to and scored (faithfulness does not apply "
        "to an abstention); NaN rate is the share of those where the judge failed (target ≤ 2%).",
        "",
    ]
    return lines


def _judge_tables(summary: Mapping[str, Any], targets: Mapping[str, float]) -> list[str]:
    judge = summary.get("judge_accuracy") or {}
    lines = ["## Judge accuracy", ""]
    if not judge:
        return [*lines, "_No judge check in this run._", ""]
    lines += [
        "Share of judge-check pairs where the faithful answer scored strictly above the unfaithful one "
        "(ties and nulls count as wrong).",
        "",
        "| metric | accuracy | target | n | correct | ties | nulls | status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, j in judge.items():
        target = targets.get(name)
        acc = _num(j.get("accuracy"))
        status = "" if target is None else ("OK" if not math.isnan(acc) and acc >= target else "**BELOW TARGET**")
        tgt = "–" if target is None else f"{target:.0%}"
        lines.append(
            f"| {name} | {_pct(acc)} | {tgt} | {j.get('n', 0)} | {j.get('correct', 0)} | {j.get('ties', 0)} "
            f"| {j.get('nulls', 0)} | {status} |"
        )
    lines.append("")
    lines += ["Pairs settled by the judge itself and by a deterministic shortcut (an invented amount scored 0 "
              "without asking, or verbatim slices):", "", "| metric | judge-settled | shortcut-settled |",
              "|---|---:|---:|"]
    for name, j in judge.items():
        by = j.get("by_settlement") or {}
        cells = [f"{_pct((by.get(k) or {}).get('accuracy'))} ({(by.get(k) or {}).get('correct', 0)}/"
                 f"{(by.get(k) or {}).get('n', 0)})" for k in ("judge", "shortcut")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    types = sorted({t for j in judge.values() for t in (j.get("by_error_type") or {})})
    if types:
        names = list(judge)
        lines += ["### By error type", "", "| error type | " + " | ".join(names) + " |"]
        lines.append("|---|" + "---:|" * len(names))
        for t in types:
            cells = []
            for name in names:
                e = (judge[name].get("by_error_type") or {}).get(t)
                cells.append("–" if not e else f"{_pct(e.get('accuracy'))} ({e.get('correct', 0)}/{e.get('n', 0)})")
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _category_table(summary: Mapping[str, Any], chart: Path | None) -> list[str]:
    categories = summary.get("categories") or {}
    names = list(summary.get("metrics") or {})
    lines = ["## By category", ""]
    if not categories:
        return [*lines, "_No cases._", ""]
    if chart is not None:
        lines += [f"![Per-category means]({chart.name})", ""]
    lines += ["| category | n | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    for cat, entry in categories.items():
        cells = [_fmt(entry["means"].get(n), n) for n in names]
        lines.append(f"| {_cell(cat)} | {entry['n_cases']} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _case_table(cases: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> list[str]:
    present = list(summary.get("metrics") or {})
    keys = [m for m in MAIN_METRICS if m in present] or [m for m in present if m not in LOWER_IS_BETTER][:6]
    keys += [m for m in present if m in LOWER_IS_BETTER]
    lines = ["## Cases", ""]
    if not cases:
        return [*lines, "_No cases._", ""]
    lines += [
        "| id | category | expected | abstained | " + " | ".join(keys) + " |",
        "|---|---|---|---|" + "---:|" * len(keys),
    ]
    any_mismatch = False
    for c in cases:
        expected = str(c.get("expected", "?"))
        abstained = bool(c.get("abstained"))
        mismatch = (expected == "abstain") != abstained and expected in ("answer", "abstain")
        any_mismatch = any_mismatch or mismatch
        ab = f"**{'yes' if abstained else 'no'}** ⚠" if mismatch else ("yes" if abstained else "no")
        cells = [_fmt(metric_value(c, k), k) for k in keys]
        lines.append(
            f"| `{_cell(c.get('id', '?'))}` | {_cell(c.get('category', ''))} | {expected} | {ab} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    if any_mismatch:
        lines += ["⚠ = abstained when it should have answered, or answered when it should have abstained.", ""]
    return lines


def write_report(
    run_dir: str | Path,
    summary: Mapping[str, Any],
    targets: Mapping[str, float],
    run: Run | None = None,
) -> Path:
    """Write ``report.md`` and ``categories.png`` into ``run_dir``; returns the report's path.

    ``summary`` comes from :func:`eval.stats.summarise`; ``targets`` maps a
    faithfulness metric to the judge accuracy it needs (e.g.
    ``{"claim_faithfulness": 0.9}``). ``run`` saves re-reading the folder.
    """
    root = Path(run_dir)
    run = run if run is not None else load_run(root)
    chart = write_category_chart(root, summary)
    lines = [judge_status_line(summary, targets), "", f"# Evaluation report: `{_cell(run.id)}`", ""]
    lines += [f"{summary.get('n_cases', len(run.cases))} cases.", ""]
    lines += _metadata(run)
    lines += _metrics_table(summary)
    lines += _judge_tables(summary, targets)
    lines += _category_table(summary, chart)
    lines += _case_table(run.cases, summary)
    path = root / REPORT_FILE
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    log.info("wrote %s", path)
    return path
