"""Plumbing of the answer chain with a scripted fake chat model (no real LLM here:
the real model is exercised in test_answers.py)."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.chain import AnswerChain, ask
from assistant.chunking import split_sentences
from assistant.schema import Answer, QuestionError, Turn
from assistant.settings import Settings
from tests.conftest import ARTICLE
from tests.support.fakes import no_llm


class FakeScriptedChatModel(FakeListChatModel):
    """Returns canned responses in order and records the messages it was sent."""

    seen: list

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(messages)
        return super()._call(messages, stop, run_manager, **kwargs)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(messages)
        return super()._stream(messages, stop, run_manager, **kwargs)


def _chain(retriever, settings: Settings, *responses: str) -> tuple[AnswerChain, FakeScriptedChatModel]:
    fake = FakeScriptedChatModel(responses=list(responses), seen=[])
    return AnswerChain(settings, retriever, lambda: fake), fake


QUOTE = "Anastrozole works by selectively inhibiting the aromatase enzyme"


def test_verified_quote_becomes_a_highlightable_citation(retriever, ingested_settings, article_text) -> None:
    chain, fake = _chain(
        retriever, ingested_settings,
        f'Anastrozole inhibits the aromatase enzyme [1].\nQuotes:\n[1] "{QUOTE}"\n[2] "Anastrozole cures everything."',
    )
    events = list(chain.runnable.stream({"question": "Which enzyme does anastrozole block?", "history": []}))
    tokens = [e for e in events if isinstance(e, str)]
    answer = events[-1]
    assert isinstance(answer, Answer) and len(tokens) > 5  # streamed before the final object
    assert not answer.abstained and answer.prose == "Anastrozole inhibits the aromatase enzyme [1]."
    assert answer.answer.startswith(answer.prose + "\n\nIn the sources' words:\n") and QUOTE in answer.answer
    good = [c for c in answer.citations if c.verified and c.chosen_by == "model"]
    assert len(good) == 1 and article_text[good[0].start : good[0].end] == QUOTE
    assert good[0].source == ARTICLE.name
    # retrieval adds the passages' units nearest the question that the model did not quote, verbatim
    added = [c for c in answer.citations if c.chosen_by == "retrieval"]
    assert len(added) == ingested_settings.answer.related_quotes
    for c in added:
        assert c.verified and article_text[c.start : c.end] == c.quote and c.quote in answer.answer
        assert QUOTE not in c.quote
    assert answer.unverified_quotes == 1 and answer.refused_by == ""
    assert next(c for c in answer.citations if not c.verified).start is None
    assert len(answer.contexts) == ingested_settings.retrieval.top_k
    assert answer.timings.first_token_s is not None and answer.timings.total_s >= answer.timings.first_token_s
    system, user = fake.seen[0]
    assert system.content == chain.prompt.system_text() and "[1] " in user.content


def test_related_quotes_off_shows_only_the_models(retriever, ingested_settings) -> None:
    settings = ingested_settings.updated(answer={"related_quotes": 0})
    chain, _ = _chain(retriever, settings, f'Anastrozole inhibits the aromatase enzyme [1].\nQuotes:\n[1] "{QUOTE}"')
    answer = ask(chain, "Which enzyme does anastrozole block?")
    assert [c.chosen_by for c in answer.citations if c.quote] == ["model"]


def test_refusal_cites_nothing(retriever, ingested_settings) -> None:
    chain, _ = _chain(retriever, ingested_settings, "The sources do not cover this question.")
    answer = ask(chain, "What is the half-life of anastrozole in dogs?")
    assert answer.abstained and answer.citations == []
    assert answer.answer == "The sources do not cover this question."
    assert answer.refused_by == "the model refused"


def test_invented_dose_is_replaced_by_refusal_with_pointer(retriever, ingested_settings) -> None:
    reply = f'Take 1 mg of anastrozole twice a week [1].\nQuotes:\n[1] "{QUOTE}"'
    chain, _ = _chain(retriever, ingested_settings, reply)
    answer = ask(chain, "How is anastrozole given to men with infertility?")
    assert answer.abstained and answer.citations == []
    assert answer.answer == "The sources do not cover this question."
    assert answer.refused_by.startswith("guard: answer stated amounts not in the sources")


@pytest.mark.parametrize("question", ["What dose of anastrozole should I take?",
                                      "My estradiol came back at 48 pg/mL. Should I start anastrozole on my own?"])
def test_dose_and_advice_questions_are_refused_without_the_model(retriever, ingested_settings, question) -> None:
    chain = AnswerChain(ingested_settings, retriever, no_llm)
    answer = ask(chain, question)
    assert answer.abstained and answer.citations == [] and answer.timings.first_token_s is None
    assert answer.answer.startswith("The sources do not cover this question.") and "clinician" in answer.answer
    assert answer.refused_by.startswith("dose or personal-advice question")


def test_out_of_scope_question_skips_the_model(retriever, ingested_settings) -> None:
    chain = AnswerChain(ingested_settings, retriever, no_llm)
    answer = ask(chain, "Who won the football world cup in 1998?")
    assert answer.abstained and answer.contexts == [] and answer.timings.first_token_s is None
    assert answer.refused_by.startswith("out of scope")


def test_a_name_only_the_sources_use_keeps_a_far_question_in_scope(retriever, ingested_settings) -> None:
    """Names embed poorly: this question's best cosine is below retrieval.min_relevance, yet it asks about a
    cited author; a question as far away that names nothing of the corpus is still refused."""
    chain = AnswerChain(ingested_settings, retriever, no_llm)
    question = "And in which journal did Rastrelli publish?"
    p = chain.prepare({"question": question, "history": []})
    assert max(r.dense or 0.0 for r in p.retrieved) < ingested_settings.retrieval.min_relevance
    assert p.refusal == "" and any("Rastrelli" in r.chunk.text for r in p.retrieved)
    assert chain.prepare({"question": "In which city did Ronaldo publish?", "history": []}).refusal.startswith(
        "out of scope")


def test_the_model_reads_pruned_passages_and_quotes_still_verify(retriever, ingested_settings) -> None:
    question = "Which enzyme does anastrozole block?"
    full, fake_full = _chain(retriever, ingested_settings.updated(answer={"context_budget_chars": 0}), "x")
    ask(full, question)
    tight = ingested_settings.updated(answer={"context_budget_chars": 300})
    chain, fake = _chain(retriever, tight, f'Quotes:\n[1] "{QUOTE}"\nAnswer: It blocks aromatase [1].')
    answer = ask(chain, question)
    sent, sent_full = fake.seen[0][1].content, fake_full.seen[0][1].content
    assert len(sent) < len(sent_full)
    for c in answer.contexts:
        assert c.shown and c.shown in sent  # the context records exactly what the model read
        body = c.shown.split("\n")[-1]  # a table row's header line comes first
        assert all(body[i:j] in c.text for i, j in split_sentences(body))
    quoted = [c for c in answer.citations if c.quote]
    assert quoted and all(c.verified for c in quoted)  # checked against the whole chunk, so they still verify


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_questions_raise_clear_errors(retriever, ingested_settings, question: str) -> None:
    chain = AnswerChain(ingested_settings, retriever, no_llm)
    with pytest.raises(QuestionError):
        ask(chain, question)


def test_follow_up_uses_previous_question(retriever, ingested_settings) -> None:
    chain, fake = _chain(retriever, ingested_settings, "Clomiphene [1].")
    history = [Turn(question="How does anastrozole differ from clomiphene?", answer="...")]
    answer = ask(chain, "Which one is first-line for secondary hypogonadism?", history)
    assert answer.query.startswith("How does anastrozole differ from clomiphene?")
    assert "Earlier question: How does anastrozole differ from clomiphene?" in fake.seen[0][1].content


def test_a_contradicting_answer_falls_back_to_its_quotes(retriever, ingested_settings) -> None:
    """Plumbing with a scripted fake model: the swapped headline answer is removed, the verified quote is the
    answer, and the CLI, the chat page and --json all say what was removed and why."""
    from assistant.cli import format_answer
    from assistant.render import chat_markdown

    quote = ("Unlike Anastrozole, which blocks estrogen production, Clomiphene works by competitively binding to "
             "estrogen receptors in the hypothalamus and pituitary.")
    swapped = ("Anastrozole works by competitively binding to estrogen receptors in the hypothalamus and pituitary, "
               "while Clomiphene works by blocking estrogen production [1].")
    chain, _ = _chain(retriever, ingested_settings, f'Quotes:\n[1] "{quote}"\nAnswer: {swapped}')
    answer = ask(chain, "How does anastrozole differ from clomiphene?")
    assert not answer.abstained and answer.fell_back and answer.prose == ""
    assert answer.answer.startswith("The sources say:\n[1] “Unlike Anastrozole") and swapped not in answer.answer
    assert answer.drafted == swapped
    removed = [c for c in answer.checks if not c.kept]
    assert len(removed) == 2 and all(c.how == "attribution" for c in removed)
    assert any(c.verified and c.quote == quote for c in answer.citations)
    page = chat_markdown(answer)
    assert "~~Anastrozole works by competitively binding" in page and "not of anastrozole" in page
    assert "Set aside from the model's draft, and why:" in format_answer(answer)
    public = answer.public()
    assert public["fell_back"] and public["drafted"] == swapped and len(public["checks"]) == 2


def test_the_chain_exposes_the_model_it_answers_with(retriever, ingested_settings) -> None:
    """``chain.llm`` is the object the chain streams from (loaded on first use, not when the chain is built), so a
    benchmark or a judge drives that loaded model rather than reaching into the chain or loading a copy."""
    fake = FakeScriptedChatModel(responses=[f'Anastrozole inhibits the aromatase enzyme [1].\nQuotes:\n[1] "{QUOTE}"'],
                                 seen=[])
    loads: list[int] = []

    def factory() -> FakeScriptedChatModel:
        loads.append(1)
        return fake

    chain = AnswerChain(ingested_settings, retriever, factory)
    assert loads == []
    assert chain.llm is fake and loads == [1]
    ask(chain, "Which enzyme does anastrozole block?")
    assert len(fake.seen) == 1  # the answer came from that same object
    with pytest.raises(AttributeError):
        chain.llm = fake  # type: ignore[misc]  # read-only: the chain's model is chosen by its settings


def test_build_chain_hands_out_the_process_wide_model(retriever, ingested_settings) -> None:
    from assistant.chain import build_chain
    from assistant.llm import chat_model

    remote = ingested_settings.updated(llm={"base_url": "http://127.0.0.1:9/v1"})  # built, never called
    chain = build_chain(remote, retriever)
    assert chain.llm is chat_model(remote) and chain.llm is chain.llm


def test_the_local_judge_reads_logits_through_the_model_wrapper() -> None:
    """The judge asks :class:`LocalChatModel` for next-token logits (under the engine's lock, a copy) instead
    of reading llama.cpp's private context itself."""
    import numpy as np

    from assistant.llm import LocalChatModel
    from eval.judge import LocalJudge

    words = {"yes": 1, "Yes": 2, "YES": 3, " yes": 4, " Yes": 5, "no": 6, "No": 7, "NO": 8, " no": 9, " No": 10}

    class Lock:
        held = False

        def __enter__(self) -> None:
            self.held = True

        def __exit__(self, *exc) -> None:
            self.held = False

    class Engine:
        def __init__(self) -> None:
            self.lock = Lock()
            self.fed: list[list[int]] = []
            self.row = np.zeros(12, dtype=np.float32)
            self.row[[1, 2]] = 5.0  # "yes" far likelier than "no"

        def tokenize(self, text: str) -> list[int]:
            return [words[text]] if text in words else [11] * len(text)

        def feed(self, tokens) -> int:
            assert self.lock.held
            self.fed.append(list(tokens))
            return 0

        def logits(self, i: int = -1) -> np.ndarray:
            return self.row

    engine = Engine()
    model = LocalChatModel(engine=engine)
    logits = model.next_token_logits([11, 11])
    logits[:] = 0  # a copy: the engine's buffer is untouched
    assert engine.row[1] == 5.0 and engine.fed == [[11, 11]] and not engine.lock.held
    judge = LocalJudge(model)
    p = judge.p_yes("Answer yes or no.", "Is it?")
    assert 0.9 < p < 1.0 and engine.fed[-1] == model.tokenize(
        "<|im_start|>system\nAnswer yes or no.<|im_end|>\n<|im_start|>user\nIs it?<|im_end|>\n<|im_start|>assistant\n")
