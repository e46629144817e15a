"""Answer latency of the local model: the product's chain against two baselines.

    python bench/answer.py [--runs 1] [--questions 6] [--prompt v3] [--modes chain,straight,lookup]

Modes, each answering the same questions with one loaded model (so llama.cpp's
prefix cache works as in the product):

- ``chain``: the product, ``ask()`` with default settings (grammar-constrained
  quotes, plain decoding);
- ``straight``: the baseline of plain llama.cpp: the very same messages sent to
  ``Llama.create_chat_completion`` with no grammar, no chain and no checks, so
  the difference is what the chain and its grammar cost (retrieval excluded);
- ``lookup``: the chain with prompt-lookup decoding (``--draft`` tokens), which
  STACK.md measured at 2.5-3x on free text.

Prints median time to first token, total time and generated tokens/s per mode,
and their ratios to ``straight``; outputs of ``chain`` and ``lookup`` are
compared (temperature 0 should give the same answer). Questions are taken in
turn (run 1: q1, q2, ...; run 2: q1, q2, ...), and the model's cache is
cleared at the start of each mode and whenever the previous prompt was the
same question, so that no answer gets its whole prompt from the cache (the
shared system-prompt prefix is reused, as in the product). Figures also go to
``bench/out/answer.json``. Defaults (1 run x 6 questions x 3 modes, about
8 minutes on 2 cores) keep ``make bench`` short; raise them for tighter medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.offline import go_offline

go_offline()

from langchain_core.messages import BaseMessage  # noqa: E402

from assistant.chain import AnswerChain, ask, build_chain  # noqa: E402
from assistant.ingestion import ingest  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from bench.common import load_cases, machine, write_result  # noqa: E402

MODES = ("chain", "straight", "lookup")


def _tokens(chain: AnswerChain, text: str) -> int:
    llm = chain._llm_factory()
    return len(llm.client.tokenize(text.encode(), add_bos=False))  # type: ignore[attr-defined]


def _fresh_cache(chain: AnswerChain) -> None:
    """Forget the evaluated prompt (llama.cpp would otherwise reuse all of an identical one)."""
    chain._llm_factory().client.reset()  # type: ignore[attr-defined]


def _time_questions(
    chain: AnswerChain, questions: list[str], runs: int, label: str,
    answer: Callable[[str], tuple[float | None, float, str]],
) -> dict:
    """Answer each question ``runs`` times with ``answer(q) -> (first token s, total s, text)``; medians.

    The model's cache is cleared at the start, and before every repeat of a lone question, so no answer
    reads its whole prompt from the cache (the shared system-prompt prefix still is, as in the product).
    """
    _fresh_cache(chain)
    ttft, total, tps, outputs = [], [], [], []
    for run in range(runs):
        for q in questions:
            if len(questions) == 1 and run > 0:
                _fresh_cache(chain)
            first, elapsed, text = answer(q)
            gen_s = elapsed - (first or 0)
            ttft.append(first if first is not None else float("nan"))
            total.append(elapsed)
            tps.append(_tokens(chain, text) / gen_s if gen_s > 0 else float("nan"))
            if run == 0:
                outputs.append(text)
            print(f"  {label}: {elapsed:.1f}s {q[:50]}", flush=True)
    return {"ttft_s": statistics.median(ttft), "total_s": statistics.median(total),
            "tokens_per_s": statistics.median(tps), "answers": len(total), "outputs": outputs}


def run_chain(settings: Settings, questions: list[str], runs: int) -> dict:
    """The product path: ``ask()`` end to end (first token includes retrieval, ~30 ms)."""
    chain = build_chain(settings)
    chain.warm_up()

    def answer(q: str) -> tuple[float | None, float, str]:
        a = ask(chain, q)
        return a.timings.first_token_s, a.timings.total_s, a.raw

    return _time_questions(chain, questions, runs, "lookup" if settings.prompt_lookup_tokens else "chain", answer)


def _role(m: BaseMessage) -> str:
    return {"system": "system", "human": "user", "ai": "assistant"}.get(m.type, "user")


def run_straight(settings: Settings, questions: list[str], runs: int) -> dict:
    """Plain llama.cpp: the chain's own prompt for each question, streamed by ``create_chat_completion``."""
    chain = build_chain(settings)
    chain.warm_up()
    llama = chain._llm_factory().client  # type: ignore[attr-defined]
    prepared = {q: chain.prepare({"question": q, "history": []}) for q in questions}

    def answer(q: str) -> tuple[float | None, float, str]:
        messages = [{"role": _role(m), "content": m.content} for m in prepared[q].messages]
        t0 = time.perf_counter()
        first = None
        parts = []
        for event in llama.create_chat_completion(
            messages=messages, max_tokens=settings.max_tokens, temperature=0.0, top_k=1, top_p=1.0,
            repeat_penalty=1.0, stream=True,
        ):
            piece = event["choices"][0]["delta"].get("content") or ""
            if piece and first is None:
                first = time.perf_counter() - t0
            parts.append(piece)
        return first, time.perf_counter() - t0, "".join(parts)

    return _time_questions(chain, questions, runs, "straight", answer)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--prompt", default=None)
    ap.add_argument("--questions", type=int, default=6)
    ap.add_argument("--draft", type=int, default=10, help="prompt-lookup tokens of the 'lookup' mode")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        ap.error(f"unknown modes {sorted(unknown)}")
    started = time.perf_counter()
    cases = [c for c in load_cases() if c["expected"] == "answer" and len(c["turns"]) == 1]
    step = max(1, len(cases) // args.questions)
    questions = [c["turns"][0] for c in cases[::step]][: args.questions]
    print(f"machine: {machine()}; {len(questions)} questions x {args.runs} run(s) x modes {', '.join(modes)}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(store_dir=Path(tmp) / "store")
        if args.prompt:
            base = base.model_copy(update={"prompt": args.prompt})
        ingest([base.corpus_dir], base, progress=False)
        plain = base.model_copy(update={"prompt_lookup_tokens": 0})
        for mode in modes:
            if mode == "chain":
                results[mode] = run_chain(plain, questions, args.runs)
            elif mode == "straight":
                results[mode] = run_straight(plain, questions, args.runs)
            else:
                results[mode] = run_chain(base.model_copy(update={"prompt_lookup_tokens": args.draft}), questions,
                                          args.runs)
    ref = results.get("straight")
    print(f"\n## Answer latency (prompt {base.prompt}, medians; ratios to straight llama.cpp)\n")
    print("| mode | first token s | total s | generated tok/s | total vs straight |")
    print("|---|---|---|---|---|")
    for mode, r in results.items():
        ratio = f"{r['total_s'] / ref['total_s']:.2f}x" if ref else ""
        print(f"| {mode} | {r['ttft_s']:.2f} | {r['total_s']:.2f} | {r['tokens_per_s']:.1f} | {ratio} |")
    same = None
    if "chain" in results and "lookup" in results:
        same = sum(a == b for a, b in zip(results["chain"]["outputs"], results["lookup"]["outputs"], strict=True))
        print(f"\nidentical outputs, chain vs lookup: {same}/{len(questions)}")
    write_result("answer", {
        "prompt": base.prompt, "questions": questions, "runs": args.runs, "draft_tokens": args.draft,
        "modes": results, "identical_chain_lookup": same,
    }, vars(args), started)


if __name__ == "__main__":
    main()
