"""Compare two evaluation runs: which metrics moved, which cases moved, and whether to fail a gate.

Usage::

    python -m eval compare RUN_A RUN_B [--fail-on-regression THRESHOLD] [--out FILE]

A is the baseline, B the candidate; every difference is ``B - A``.

Regression rule (``--fail-on-regression THRESHOLD``): a metric regresses when
its mean over B's cases is worse than its mean over A's cases by more than
THRESHOLD. For higher-is-better metrics THRESHOLD is absolute, in the metric's
units (0.05 = five points on a 0-1 score). For metrics in
:data:`~eval.stats.LOWER_IS_BETTER` (latency) it is *relative* to A's mean
(0.05 = 5% slower), because one absolute number cannot suit both a 0-1 score
and seconds that vary with the machine. A metric that had scores in A but none
in B (e.g. the judge failed on every case) also counts as a regression, so a
broken judge cannot pass the gate silently. Judge accuracy is shown but does
not take part in the gate.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.stats import (
    LOWER_IS_BETTER,
    N_BOOT,
    SEED,
    Interval,
    JudgeAccuracy,
    Run,
    RunFormatError,
    judge_accuracy_detail,
    judge_metrics,
    load_run,
    mean_ci,
    metric_names,
    metric_value,
    metric_values,
    paired_diff_ci,
    paired_values,
)

log = logging.getLogger(__name__)

CASE_EPSILON = 1e-6
"""A per-case score change at or below this is rounding, not a change."""

RELATIVE_CASE_TOLERANCE = 0.5
"""Per-case moves of LOWER_IS_BETTER metrics (latency) are listed only beyond this fraction of A's value:
a single answer's latency is noisy, and listing every 10% wobble would bury the score changes."""

ANSWER_CHARS = 300
QUESTION_CHARS = 200
META_FIELDS = ("git_commit", "prompt", "prompt_sha256", "model_sha256", "judge", "dataset")


@dataclass(frozen=True)
class MetricComparison:
    """One metric in both runs; ``diff`` is the paired B - A over cases scored in both."""

    name: str
    a: Interval
    n_a: int
    b: Interval
    n_b: int
    diff: Interval
    n_paired: int
    regression: bool = False
    reason: str = ""

    @property
    def lower_is_better(self) -> bool:
        return self.name in LOWER_IS_BETTER


@dataclass(frozen=True)
class ScoreMove:
    """A case's score on one metric in A and in B (either may be NaN)."""

    metric: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def severity(self) -> float:
        """Size of the move on a scale comparable across metrics (relative for latency), used to sort."""
        if self.metric in LOWER_IS_BETTER:
            return abs(self.delta) / max(abs(self.a), 1e-9)
        return abs(self.delta)


@dataclass
class CaseChange:
    """A case matched by id whose scores moved, with both answers for a reviewer to read."""

    case_id: str
    category: str
    question: str
    answer_a: str
    answer_b: str
    abstained_a: bool
    abstained_b: bool
    moves: list[ScoreMove]

    @property
    def sort_key(self) -> tuple[float, float, str]:
        """Biggest score move first; latency (relative, noisy) only breaks ties, so it cannot crowd scores out."""
        scores = [m.severity for m in self.moves if m.metric not in LOWER_IS_BETTER]
        latency = [m.severity for m in self.moves if m.metric in LOWER_IS_BETTER]
        return (-max(scores, default=0.0), -max(latency, default=0.0), self.case_id)


@dataclass(frozen=True)
class JudgeComparison:
    metric: str
    a: JudgeAccuracy | None
    b: JudgeAccuracy | None


@dataclass
class Comparison:
    """Everything :func:`render_comparison` needs; also usable programmatically (e.g. by a CI gate)."""

    run_a: Run
    run_b: Run
    threshold: float | None
    metrics: list[MetricComparison]
    worse: list[CaseChange]
    better: list[CaseChange]
    one_sided: list[CaseChange]
    only_in_a: list[dict[str, Any]]
    only_in_b: list[dict[str, Any]]
    judge: list[JudgeComparison]
    meta_differences: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def regressions(self) -> list[MetricComparison]:
        return [m for m in self.metrics if m.regression]


# ---------------------------------------------------------------- comparison


def worsening(metric: str, mean_a: float, mean_b: float) -> float:
    """How much worse B is than A, in the units the threshold uses (positive = worse).

    Absolute for higher-is-better metrics; relative to A for LOWER_IS_BETTER ones.
    """
    if metric in LOWER_IS_BETTER:
        if mean_a == 0:
            return math.inf if mean_b > 0 else 0.0
        return (mean_b - mean_a) / abs(mean_a)
    return mean_a - mean_b


def _is_bad(metric: str, a: float, b: float) -> bool:
    return b > a if metric in LOWER_IS_BETTER else b < a


