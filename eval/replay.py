"""``python -m eval replay RUN``: today's checks on the drafts a run's model wrote, without the model.

Why: the stages after generation (screen, quote check, claim checks, citations) decide much of
``answer_correct``, and a real run takes the model ~12 s a turn. Replaying a run's stored drafts
(``raw``) through the current code takes seconds, so a change to those stages can be measured on the dev
split before a real run confirms it. Retrieval is redone (it is fast and deterministic); a turn whose
query or passages now differ from the run's is reported and left out, because its draft was written
from other passages. A change to the prompt, the decoder or retrieval needs a real run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.metrics import deterministic_scores


def _rows(run_dir: Path) -> list[dict]:
    path = run_dir / "cases.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: give a folder written by `python -m eval run`")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def replay(run_dir: Path, dataset: Path, chain) -> list[dict]:
    """One dict per scored answerable or abstain turn: id, before and after scores, and the new answer."""
    from assistant.schema import Turn
    from eval.run import load_dataset, row_id

    specs = {row_id(case, k): spec for case in load_dataset(dataset) for k, spec in enumerate(case["turn_specs"])}
    out = []
    for row in _rows(run_dir):
        spec = specs.get(row["id"])
        if spec is None:  # the dataset changed since the run
            continue
        questions = [t if isinstance(t, str) else t["question"] for t in row["turns"]]
        history = [Turn(question=q, answer=a) for q, a in zip(questions[:-1], row["earlier_answers"], strict=True)]
        p = chain.prepare({"question": row["question"], "history": history})
        same = p.query == row["query"] and [x.text() for x in p.passages()] == row["contexts"]
        entry = {"id": row["id"], "same_passages": same, "before": row["scores"], "reasons_before": row["reasons"]}
        if same:
            answer = chain.finish(p, row["raw"]).model_dump(mode="json")
            entry["after"], entry["reasons_after"] = deterministic_scores(spec, answer)
            entry["after"].pop("latency_s", None)  # no model ran: not comparable with the run's
            entry["answer"] = answer["answer"]
        out.append(entry)
    return out


def _mean(rows: list[dict], side: str, metric: str) -> tuple[float, int]:
    vals = [r[side][metric] for r in rows if metric in r.get(side, {})]
    return (sum(vals) / len(vals) if vals else float("nan")), len(vals)


def main(argv: list[str]) -> int:
    from assistant.settings import load_settings
    from eval.run import DEFAULT_CACHE, DEFAULT_DATASET, Answerer

    p = argparse.ArgumentParser(prog="python -m eval replay", description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a run folder (eval/runs/NAME)")
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="the dataset the run read")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where the eval's own store lives")
    p.add_argument("--show", action="store_true", help="print each turn whose answer_correct or abstention changed")
    args = p.parse_args(argv)
    try:
        # the eval's own store, brought up to date with the corpus as a run does
        rows = replay(args.run, args.dataset, Answerer(load_settings(), args.cache_dir / "store").chain)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    same = [r for r in rows if r["same_passages"]]
    print(f"{len(same)} of {len(rows)} turns replayed ({len(rows) - len(same)} now retrieve other passages)")
    for metric in ("answer_correct", "false_refusal", "abstention_accuracy", "quote_verification"):
        before, n = _mean(same, "before", metric)
        after, _ = _mean(same, "after", metric)
        print(f"{metric:22s} {before:.3f} -> {after:.3f}  ({n} turns)")
    if args.show:
        for r in same:
            for metric in ("answer_correct", "abstention_accuracy"):
                b, a = r["before"].get(metric), r["after"].get(metric)
                if b != a:
                    print(f"\n{r['id']} {metric}: {b} -> {a}: {r['reasons_after'].get(metric, '')}\n"
                          f"{r['answer'][:700]}")
    return 0
