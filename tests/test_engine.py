"""The decoding speed-ups against llama-cpp-python's own grammar path (real model, whole answers).

Reference: ``Llama.create_completion`` with the same prompt and GBNF grammar, greedy, repeat penalty 1.0 -
what the chain ran before (via LangChain's ChatLlamaCpp).

- Grammar check-then-resample picks from the same logits as the reference, one token at a time, so its
  output must be byte-identical on every question.
- The forced-token fast-forward evaluates a quote's known rest in one batch. llama.cpp's CPU kernels
  accumulate in a different order for a batch than for single tokens, so the KV values differ in the last
  bits, and a later near-tie (two tokens within a hair of each other) can tip the other way: measured on the
  headline question, "whereas" against "while" after a fast-forwarded quote. So the fast path must be
  identical on most questions and, where it is not, diverge only at a genuine near-tie of the reference's
  own logits and never inside a quote; a logic error (a wrong forced token, a grammar slip) fails that.
"""

from __future__ import annotations

import pytest

from assistant.engine import chatml
from assistant.grammar import quote_forcing, quote_grammar

pytestmark = pytest.mark.llm

QUESTIONS = [
    "How does anastrozole differ from clomiphene?",
    "Which cells does FSH act on?",
    "What does hCG do in male infertility treatment?",
    "Why can TRT lower sperm counts?",
    "What is gonadorelin and how is it given?",
    "Who is clomiphene first-line for?",
    "What side effects can anastrozole have?",
    "Which study found anastrozole helps men without high estrogen?",
    "Why does obesity raise estrogen in men?",
    "What is the capital of Australia?",
]
MAX_TOKENS = 160  # the quotes and the prose written on top of them; compared token by token
#: logits: at a divergence the fast path's token must be this close to the reference's. Why not closer: the two
#: read the prompt in different batch layouts, and llama.cpp's batch and single-token kernels round differently
#: over ~1,000 prompt tokens (0.25 held on PyTorch's passages; on the int8 encoder's one question diverged at 0.267)
NEAR_TIE = 0.5


@pytest.fixture(scope="module")
def chain(ingested_settings, retriever):
    from assistant.chain import build_chain

    c = build_chain(ingested_settings, retriever)
    c.warm_up()
    return c


def test_speedups_give_the_same_answer_as_the_reference_decoder(chain) -> None:
    from llama_cpp import LlamaGrammar

    model = chain.llm
    engine = model.engine
    fast_forwarded = identical = compared = 0
    for question in QUESTIONS:
        p = chain.prepare({"question": question, "history": []})
        if not p.messages:
            continue
        passages = p.passages()
        grammar = quote_grammar(passages, chain.prompt.refusal)
        forcing = quote_forcing(passages, chain.prompt.refusal)
        prompt = chatml([("system", p.messages[0].content), ("user", p.messages[1].content)])
        with engine.lock:
            # the prompt is read once, in one layout, and every decoder starts from that cache with its last
            # token evaluated again: a prompt read in other batches (another question's cache) changes floats
            tokens = engine.tokenize(prompt)
            engine.rewind(0)
            engine.feed(tokens)
            engine.rewind(len(tokens) - 1)
            ref = engine.llama.create_completion(
                tokens, max_tokens=MAX_TOKENS, temperature=0.0, repeat_penalty=1.0, top_k=1, top_p=1.0,
                grammar=LlamaGrammar.from_string(grammar, verbose=False), stop=["<|im_end|>"],
            )["choices"][0]["text"]
            engine.rewind(len(tokens) - 1)
            checked = "".join(engine.generate(tokens, MAX_TOKENS, grammar, None))
            ref_tokens = list(engine.last.tokens)
            engine.rewind(len(tokens) - 1)
            fast = "".join(engine.generate(tokens, MAX_TOKENS, grammar, forcing))
            fast_tokens = list(engine.last.tokens)
            fast_forwarded += engine.last.forced
            compared += 1
            # a cut after MAX_TOKENS can end inside a UTF-8 character: we show it as U+FFFD, llama-cpp-python drops it
            checked, fast = checked.rstrip("\ufffd"), fast.rstrip("\ufffd")
            assert checked == ref, f"check-then-resample differs from the reference: {question}"
            if fast_tokens == ref_tokens:
                assert fast == ref, question
                identical += 1
                continue
            d = next(i for i, (a, b) in enumerate(zip(ref_tokens, fast_tokens, strict=False)) if a != b)
            engine.rewind(len(tokens) - 1)
            for t in [tokens[-1], *ref_tokens[:d]]:  # one at a time, as the reference read them
                engine.llama.eval([t])
            logits = engine.logits()
            margin = abs(float(logits[ref_tokens[d]]) - float(logits[fast_tokens[d]]))
        before = engine.llama.detokenize(ref_tokens[:d]).decode("utf-8", "replace")
        assert margin < NEAR_TIE, f"{question}: the fast path left the reference at a clear choice ({margin:.3f})"
        # outside a quote, or at its first token (which sentence to quote: a choice like any other); never inside
        # one, where the grammar's forcing decides
        inside = before.count("\"") % 2 == 1 and not before.endswith("\"")
        assert not inside, f"{question}: the fast path changed a quote: {before[-80:]!r}"
    # every divergence above was a near-tie outside quotes; how many there are depends on the prompts (7 of 9
    # identical on PyTorch's passages, 5 of 9 on the int8 encoder's), so only a majority is required
    assert compared >= 9 and identical >= compared // 2, f"only {identical} of {compared} identical"
    assert fast_forwarded > 50  # the fast-forward did act