def _moved(metric: str, a: float, b: float, epsilon: float) -> bool:
    d = abs(b - a)
    if d <= epsilon:
        return False
    return not (metric in LOWER_IS_BETTER and d <= RELATIVE_CASE_TOLERANCE * abs(a))


def _case_change(case_a: Mapping[str, Any], case_b: Mapping[str, Any], moves: list[ScoreMove]) -> CaseChange:
    return CaseChange(
        case_id=str(case_a["id"]),
        category=str(case_b.get("category") or case_a.get("category") or ""),
        question=str(case_b.get("question") or case_a.get("question") or ""),
        answer_a=str(case_a.get("answer") or ""),
        answer_b=str(case_b.get("answer") or ""),
        abstained_a=bool(case_a.get("abstained")),
        abstained_b=bool(case_b.get("abstained")),
        moves=moves,
    )


def _meta_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    out = [(k, a.get(k), b.get(k)) for k in META_FIELDS if a.get(k) != b.get(k)]
    sa, sb = a.get("settings") or {}, b.get("settings") or {}
    if isinstance(sa, dict) and isinstance(sb, dict):
        for k in sorted(set(sa) | set(sb)):
            if sa.get(k) != sb.get(k):
                out.append((f"settings.{k}", sa.get(k), sb.get(k)))
    return out


def compare(
    run_a: Run,
    run_b: Run,
    threshold: float | None = None,
    n_boot: int = N_BOOT,
    seed: int = SEED,
    case_epsilon: float = CASE_EPSILON,
) -> Comparison:
    """Compare baseline ``run_a`` with candidate ``run_b``; ``threshold=None`` flags no regressions."""
    cases_a, cases_b = run_a.case_map(), run_b.case_map()
    common = [cid for cid in cases_a if cid in cases_b]
    names = metric_names([*run_a.cases, *run_b.cases])

    metrics: list[MetricComparison] = []
    for name in names:
        va, vb = metric_values(run_a.cases, name), metric_values(run_b.cases, name)
        ci_a, ci_b = mean_ci(va, n_boot, seed), mean_ci(vb, n_boot, seed)
        pa = [metric_value(cases_a[c], name) for c in common]
        pb = [metric_value(cases_b[c], name) for c in common]
        n_paired = len(paired_values(pa, pb)[0])
        regression, reason = False, ""
        if threshold is not None:
            if not math.isnan(ci_a.mean) and math.isnan(ci_b.mean):
                regression, reason = True, "scored in A but no case has a score in B"
            elif not math.isnan(ci_a.mean):
                amount = worsening(name, ci_a.mean, ci_b.mean)
                if amount > threshold:
                    regression = True
                    by = f"+{amount:.1%}" if name in LOWER_IS_BETTER else f"{-amount:+.3f}"
                    reason = f"mean {fmt_value(ci_a.mean, name)} → {fmt_value(ci_b.mean, name)} ({by})"
        metrics.append(
            MetricComparison(
                name=name,
                a=ci_a,
                n_a=sum(not math.isnan(v) for v in va),
                b=ci_b,
                n_b=sum(not math.isnan(v) for v in vb),
                diff=paired_diff_ci(pa, pb, n_boot, seed),
                n_paired=n_paired,
                regression=regression,
                reason=reason,
            )
        )

    worse: list[CaseChange] = []
    better: list[CaseChange] = []
    one_sided: list[CaseChange] = []
    for cid in common:
        ca, cb = cases_a[cid], cases_b[cid]
        bad, good, half = [], [], []
        for name in names:
            a, b = metric_value(ca, name), metric_value(cb, name)
            if math.isnan(a) and math.isnan(b):
                continue
            if math.isnan(a) or math.isnan(b):
                half.append(ScoreMove(name, a, b))
            elif _moved(name, a, b, case_epsilon):
                (bad if _is_bad(name, a, b) else good).append(ScoreMove(name, a, b))
        if bad:
            worse.append(_case_change(ca, cb, bad))
        if good:
            better.append(_case_change(ca, cb, good))
        if half:
            one_sided.append(_case_change(ca, cb, half))
    worse.sort(key=lambda c: c.sort_key)
    better.sort(key=lambda c: c.sort_key)

    judge = [
        JudgeComparison(
            metric=m,
            a=judge_accuracy_detail(run_a.judge_check, m) if m in judge_metrics(run_a.judge_check) else None,
            b=judge_accuracy_detail(run_b.judge_check, m) if m in judge_metrics(run_b.judge_check) else None,
        )
        for m in judge_metrics([*run_a.judge_check, *run_b.judge_check])
    ]

    comparison = Comparison(
        run_a=run_a,
        run_b=run_b,
        threshold=threshold,
        metrics=metrics,
        worse=worse,
        better=better,
        one_sided=one_sided,
        only_in_a=[cases_a[c] for c in cases_a if c not in cases_b],
        only_in_b=[cases_b[c] for c in cases_b if c not in cases_a],
        judge=judge,
        meta_differences=_meta_differences(run_a.meta, run_b.meta),
    )
    for m in comparison.regressions:
        log.info("regression in %s: %s", m.name, m.reason)
    return comparison


