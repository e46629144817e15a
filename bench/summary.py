"""Build ``bench/RESULTS.md``: one table from the JSON the benchmark scripts wrote to ``bench/out/``.

    python bench/summary.py [--out bench/RESULTS.md]

Why a separate step: each script can be re-run alone (a slow one with other
settings), and the summary always shows every benchmark's latest figures side by
side, with the baseline each is compared against, the target, whether it is
met, and how and where each figure was made (command, machine, load average).
A benchmark with no JSON yet is listed as not run rather than silently left out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import OUT, ROOT, machine

BENCHMARKS = ("ingest", "retrieval", "answer", "ui_load")
OTHER_CPU_LIMIT = 0.25  # cores' worth of CPU used by other processes beyond which timings are flagged
Row = tuple[str, str, str, str, str, str, str]  # benchmark, measure, value, baseline, ratio, target, met


def _f(x: float | None, digits: int = 2, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f}{unit}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b or any(isinstance(v, float) and math.isnan(v) for v in (a, b)):
        return ""
    return f"{a / b:.2f}x"


def _met(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "**no**")


def ingest_rows(d: dict) -> list[Row]:
    f, t = d["figures"], d["figures"]["targets"]
    rows: list[Row] = [
        ("ingest", f"cold ingest of corpus/ ({f['corpus_chunks']} chunks, median of {f['runs']})",
         _f(f["cold_ingest_s"], 2, " s"), "", "", "", ""),
        ("ingest", f"unchanged re-ingest, in process (median of {f['unchanged_runs']})",
         _f(f["unchanged_reingest_ms"], 0, " ms"), "", "", f"<= {t['unchanged_reingest_ms']:,} ms",
         _met(f["unchanged_reingest_ms"] <= t["unchanged_reingest_ms"])),
    ]
    rates = f["embedding_chunks_per_s"]
    rates = rates if isinstance(rates, dict) else {"torch": rates}  # results from before the int8 backend
    for backend, rate in rates.items():
        torch_rate = rates.get("torch") if backend != "torch" else None
        rows.append((
            "ingest",
            f"embedding throughput, {backend}, {f['synthetic_chunks']:,} synthetic chunks ({f['runs']} run(s))",
            _f(rate, 1, " chunks/s"), _f(torch_rate, 1, " chunks/s") if torch_rate else "", _ratio(rate, torch_rate),
            f">= {t['embedding_chunks_per_s']} chunks/s",
            _met(rate >= t["embedding_chunks_per_s"]),
        ))
    return rows


def retrieval_rows(d: dict) -> list[Row]:
    q = d["figures"]["quality"]
    ours, naive, t = q["ours"], q["naive"], q["targets"]
    base = "naive: RecursiveCharacterTextSplitter 1000/200, dense top 4"
    rows: list[Row] = [
        ("retrieval", f"hit@1, hybrid top {q['top_k']}, {q['cases']} cases", _f(ours["hit@1"], 3),
         _f(naive["hit@1"], 3), _ratio(ours["hit@1"], naive["hit@1"]), f">= {t['hit@1']}",
         _met(ours["hit@1"] >= t["hit@1"])),
        ("retrieval", "hit@3", _f(ours["hit@3"], 3), _f(naive["hit@3"], 3), _ratio(ours["hit@3"], naive["hit@3"]),
         f">= {t['hit@3']}", _met(ours["hit@3"] >= t["hit@3"])),
        ("retrieval", "MRR", _f(ours["mrr"], 3), _f(naive["mrr"], 3), _ratio(ours["mrr"], naive["mrr"]), "", ""),
        ("retrieval", f"context tokens / question ({d['figures']['token_counter']})", _f(ours["tokens"], 0),
         _f(naive["tokens"], 0), _ratio(ours["tokens"], naive["tokens"]), f"<= {t['token_ratio']}x naive",
         _met(ours["tokens"] <= t["token_ratio"] * naive["tokens"])),
    ]
    for name, part in q.get("parts", {}).items():
        rows.append(("retrieval", f"hit@1 / hit@3, {name.replace('_', '-')} cases ({part['n']})",
                     f"{_f(part['hit@1'], 3)} / {_f(part['hit@3'], 3)}", "", "", "", ""))
    lt = d["figures"].get("latency_targets_ms", {})
    for row in d["figures"].get("latency", []):
        rows.append(("retrieval", f"one retrieval at {row['chunks']:,} chunks, p50 / p95 ({row['queries']} queries)",
                     f"{_f(row['p50_ms'], 1)} / {_f(row['p95_ms'], 1)} ms", "", "",
                     f"p50 <= {lt[str(row['chunks'])]} ms" if str(row["chunks"]) in lt else "",
                     _met(row["p50_ms"] <= lt[str(row["chunks"])]) if str(row["chunks"]) in lt else ""))
        rows.append(("retrieval", f"BM25 index build at {row['chunks']:,} chunks", _f(row["index_build_s"], 1, " s"),
                     "", "", "", ""))
    rows[0] = (*rows[0][:3], f"{rows[0][3]} ({base})", *rows[0][4:])
    return rows


def answer_rows(d: dict) -> list[Row]:
    f = d["figures"]
    modes = f["modes"]
    n = f"{len(f['questions'])} question(s) x {f['runs']} run(s)"
    rows: list[Row] = []
    straight = modes.get("straight")
    base = "raw llama.cpp from the gold passage"
    # issue targets: full answer p50 <= 10 s and <= 0.6x raw llama.cpp; first token p50 <= 2.5 s
    for mode in ("reference", "check", "chain", "corpus"):
        r = modes.get(mode)
        if not r:
            continue
        targets = {"ttft_s": ("p50 <= 2.5 s", r["ttft_s"] <= 2.5),
                   "total_s": ("p50 <= 10 s, <= 0.6x raw", r["total_s"] <= 10 and bool(straight)
                               and r["total_s"] <= 0.6 * straight["total_s"])} if mode in ("chain", "corpus") else {}
        for key, label, digits in (("ttft_s", "first token s", 2), ("total_s", "total s", 2),
                                   ("tokens_per_s", "generated tok/s", 1)):
            target, met = targets.get(key, ("", None))
            rows.append(("answer", f"{mode}, {label}, median of {n}", _f(r[key], digits),
                         f"{_f(straight[key], digits)} ({base})" if straight else "",
                         _ratio(r[key], straight[key]) if straight else "", target, _met(met)))
        rows.append(("answer", f"{mode}, peak RSS", f"{r.get('peak_rss_mib', '?')} MiB", "", "", "", ""))
    for mode, same in (f.get("identical_to_reference") or {}).items():
        rows.append(("answer", f"model output identical to the reference decoder: {mode}",
                     f"{same}/{len(f['questions'])}", "", "", "", ""))
    return rows


def ui_rows(d: dict) -> list[Row]:
    f, t = d["figures"], d["figures"]["targets"]
    peak = f.get("server_peak_rss_mib")
    return [
        ("UI load", f"{f['sessions']} concurrent sessions x 2 turns: requests / errors",
         f"{f['requests']} / {f['errors']}", "", "", "0 errors", _met(f["errors"] == 0)),
        ("UI load", "latency per request, p50 / p95 (mostly queueing for the one model)",
         f"{_f(f['p50_s'], 1)} / {_f(f['p95_s'], 1)} s", "", "", "p50 <= 60 s", _met(f["p50_s"] <= 60)),
        ("UI load", "feedback rows sent / stored (every answer rated)",
         f"{f.get('feedback_sent', '?')} / {f.get('feedback_stored', '?')}", "", "", "all stored",
         _met(f.get("feedback_sent") is not None and f.get("feedback_sent") == f.get("feedback_stored"))),
        ("UI load", "wall time", _f(f["wall_s"], 0, " s"), "", "", "", ""),
        ("UI load", "cross-session leaks", str(f["cross_session_leaks"]), "", "", "0",
         _met(f["cross_session_leaks"] == 0)),
        ("UI load", "peak RSS of `python -m assistant serve` and children", _f(peak, 0, " MiB"), "", "",
         f"<= {t['server_peak_rss_mib']:,} MiB (3 GiB)",
         _met(None if peak is None else peak <= t["server_peak_rss_mib"])),
    ]


BUILDERS = {"ingest": ingest_rows, "retrieval": retrieval_rows, "answer": answer_rows, "ui_load": ui_rows}


def build(out_dir: Path = OUT, note: str = "") -> str:
    results = {}
    for name in BENCHMARKS:
        path = out_dir / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text(encoding="utf-8"))
    rows: list[Row] = []
    for name, data in results.items():
        rows += BUILDERS[name](data)
    machines = sorted({d["machine"] for d in results.values()}) or [machine()]
    lines = [
        "# Benchmark results",
        "",
        f"Built by `bench/summary.py` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} from `bench/out/*.json` "
        "(`make bench` runs every script, then this). Do not edit by hand: re-run the scripts.",
        "",
        *([f"**Note**: {note}", ""] if note else []),
        f"Machine: {'; '.join(machines)}.",
        "",
        "| benchmark | measure | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
        *(f"| {' | '.join(r)} |" for r in rows),
        "",
        "Ratios are value / baseline. Retrieval latency targets: p50 <= 30 ms at 10,000 chunks, <= 100 ms at 100,000.",
        "",
        "## How each figure was made",
        "",
        "| benchmark | command | finished | wall time | other processes' CPU (cores) | load average at end "
        "(1/5/15 min) |",
        "|---|---|---|---|---|---|",
    ]
    cores = os.cpu_count() or 1
    warnings = []
    for name in BENCHMARKS:
        d = results.get(name)
        if d is None:
            lines.append(f"| {name} | not run (no `bench/out/{name}.json`) | | | | |")
            continue
        wall = _f(d.get("wall_s"), 0, " s")
        other = d.get("other_cpu_cores")
        lines.append(f"| {name} | `{d['command']}` | {d['finished']} | {wall} | "
                     f"{'not measured' if other is None else f'{other:.2f}'} | {d['load_average_at_end']} |")
        if other is not None and other > OTHER_CPU_LIMIT:
            warnings.append(name)
    if warnings:
        lines += ["", f"**Caution**: while {', '.join(warnings)} ran, other processes used more than "
                  f"{OTHER_CPU_LIMIT} of the {cores} cores: those timings are pessimistic and not comparable with a "
                  "quiet run."]
    else:
        lines += ["", f"Where measured, other processes used at most {OTHER_CPU_LIMIT} cores during the run (the "
                  "load average includes the benchmarks' own threads, so it is shown but not used to judge)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    ap.add_argument("--from", dest="src", type=Path, default=OUT, help="folder of the JSON files")
    ap.add_argument("--note", default="", help="a sentence printed above the table (e.g. why runs were reduced)")
    args = ap.parse_args()
    text = build(args.src, args.note)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
