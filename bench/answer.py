"""Answer latency of the local model: the product's decoding speed-ups against the path before them and a
raw llama.cpp baseline.

    python bench/answer.py [--runs 1] [--questions 6] [--prompt v4] [--modes straight,reference,check,chain]

Modes, each answering the same questions with one loaded model (so llama.cpp's
prefix cache works as in the product):

- ``straight``: raw llama.cpp answering each question from its single gold
  passage: ``Llama.create_chat_completion`` with the system prompt, that one
  passage and the question; no retrieval, no grammar, no checks;
- ``reference``: the chain as it decoded before the speed-ups: the quote
  grammar applied to the whole vocabulary at every step, token by token
  (``decode_check_first`` and ``decode_fast_forward`` off);
- ``check``: the chain with grammar check-then-resample only;
- ``chain``: the product's default (check-then-resample and forced-token
  fast-forward, plus the answer-time claim checks);
- ``corpus``: the chain in corpus cache mode (the whole corpus in the KV
  cache, loaded from disk; each question adds only itself and the numbers
  of its passages). Its cache file is built before timing starts.

Prints median time to first token, total time, generated tokens/s and the
process's peak RSS after each mode, the ratios of ``chain`` to ``straight``,
and whether ``reference``, ``check`` and ``chain`` produced identical model
output (they must: the speed-ups are exact). Questions are taken in turn, and
the model's cache is cleared at the start of each mode and before every
repeat of a lone question, so no answer gets its whole prompt from the cache
(the shared system-prompt prefix is reused, as in the product). Figures also go
to ``bench/out/answer.json``.
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


from assistant.chain import AnswerChain, ask, build_chain  # noqa: E402
from assistant.ingestion import ingest  # noqa: E402
from assistant.llm import LocalChatModel  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from bench.common import load_cases, machine, write_result  # noqa: E402

MODES = ("straight", "reference", "check", "chain", "corpus")
DECODING = {"reference": (False, False), "check": (True, False), "chain": (True, True), "corpus": (True, True)}



def _model(chain: AnswerChain) -> LocalChatModel:
    """The chain's in-process model: what this benchmark times (an endpoint's speed is not ours to measure)."""
    model = chain.llm
    if not isinstance(model, LocalChatModel):
        raise SystemExit("bench/answer.py times the in-process model: unset ASSISTANT_LLM__BASE_URL")
    return model


def _tokens(chain: AnswerChain, text: str) -> int:
    return len(_model(chain).client.tokenize(text.encode(), add_bos=False))


def _fresh_cache(chain: AnswerChain) -> None:
    """Forget the evaluated prompt (llama.cpp would otherwise reuse all of an identical one)."""
    _model(chain).client.reset()


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


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_chain(settings: Settings, questions: list[str], runs: int, label: str) -> dict:
    """The product path: ``ask()`` end to end (first token includes retrieval, ~30 ms)."""
    chain = build_chain(settings)
    chain.warm_up()
    model = _model(chain)
    forced = []

    def answer(q: str) -> tuple[float | None, float, str]:
        a = ask(chain, q)
        forced.append(model.engine.last.forced)
        return a.timings.first_token_s, a.timings.total_s, a.raw

    out = _time_questions(chain, questions, runs, label, answer)
    out["forced_tokens"] = sum(forced)
    out["peak_rss_mib"] = round(_peak_rss_mib())
    return out


def run_straight(settings: Settings, cases: list[dict], runs: int) -> dict:
    """Raw llama.cpp from each question's single gold passage: no retrieval, grammar or checks."""
    chain = build_chain(settings)
    chain.warm_up()
    llama = _model(chain).client
    chunks = chain.retriever.store.all_chunks()
    gold = {}
    for c in cases:
        hit = next((ch for ch in chunks if c["gold"][0] in ch.text), None)
        gold[c["turns"][0]] = hit.prompt_text() if hit else c["gold"][0]

    def answer(q: str) -> tuple[float | None, float, str]:
        messages = [{"role": "system", "content": chain.prompt.system_text()},
                    {"role": "user", "content": f"Passages:\n[1] {gold[q]}\n\nQuestion: {q}"}]
        t0 = time.perf_counter()
        first = None
        parts = []
        for event in llama.create_chat_completion(
            messages=messages, max_tokens=settings.llm.max_tokens, temperature=0.0, top_k=1, top_p=1.0,
            repeat_penalty=1.0, stream=True,
        ):
            piece = event["choices"][0]["delta"].get("content") or ""
            if piece and first is None:
                first = time.perf_counter() - t0
            parts.append(piece)
        return first, time.perf_counter() - t0, "".join(parts)

    out = _time_questions(chain, list(gold), runs, "straight", answer)
    out["peak_rss_mib"] = round(_peak_rss_mib())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--prompt", default=None)
    ap.add_argument("--questions", type=int, default=6)
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        ap.error(f"unknown modes {sorted(unknown)}")
    started = time.perf_counter()
    cases = [c for c in load_cases() if c.get("expected", "answer") == "answer" and len(c["turns"]) == 1
             and isinstance(c["turns"][0], str) and c.get("gold")]
    step = max(1, len(cases) // args.questions)
    cases = cases[::step][: args.questions]
    questions = [c["turns"][0] for c in cases]
    print(f"machine: {machine()}; {len(questions)} questions x {args.runs} run(s) x modes {', '.join(modes)}")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(store={"dir": Path(tmp) / "store"})
        if args.prompt:
            base = base.updated(answer={"prompt": args.prompt})
        ingest([base.store.corpus_dir], base, progress=False)
        for mode in modes:
            if mode == "straight":
                results[mode] = run_straight(base, cases, args.runs)
            else:
                check, fast = DECODING[mode]
                settings = base.updated(llm={"decode_check_first": check, "decode_fast_forward": fast,
                                             "context_mode": "corpus" if mode == "corpus" else "passages"})
                results[mode] = run_chain(settings, questions, args.runs, mode)
    ref = results.get("straight")
    print(f"\n## Answer latency (prompt {base.answer.prompt}, medians; ratios to straight llama.cpp from the gold "
          "passage)\n")
    print("| mode | first token s | total s | generated tok/s | total vs straight | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for mode, r in results.items():
        ratio = f"{r['total_s'] / ref['total_s']:.2f}x" if ref else ""
        print(f"| {mode} | {r['ttft_s']:.2f} | {r['total_s']:.2f} | {r['tokens_per_s']:.1f} | {ratio} "
              f"| {r['peak_rss_mib']} |")
    same = {}
    if "reference" in results:
        for mode in ("check", "chain"):
            if mode in results:
                same[mode] = sum(a == b for a, b in zip(results["reference"]["outputs"], results[mode]["outputs"],
                                                         strict=True))
                print(f"identical model output, reference vs {mode}: {same[mode]}/{len(questions)}")
    write_result("answer", {
        "prompt": base.answer.prompt, "questions": questions, "runs": args.runs, "modes": results,
        "identical_to_reference": same,
    }, vars(args), started)


if __name__ == "__main__":
    main()