# ---------------------------------------------------------------- rendering


def _inline(text: Any, limit: int | None = None) -> str:
    """One line of text safe inside a Markdown table cell or blockquote, cut at a word boundary."""
    s = " ".join(str(text).split())
    if limit is not None and len(s) > limit:
        cut = s[:limit].rsplit(" ", 1)[0] if " " in s[:limit] else s[:limit]
        s = cut.rstrip(" ,.;:") + " …"
    return s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _seconds(metric: str) -> bool:
    """A metric measured in seconds (``latency_s``), printed with a unit; every other is a score or a rate."""
    return metric.endswith("_s")


def fmt_value(x: float, metric: str = "") -> str:
    if x is None or math.isnan(x):
        return "–"
    return f"{x:.2f} s" if _seconds(metric) else f"{x:.3f}"


def fmt_ci(ci: Interval, metric: str = "", signed: bool = False) -> str:
    if math.isnan(ci.mean):
        return "–"
    if signed:
        unit = " s" if _seconds(metric) else ""
        digits = 2 if _seconds(metric) else 3
        return f"{ci.mean:+.{digits}f}{unit} [{ci.lo:+.{digits}f}, {ci.hi:+.{digits}f}]"
    return f"{fmt_value(ci.mean, metric)} [{fmt_value(ci.lo, metric)}, {fmt_value(ci.hi, metric)}]"


def fmt_judge(j: JudgeAccuracy | None) -> str:
    if j is None or j.n == 0:
        return "–"
    extra = [f"{j.nulls} null" if j.nulls else "", f"{j.ties} tie{'s' if j.ties != 1 else ''}" if j.ties else ""]
    extra_s = ", ".join(e for e in extra if e)
    return f"{j.accuracy:.1%} ({j.correct}/{j.n}{', ' + extra_s if extra_s else ''})"


def _direction(m: MetricComparison) -> str:
    if m.regression:
        return "**REGRESSION**"
    if math.isnan(m.diff.mean) or m.diff.lo <= 0 <= m.diff.hi:
        return ""
    bad = (m.diff.lo > 0) if m.lower_is_better else (m.diff.hi < 0)
    return "worse" if bad else "better"


def _run_line(label: str, run: Run) -> str:
    commit = str(run.meta.get("git_commit") or "?")[:12]
    return f"- **{label}**: `{run.id}` — `{run.path}` (commit `{commit}`, started {run.meta.get('started', '?')})"


def _render_case(c: CaseChange) -> list[str]:
    lines = [f"### `{c.case_id}`" + (f" · {c.category}" if c.category else ""), ""]
    lines += [f"**Q:** {_inline(c.question, QUESTION_CHARS)}", ""]
    lines += ["| metric | A | B | B − A |", "|---|---:|---:|---:|"]
    for m in c.moves:
        a, b = fmt_value(m.a, m.metric), fmt_value(m.b, m.metric)
        d = f"{m.delta:+.2f} s" if _seconds(m.metric) else f"{m.delta:+.3f}"
        lines.append(f"| {m.metric} | {a} | {b} | {d} |")
    lines.append("")
    for label, answer, abstained in (("A", c.answer_a, c.abstained_a), ("B", c.answer_b, c.abstained_b)):
        text = _inline(answer, ANSWER_CHARS) if answer.strip() else "_(empty)_"
        lines.append(f"> **{label}{' (abstained)' if abstained else ''}:** {text}")
        lines.append(">")
    lines[-1] = ""
    return lines


