"""Loading of run folders and the statistics the report and the comparison share.

Everything here is pure and seeded: the same run folder always gives the same
summary, so two reports can be diffed and a CI gate does not flicker.

Conventions
-----------
* A metric absent from a case's ``scores`` does not apply to it (e.g.
  faithfulness of an abstention); a score of ``None`` (JSON ``null``) or NaN
  means the judge failed. Both are left out of means and intervals; only the
  failures count in the NaN rate (:func:`applicable_values`).
* Higher is better for every metric except those in :data:`LOWER_IS_BETTER`.
* ``latency_s`` is read from ``scores`` when the runner put it there, otherwise
  from the case's top-level ``latency_s`` field.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

log = logging.getLogger(__name__)

LOWER_IS_BETTER: frozenset[str] = frozenset({"latency_s", "false_refusal"})
"""Metrics where a smaller value is better; every other metric is higher-is-better."""

TOP_LEVEL_METRICS: tuple[str, ...] = ("latency_s",)
"""Case fields that are metrics even when the runner did not copy them into ``scores``."""

RUN_FILE = "run.json"
CASES_FILE = "cases.jsonl"
JUDGE_CHECK_FILE = "judge_check.jsonl"

N_BOOT = 2000
SEED = 0
CI_LEVEL = 0.95
_BOOT_CHUNK = 500  # bootstrap resamples drawn per batch, to bound memory for large runs


class RunFormatError(ValueError):
    """A run folder is missing or does not follow the format the runner writes."""


class Interval(NamedTuple):
    """A point estimate with its bootstrap interval; unpacks as ``(mean, lo, hi)``."""

    mean: float
    lo: float
    hi: float


@dataclass(frozen=True)
class JudgeAccuracy:
    """How often the judge scored the faithful answer of a pair above the unfaithful one.

    Ties and pairs with a null score count as wrong: a judge that cannot tell the
    two apart, or fails, is not evidence that the metric works.
    """

    accuracy: float
    n: int
    correct: int
    ties: int
    nulls: int


@dataclass
class Run:
    """One run folder as written by the runner."""

    path: Path
    meta: dict[str, Any]
    cases: list[dict[str, Any]]
    judge_check: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.meta.get("id") or self.path.name)

    def case_map(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.cases}


# ---------------------------------------------------------------- loading


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RunFormatError(f"cannot read {path}: {e}") from e
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise RunFormatError(f"{path}:{lineno}: invalid JSON ({e.msg})") from e
        if not isinstance(row, dict):
            raise RunFormatError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def _is_score(v: Any) -> bool:
    return v is None or isinstance(v, int | float)


def _check_case(case: dict[str, Any], where: str) -> None:
    if not isinstance(case.get("id"), str) or not case["id"]:
        raise RunFormatError(f"{where}: case has no string 'id'")
    scores = case.setdefault("scores", {})
    if not isinstance(scores, dict):
        raise RunFormatError(f"{where}: case {case['id']!r}: 'scores' must be an object")
    for name, v in scores.items():
        if not _is_score(v):
            raise RunFormatError(f"{where}: case {case['id']!r}: score {name!r} is {v!r}, not a number or null")
    if not isinstance(case.setdefault("reasons", {}), dict):
        raise RunFormatError(f"{where}: case {case['id']!r}: 'reasons' must be an object")
    for key in TOP_LEVEL_METRICS:
        if not _is_score(case.get(key)):
            raise RunFormatError(f"{where}: case {case['id']!r}: {key!r} is {case[key]!r}, not a number or null")


def _check_judge_row(row: dict[str, Any], where: str) -> None:
    if not isinstance(row.get("id"), str):
        raise RunFormatError(f"{where}: judge-check row has no string 'id'")
    scores = row.setdefault("scores", {})
    if not isinstance(scores, dict):
        raise RunFormatError(f"{where}: judge-check row {row['id']!r}: 'scores' must be an object")
    for name, pair in scores.items():
        if not isinstance(pair, dict) or not all(_is_score(pair.get(k)) for k in ("faithful", "unfaithful")):
            raise RunFormatError(
                f"{where}: judge-check row {row['id']!r}: {name!r} must be {{'faithful': num|null, 'unfaithful': ...}}"
            )


def load_run(path: str | Path) -> Run:
    """Read and validate a run folder, so later code can trust its shape.

    ``judge_check.jsonl`` is optional (a run may skip the judge check); a
    missing folder, ``run.json`` or ``cases.jsonl``, or malformed content,
    raises :class:`RunFormatError` with a message fit for a user.
    """
    root = Path(path)
    if not root.is_dir():
        raise RunFormatError(f"run folder not found: {root}")
    run_file = root / RUN_FILE
    if not run_file.is_file():
        raise RunFormatError(f"{root} is not a run folder: {RUN_FILE} is missing")
    try:
        meta = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RunFormatError(f"cannot read {run_file}: {e}") from e
    if not isinstance(meta, dict):
        raise RunFormatError(f"{run_file}: expected a JSON object")

    cases_file = root / CASES_FILE
    if not cases_file.is_file():
        raise RunFormatError(f"{root} is not a complete run folder: {CASES_FILE} is missing")
    cases = _read_jsonl(cases_file)
    seen: set[str] = set()
    for i, case in enumerate(cases, 1):
        _check_case(case, f"{cases_file}:{i}")
        if case["id"] in seen:
            raise RunFormatError(f"{cases_file}: duplicate case id {case['id']!r}")
        seen.add(case["id"])

    judge_file = root / JUDGE_CHECK_FILE
    judge_check: list[dict[str, Any]] = []
    if judge_file.is_file():
        judge_check = _read_jsonl(judge_file)
        for i, row in enumerate(judge_check, 1):
            _check_judge_row(row, f"{judge_file}:{i}")
    else:
        log.warning("%s has no %s: judge accuracy cannot be reported", root, JUDGE_CHECK_FILE)
    return Run(path=root, meta=meta, cases=cases, judge_check=judge_check)


# ---------------------------------------------------------------- values


def to_float(v: Any) -> float:
    """A score as a float, with ``None`` (and anything non-numeric) as NaN."""
    if v is None or isinstance(v, str):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def is_missing(v: Any) -> bool:
    return math.isnan(to_float(v))


def metric_value(case: Mapping[str, Any], metric: str) -> float:
    """The case's score for ``metric`` (NaN when null or absent)."""
    scores = case.get("scores") or {}
    if metric in scores:
        return to_float(scores[metric])
    if metric in TOP_LEVEL_METRICS:
        return to_float(case.get(metric))
    return math.nan


