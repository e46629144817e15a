"""``python -m eval run|compare``: the maintainers' gate on prompt and retrieval changes."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from assistant.offline import go_offline

go_offline()


def _run_parser() -> argparse.ArgumentParser:
    from eval.run import ALL_METRICS, DEFAULT_CACHE, DEFAULT_DATASET, DEFAULT_METRICS, DEFAULT_OUT, JUDGE_CHECK

    p = argparse.ArgumentParser(prog="python -m eval run",
                                description="Answer every case with the real chain, score it and write a report.")
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET,
                   help="questions JSONL (default: %(default)s, the split to tune on; eval/datasets/test.jsonl is "
                   "the frozen split)")
    p.add_argument("--prompt", help="prompt version (a name in assistant/prompts/); default: the setting")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for run folders (default: %(default)s)")
    p.add_argument("--name", help="run folder name (default: time stamp and prompt)")
    p.add_argument("--judge", choices=("local", "openai"), default="local",
                   help="local: the packaged model; openai: ASSISTANT_JUDGE__BASE_URL/_MODEL_NAME/_API_KEY "
                   "(falling back to the ASSISTANT_LLM__ ones)")
    p.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                   help="comma-separated judged metrics (default: %(default)s; all: " + ",".join(ALL_METRICS)
                   + "; ragas' LLM metrics take 30-110 s per sample with the local judge); answer_correct and the "
                   "other deterministic metrics always run")
    p.add_argument("--limit", type=int, help="only the first N cases")
    p.add_argument("--judge-check", type=Path, default=JUDGE_CHECK,
                   help="faithful/unfaithful pairs scored to measure the judge (default: %(default)s)")
    p.add_argument("--no-judge-check", action="store_true", help="skip the judge check")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="answer and verdict cache")
    p.add_argument("--no-cache", action="store_true", help="recompute everything (the cache is not written either)")
    return p


def _run(argv: list[str]) -> int:
    from assistant.llm import ModelError
    from assistant.prompts import PromptError
    from assistant.settings import load_settings
    from assistant.store import StoreError
    from eval.judge import JudgeError
    from eval.run import EvalError, RunOptions, run

    args = _run_parser().parse_args(argv)
    options = RunOptions(
        dataset=args.dataset, prompt=args.prompt, out=args.out, judge=args.judge,
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()], limit=args.limit,
        judge_check=None if args.no_judge_check else args.judge_check, cache_dir=args.cache_dir,
        use_cache=not args.no_cache, name=args.name,
    )
    try:
        settings = load_settings()
        run_dir = run(options, settings)
    except (EvalError, JudgeError, ModelError, PromptError, StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run_dir / "report.md"
    print(report.read_text(encoding="utf-8").splitlines()[0])
    print(f"report: {report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m eval run [options] | python -m eval compare RUN_A RUN_B [--fail-on-regression T]"
              " | python -m eval replay RUN [--show] | python -m eval gate advice|literature [--train]"
              " | python -m eval feedback export --out FILE")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return _run(rest)
    if command == "feedback":
        from eval.feedback import main as feedback_main

        return feedback_main(rest)
    if command in ("gate", "advice"):  # "advice": the command's name before there were two gates
        from eval.gates import main as gate_main

        return gate_main(rest if command == "gate" else ["advice", *rest])
    if command == "compare":
        from eval.compare import main as compare_main

        return compare_main(rest)
    if command == "replay":
        from eval.replay import main as replay_main

        return replay_main(rest)
    print(f"unknown command {command!r}: use run, compare, replay, gate or feedback", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
