"""The exact decoding speed-ups give byte-identical output to llama-cpp-python's own grammar path (real model).

Reference: ``Llama.create_completion`` with the same prompt and GBNF grammar, greedy, repeat penalty 1.0 -
what the chain ran before (via LangChain's ChatLlamaCpp). Candidates: grammar check-then-resample, and that
plus the forced-token fast-forward, on whole answers: the quotes, where the fast-forward acts, and
the start of the answer written after them (computed on top of the batch-evaluated quotes).
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
MAX_TOKENS = 320  # whole answers: a cut after N tokens would compare tokenisations, not text


@pytest.fixture(scope="module")
def chain(ingested_settings, retriever):
    from assistant.chain import build_chain

    c = build_chain(ingested_settings, retriever)
    c.warm_up()
    return c


def test_speedups_give_the_same_answer_as_the_reference_decoder(chain) -> None:
    from llama_cpp import LlamaGrammar

    model = chain._llm_factory()
    engine = model.engine
    fast_forwarded = 0
    for question in QUESTIONS:
        p = chain.prepare({"question": question, "history": []})
        if not p.messages:
            continue
        passages = p.passages()
        grammar = quote_grammar(passages, chain.prompt.refusal)
        prompt = chatml([("system", p.messages[0].content), ("user", p.messages[1].content)])
        with engine.lock:
            # each decoder reads the prompt from scratch: llama.cpp's float results depend on how tokens were
            # batched, so a prompt partly read from the cache could tip a near-tie either way (measured: the
            # hCG question's answer changes with the cache state, in llama-cpp-python's own loop too)
            tokens = engine.tokenize(prompt)
            engine.rewind(0)
            ref = engine.llama.create_completion(
                prompt, max_tokens=MAX_TOKENS, temperature=0.0, repeat_penalty=1.0, top_k=1, top_p=1.0,
                grammar=LlamaGrammar.from_string(grammar, verbose=False), stop=["<|im_end|>"],
            )["choices"][0]["text"]
            engine.rewind(0)
            checked = "".join(engine.generate(tokens, MAX_TOKENS, grammar))
            engine.rewind(0)
            fast = "".join(engine.generate(tokens, MAX_TOKENS, grammar, quote_forcing(passages, chain.prompt.refusal)))
            fast_forwarded += engine.last.forced
        assert checked == ref, question
        assert fast == ref, question
    assert fast_forwarded > 50  # the fast-forward did act
