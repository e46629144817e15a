"""Answer latency of the local model: plain decoding vs prompt-lookup decoding.

    python bench/answer.py [--runs 3] [--prompt v3] [--questions 4]

For each setting, every question is answered ``runs`` times by the same
loaded model (so llama.cpp's prefix cache works as in the product); prints the
median time to first token, total time and generated tokens/s, and the ratio
of prompt-lookup to plain. Outputs are compared: temperature 0 must give the
same answer either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.offline import go_offline

go_offline()

from assistant.chain import ask, build_chain  # noqa: E402
from assistant.ingestion import ingest  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from bench.common import load_cases, machine  # noqa: E402


def run(settings: Settings, questions: list[str], runs: int) -> dict:
    chain = build_chain(settings)
    chain.warm_up()
    llm = chain._llm_factory()
    tokenize = llm.client.tokenize  # type: ignore[attr-defined]
    ttft, total, tps, outputs = [], [], [], []
    for q in questions:
        for _ in range(runs):
            a = ask(chain, q)
            n_tokens = len(tokenize(a.raw.encode(), add_bos=False))
            ttft.append(a.timings.first_token_s or float("nan"))
            total.append(a.timings.total_s)
            gen_s = a.timings.total_s - (a.timings.first_token_s or 0)
            tps.append(n_tokens / gen_s if gen_s > 0 else float("nan"))
        outputs.append(a.raw)
    return {"ttft": statistics.median(ttft), "total": statistics.median(total), "tps": statistics.median(tps),
            "outputs": outputs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompt", default=None)
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--draft", type=int, default=10, help="prompt-lookup tokens for the second setting")
    args = ap.parse_args()
    cases = [c for c in load_cases() if c["expected"] == "answer" and len(c["turns"]) == 1]
    step = max(1, len(cases) // args.questions)
    questions = [c["turns"][0] for c in cases[::step]][: args.questions]
    print(f"machine: {machine()}; {len(questions)} questions x {args.runs} runs")
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(store_dir=Path(tmp) / "store")
        if args.prompt:
            base = base.model_copy(update={"prompt": args.prompt})
        ingest([base.corpus_dir], base, progress=False)
        plain = run(base.model_copy(update={"prompt_lookup_tokens": 0}), questions, args.runs)
        pld = run(base.model_copy(update={"prompt_lookup_tokens": args.draft}), questions, args.runs)
    print(f"\n## Answer latency (prompt {base.prompt}, medians)\n")
    print("| decoding | first token s | total s | generated tok/s |")
    print("|---|---|---|---|")
    print(f"| plain | {plain['ttft']:.2f} | {plain['total']:.2f} | {plain['tps']:.1f} |")
    print(f"| prompt lookup ({args.draft}) | {pld['ttft']:.2f} | {pld['total']:.2f} | {pld['tps']:.1f} |")
    print(f"| ratio | {pld['ttft'] / plain['ttft']:.2f}x | {pld['total'] / plain['total']:.2f}x "
          f"| {pld['tps'] / plain['tps']:.2f}x |")
    same = sum(a == b for a, b in zip(plain["outputs"], pld["outputs"], strict=True))
    print(f"\nidentical outputs: {same}/{len(questions)}")


if __name__ == "__main__":
    main()