def render_comparison(c: Comparison) -> str:
    """The comparison as Markdown: verdict, set-up differences, metric table, judge accuracy, moved cases."""
    out = [f"# Run comparison: `{c.run_a.id}` (A) → `{c.run_b.id}` (B)", ""]
    out += [_run_line("A", c.run_a), _run_line("B", c.run_b), ""]

    if c.threshold is not None:
        regs = c.regressions
        rule = f"threshold {c.threshold:g}: absolute for scores, relative for {', '.join(sorted(LOWER_IS_BETTER))}"
        if regs:
            names = "; ".join(f"**{m.name}**: {m.reason}" for m in regs)
            out += [f"**Verdict: FAIL** — {len(regs)} regression(s) beyond {rule}: {names}", ""]
        else:
            out += [f"**Verdict: PASS** — no metric regressed beyond {rule}.", ""]

    if c.meta_differences:
        out += ["## Set-up differences", "", "| field | A | B |", "|---|---|---|"]
        for k, va, vb in c.meta_differences:
            out.append(f"| {k} | {_inline(va, 80)} | {_inline(vb, 80)} |")
        out.append("")

    out += [
        "## Metrics",
        "",
        "Mean [95% bootstrap CI]; B − A is paired over cases scored in both runs.",
        "",
        "| metric | A | n A | B | n B | B − A [95% CI] | n paired | |",
        "|---|---|---:|---|---:|---|---:|---|",
    ]
    for m in c.metrics:
        name = f"{m.name} ↓" if m.lower_is_better else m.name
        out.append(
            f"| {name} | {fmt_ci(m.a, m.name)} | {m.n_a} | {fmt_ci(m.b, m.name)} | {m.n_b} "
            f"| {fmt_ci(m.diff, m.name, signed=True)} | {m.n_paired} | {_direction(m)} |"
        )
    out += ["", "↓ = lower is better; every other metric is higher-is-better.", ""]

    out += ["## Judge accuracy", ""]
    if c.judge:
        out += ["| metric | A | B | B − A |", "|---|---|---|---:|"]
        for j in c.judge:
            d = (
                f"{j.b.accuracy - j.a.accuracy:+.1%}"
                if j.a and j.b and j.a.n and j.b.n and not (math.isnan(j.a.accuracy) or math.isnan(j.b.accuracy))
                else "–"
            )
            out.append(f"| {j.metric} | {fmt_judge(j.a)} | {fmt_judge(j.b)} | {d} |")
    else:
        out.append("_Neither run has a judge check._")
    out.append("")

    for title, changes in (("Got worse", c.worse), ("Got better", c.better)):
        out += [f"## {title} ({len(changes)} case{'s' if len(changes) != 1 else ''})", ""]
        if not changes:
            out += ["_None._", ""]
        for change in changes:
            out += _render_case(change)

    if c.one_sided:
        out += ["## Scored in only one run", "", "A null score means the judge failed or the metric did not apply.", ""]
        out += ["| case | metric | A | B |", "|---|---|---:|---:|"]
        for change in c.one_sided:
            for m in change.moves:
                out.append(
                    f"| `{change.case_id}` | {m.metric} | {fmt_value(m.a, m.metric)} | {fmt_value(m.b, m.metric)} |"
                )
        out.append("")

    if c.only_in_a or c.only_in_b:
        out += ["## Cases in only one run", ""]
        for label, cases in (("A", c.only_in_a), ("B", c.only_in_b)):
            for case in cases:
                out.append(f"- only in {label}: `{case['id']}` — {_inline(case.get('question', ''), QUESTION_CHARS)}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------- command line


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m eval compare",
        description="Compare two evaluation run folders (A = baseline, B = candidate).",
    )
    p.add_argument("run_a", type=Path, help="baseline run folder")
    p.add_argument("run_b", type=Path, help="candidate run folder")
    p.add_argument(
        "--fail-on-regression",
        type=_threshold,
        metavar="THRESHOLD",
        help="exit 1 if a metric's mean gets worse by more than THRESHOLD "
        "(absolute for scores, relative for latency: 0.1 = 10%% slower)",
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the Markdown to FILE")
    p.add_argument("--n-boot", type=int, default=N_BOOT, help=f"bootstrap resamples (default {N_BOOT})")
    p.add_argument("--seed", type=int, default=SEED, help=f"bootstrap seed (default {SEED})")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Print the comparison; 0 = fine, 1 = regression beyond the threshold, 2 = bad arguments or run folder.

    ``argv`` are the arguments after ``compare``; a leading ``compare`` is dropped so
    ``main(sys.argv[1:])`` also works from ``python -m eval``.
    """
    args_in = list(sys.argv[1:] if argv is None else argv)
    if len(args_in) >= 3 and args_in[0] == "compare" and not Path("compare").is_dir():
        args_in = args_in[1:]
    try:
        args = _parser().parse_args(args_in)
    except SystemExit as e:  # argparse already printed the usage and the error
        return e.code if isinstance(e.code, int) else 2
    try:
        run_a, run_b = load_run(args.run_a), load_run(args.run_b)
    except RunFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    comparison = compare(run_a, run_b, args.fail_on_regression, n_boot=args.n_boot, seed=args.seed)
    markdown = render_comparison(comparison)
    print(markdown)
    if args.out is not None:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(markdown, encoding="utf-8")
        except OSError as e:
            print(f"error: cannot write {args.out}: {e}", file=sys.stderr)
            return 2
    if comparison.regressions:
        for m in comparison.regressions:
            print(f"REGRESSION {m.name}: {m.reason}, beyond threshold {args.fail_on_regression:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