def metric_values(cases: Iterable[Mapping[str, Any]], metric: str) -> list[float]:
    return [metric_value(c, metric) for c in cases]


def metric_names(cases: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every metric any case carries, in first-seen order (so reports keep the runner's order)."""
    names: dict[str, None] = {}
    top: dict[str, None] = {}
    for case in cases:
        for name in case.get("scores") or {}:
            names.setdefault(name, None)
        for name in TOP_LEVEL_METRICS:
            if name in case:
                top.setdefault(name, None)
    for name in top:
        names.setdefault(name, None)
    return list(names)


def applicable_values(cases: Iterable[Mapping[str, Any]], metric: str) -> list[float]:
    """Scores of the cases the metric applies to (present in ``scores``), null/NaN kept: the NaN-rate base."""
    out = []
    for case in cases:
        scores = case.get("scores") or {}
        if metric in scores:
            out.append(to_float(scores[metric]))
        elif metric in TOP_LEVEL_METRICS and metric in case:
            out.append(to_float(case.get(metric)))
    return out


def _finite(values: Iterable[Any]) -> np.ndarray:
    arr = np.array([to_float(v) for v in values], dtype=float)
    return arr[np.isfinite(arr)]


def nan_rate(values: Sequence[Any]) -> float:
    """Fraction of values that are null/NaN (NaN for an empty sequence)."""
    if len(values) == 0:
        return math.nan
    return sum(is_missing(v) for v in values) / len(values)


def _bootstrap_means(x: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot, dtype=float)
    for start in range(0, n_boot, _BOOT_CHUNK):
        k = min(_BOOT_CHUNK, n_boot - start)
        idx = rng.integers(0, x.size, size=(k, x.size))
        out[start : start + k] = x[idx].mean(axis=1)
    return out


def _percentile_ci(x: np.ndarray, n_boot: int, seed: int, level: float) -> Interval:
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1 or n_boot <= 0:
        return Interval(mean, mean, mean)
    boots = _bootstrap_means(x, n_boot, seed)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boots, [alpha, 1.0 - alpha])
    return Interval(mean, float(lo), float(hi))


def mean_ci(values: Iterable[Any], n_boot: int = N_BOOT, seed: int = SEED, level: float = CI_LEVEL) -> Interval:
    """Mean with a percentile-bootstrap interval, ignoring null/NaN.

    With no usable value every field is NaN; with one, the interval collapses
    to that value (there is nothing to resample).
    """
    return _percentile_ci(_finite(values), n_boot, seed, level)


def paired_values(a_values: Sequence[Any], b_values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The positions where both runs have a score, as two aligned float arrays."""
    if len(a_values) != len(b_values):
        raise ValueError(f"paired values differ in length: {len(a_values)} vs {len(b_values)}")
    a = np.array([to_float(v) for v in a_values], dtype=float)
    b = np.array([to_float(v) for v in b_values], dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    return a[both], b[both]


def paired_diff_ci(
    a_values: Sequence[Any],
    b_values: Sequence[Any],
    n_boot: int = N_BOOT,
    seed: int = SEED,
    level: float = CI_LEVEL,
) -> Interval:
    """Mean of ``b - a`` over cases scored in both runs, with a bootstrap interval over those cases.

    Pairing removes the case-to-case spread, so a real change shows up with far
    fewer cases than comparing two independent intervals. ``a_values[i]`` and
    ``b_values[i]`` must belong to the same case.
    """
    a, b = paired_values(a_values, b_values)
    return _percentile_ci(b - a, n_boot, seed, level)


# ---------------------------------------------------------------- judge check


def judge_accuracy_detail(rows: Iterable[Mapping[str, Any]], metric: str) -> JudgeAccuracy:
    """Judge accuracy on the pairs that carry ``metric``, with ties and nulls counted separately."""
    n = correct = ties = nulls = 0
    for row in rows:
        pair = (row.get("scores") or {}).get(metric)
        if pair is None:
            continue
        n += 1
        f, u = to_float(pair.get("faithful")), to_float(pair.get("unfaithful"))
        if math.isnan(f) or math.isnan(u):
            nulls += 1
        elif f > u:
            correct += 1
        elif f == u:
            ties += 1
    return JudgeAccuracy(accuracy=correct / n if n else math.nan, n=n, correct=correct, ties=ties, nulls=nulls)


def judge_accuracy(rows: Iterable[Mapping[str, Any]], metric: str) -> tuple[float, int]:
    """``(accuracy, n)``: share of pairs where the faithful answer scored strictly higher.

    A tie or a null is wrong; how many pairs were null is logged (and kept in
    :func:`judge_accuracy_detail`), since many nulls mean a broken judge rather
    than a poor one.
    """
    d = judge_accuracy_detail(rows, metric)
    if d.nulls:
        log.warning("judge check %s: %d of %d pairs have a null score (counted as wrong)", metric, d.nulls, d.n)
    return d.accuracy, d.n


def settled_by(row: Mapping[str, Any], metric: str) -> str:
    """"shortcut" when a deterministic rule, not the judge, separates the pair: an invented amount scored 0
    without asking, or every claim of both answers was a verbatim slice; otherwise "judge"."""
    reasons = (row.get("reasons") or {}).get(metric) or {}
    texts = [str(reasons.get(side) or "") for side in ("faithful", "unfaithful")]
    if any("[amount]" in t for t in texts):
        return "shortcut"
    if texts[0] and texts[1] and all("[judge]" not in t for t in texts):
        return "shortcut"
    return "judge"


def judge_metrics(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Metrics scored in the judge check, in first-seen order."""
    names: dict[str, None] = {}
    for row in rows:
        for name in row.get("scores") or {}:
            names.setdefault(name, None)
    return list(names)


# ---------------------------------------------------------------- summary


def _json_num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _judge_dict(d: JudgeAccuracy) -> dict[str, Any]:
    return {"accuracy": _json_num(d.accuracy), "n": d.n, "correct": d.correct, "ties": d.ties, "nulls": d.nulls}


def summarise(
    cases: Sequence[Mapping[str, Any]],
    judge_check: Sequence[Mapping[str, Any]],
    n_boot: int = N_BOOT,
    seed: int = SEED,
) -> dict[str, Any]:
    """Per-metric, per-category and judge-check figures as a JSON-safe dict (NaN becomes ``None``).

    Shape::

        {"n_cases": int,
         "metrics": {m: {"mean", "ci": [lo, hi], "n", "nan_rate", "lower_is_better"}},
         "categories": {cat: {"n_cases": int, "means": {m: float|None}}},
         "judge_accuracy": {m: {"accuracy", "n", "correct", "ties", "nulls",
                                "by_error_type": {t: {same fields}}}}}
    """
    names = metric_names(cases)
    metrics: dict[str, Any] = {}
    for name in names:
        values = metric_values(cases, name)
        ci = mean_ci(values, n_boot=n_boot, seed=seed)
        metrics[name] = {
            "mean": _json_num(ci.mean),
            "ci": [_json_num(ci.lo), _json_num(ci.hi)],
            "n": int(_finite(values).size),
            "nan_rate": _json_num(nan_rate(applicable_values(cases, name))),
            "lower_is_better": name in LOWER_IS_BETTER,
        }

    by_cat: dict[str, list[Mapping[str, Any]]] = {}
    for case in cases:
        by_cat.setdefault(str(case.get("category") or "uncategorised"), []).append(case)
    categories: dict[str, Any] = {}
    for cat in sorted(by_cat):
        group = by_cat[cat]
        means = {}
        for name in names:
            x = _finite(metric_values(group, name))
            means[name] = float(x.mean()) if x.size else None
        categories[cat] = {"n_cases": len(group), "means": means}

    judge: dict[str, Any] = {}
    for name in judge_metrics(judge_check):
        entry = _judge_dict(judge_accuracy_detail(judge_check, name))
        types = sorted({str(r.get("error_type") or "unknown") for r in judge_check})
        entry["by_error_type"] = {
            t: _judge_dict(
                judge_accuracy_detail([r for r in judge_check if str(r.get("error_type") or "unknown") == t], name)
            )
            for t in types
        }
        entry["by_error_type"] = {t: v for t, v in entry["by_error_type"].items() if v["n"]}
        entry["by_settlement"] = {
            how: _judge_dict(judge_accuracy_detail([r for r in judge_check if settled_by(r, name) == how], name))
            for how in ("judge", "shortcut")
        }
        judge[name] = entry
        if entry["nulls"]:
            log.warning("judge check %s: %d of %d pairs null (counted as wrong)", name, entry["nulls"], entry["n"])

    return {"n_cases": len(cases), "metrics": metrics, "categories": categories, "judge_accuracy": judge}
