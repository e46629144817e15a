"""The answering pipeline as an LCEL runnable: gate, retrieve, generate, then finish.

``build_chain(settings)`` returns a runnable that takes ``{"question", "history"}``
and streams ``str`` tokens followed by one final :class:`Answer`. Here: the gate
(:func:`check_question`, relevance and the advice gate in ``prepare``), the
follow-up resolution and retrieval (``prepare``), the prompt
(:func:`build_messages`) and generation (``_generate``); the stages after the
model has written (screen, verify quotes, check claims, cite) are in
:mod:`assistant.finish`. Each is a function with typed input and output so it
can be tested alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from assistant.advice import AdviceGate
from assistant.condense import gist, is_follow_up, standalone_query
from assistant.evidence import Unit, related
from assistant.finish import Prepared, finish
from assistant.literature import LiteratureGate
from assistant.llm import endpoint_errors
from assistant.passages import Shown, whole
from assistant.prompts import Prompt, load_prompt
from assistant.pruning import prune
from assistant.references import Reference, load_references
from assistant.retrieval import HybridRetriever
from assistant.schema import Answer, QuestionError, Turn
from assistant.settings import Settings

log = logging.getLogger(__name__)


def check_question(question: str, settings: Settings) -> str:
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("Please type a question.")
    if len(q) > settings.answer.max_question_chars:
        raise QuestionError(
            f"That question is {len(q):,} characters long; the limit is {settings.answer.max_question_chars:,}. "
            "Please shorten it."
        )
    if any("\ud800" <= ch <= "\udfff" for ch in q):
        # undecodable bytes (a non-UTF-8 terminal, a crafted API call): the tokenizer would raise deep inside
        raise QuestionError("The question contains bytes that are not valid text (UTF-8). Please retype it.")
    return q


def format_passages(shown: Sequence[Shown], prompt: Prompt, refs: dict[str, Reference]) -> str:
    lines = []
    for n, x in enumerate(shown, 1):
        cites = "; ".join(refs[k].short() for k in x.chunk.ref_keys if k in refs)
        lines.append(prompt.passage.format(n=n, section=x.chunk.section, text=x.text(), cites=cites))
    return "\n".join(lines)


def build_messages(
    p: Prepared, prompt: Prompt, refs: dict[str, Reference], is_term: Callable[[str], bool] | None = None
) -> list:
    history = ""
    if p.history and is_follow_up(p.question, is_term):
        history = "".join(prompt.history_turn.format(question=t.question, answer=gist(t.answer))
                          for t in p.history[-1:])
    user = prompt.user.format(
        history=history,
        passages=format_passages(p.passages(), prompt, refs),
        question=p.question,
        refusal=prompt.refusal,
    )
    return [SystemMessage(prompt.system_text()), HumanMessage(user.strip())]


def renumber(raw: str, mapping: dict[int, int]) -> str:
    """Citations [g] of corpus numbers as [i] of the retrieved passages' order; unknown numbers become [0]."""
    import re

    def sub(m: re.Match[str]) -> str:
        parts = [str(mapping.get(int(x.strip()), 0)) for x in m.group(1).split(",")]
        return "[" + ", ".join(parts) + "]"

    return re.sub(r"\[(\d+(?:\s*,\s*\d+)*)\]", sub, raw)


class AnswerChain:
    """Holds the pieces the runnable needs; ``runnable`` is the LCEL pipeline."""

    def __init__(self, settings: Settings, retriever: HybridRetriever,
                 llm_factory: Callable[[], BaseChatModel]) -> None:
        self.settings = settings
        self.retriever = retriever
        self.prompt = load_prompt(settings.answer.prompt)
        self.refs = {r.key: r for r in load_references(settings.store.corpus_dir)}
        self._llm_factory = llm_factory
        self.advice = AdviceGate(retriever.embeddings.embed_query)
        self.literature = LiteratureGate(retriever.embeddings.embed_query)
        self._corpus_ctx: tuple | None = None
        self.runnable: Runnable = RunnableLambda(self.prepare) | RunnableGenerator(self._generate)

    @property
    def llm(self) -> BaseChatModel:
        """The chat model this chain answers with: the same object it streams from (loaded on first use).

        Public so the benchmarks, the evaluation's judge and the tests drive the one loaded model (its engine,
        its KV cache) instead of loading a second copy or reaching into the chain. For the in-process model it
        is an :class:`assistant.llm.LocalChatModel`; for an endpoint, a LangChain ``ChatOpenAI``.
        """
        return self._llm_factory()

    def warm_up(self) -> None:
        """Load the embedder, the BM25 index and the model now, not on the first question."""
        from assistant.syntax import warm_up

        self.retriever.refresh()
        self.retriever.embeddings.embed_query("warm up")
        self.retriever.attributor()
        warm_up()
        self._corpus()  # corpus mode: read (once, with a progress bar) or load the corpus's KV state now
        self._llm_factory()

    def prepare(self, inputs: dict) -> Prepared:
        started = time.perf_counter()
        question = check_question(inputs.get("question", ""), self.settings)
        history = [t if isinstance(t, Turn) else Turn(**t) for t in inputs.get("history") or []]
        history = history[-self.settings.answer.history_turns :] if self.settings.answer.history_turns else []
        is_term = self.retriever.attributor().is_term
        query = standalone_query(question, [t.question for t in history], is_term)
        terms = self.retriever.attributor().named_in(question)
        vector = self.retriever.embeddings.embed_query(question)  # both gates read the question's own vector
        retrieved = self.retriever.retrieve_covering(query, terms, literature=self.literature.asks_of(vector))
        best = max((r.dense for r in retrieved if r.dense is not None), default=0.0)
        refusal = ""
        if best < self.settings.retrieval.min_relevance and not self.retriever.corpus_names(question):
            # a name only the sources use (an author, a study) embeds far from any passage yet is in scope
            refusal = (f"out of scope: best similarity {best:.3f} below retrieval.min_relevance "
                       f"{self.settings.retrieval.min_relevance:g}")
            retrieved = []
        advice = self.advice.asks_of(vector)
        if not refusal and advice:
            # the sources give no doses and no personal decisions; the model, asked anyway, says "Yes, you should"
            refusal = (f"dose or personal-advice question (p={self.advice.probability_of(vector):.2f}): refused "
                       "without asking the model")
            retrieved = []
        if refusal:
            log.info(refusal)
        p = Prepared(question, query, history, retrieved, started, 0.0, refusal=refusal, advice=advice)
        if retrieved:
            p.shown = self._shown(query, [r.chunk for r in retrieved])
            p.messages = build_messages(p, self.prompt, self.refs, is_term)
            corpus = self._corpus()
            if corpus is not None and all(r.chunk.id in corpus.number for r in retrieved):
                p.numbers = [corpus.number[r.chunk.id] for r in retrieved]
                history = ""
                if p.history and is_follow_up(question, is_term):
                    history = "".join(self.prompt.history_turn.format(question=t.question, answer=gist(t.answer))
                                      for t in p.history[-1:])
                pointer = self.prompt.corpus_pointer.format(numbers=", ".join(f"[{n}]" for n in p.numbers))
                p.corpus_tokens = corpus.prompt(f"{history}Question: {question}\n{pointer}")
        p.retrieval_s = time.perf_counter() - started
        return p

    def _corpus(self):
        """The corpus in the KV cache (corpus mode, in-process model, corpus fits), read or loaded on first use."""
        s = self.settings
        if s.llm.context_mode != "corpus" or s.llm.base_url:
            return None
        snapshot = self.retriever.snapshot()
        if self._corpus_ctx is None or self._corpus_ctx[0] is not snapshot[0]:
            from assistant.corpus_cache import CorpusContext

            model = self.llm
            cache_dir = s.model_cache_dir if s.store.chroma_host else Path(s.store.dir).parent
            ctx = CorpusContext(model.engine, self.prompt.system_text(), self.prompt.passage, snapshot[1], cache_dir,
                                model_id=str(s.llm.model_path or "default"))
            if not ctx.fits():
                log.warning("corpus mode: %d corpus tokens do not fit n_ctx %d; passages go into each prompt",
                            len(ctx.prefix), s.llm.context_tokens)
                ctx = None
            self._corpus_ctx = (snapshot[0], ctx)
        ctx = self._corpus_ctx[1]
        if ctx is not None:
            with ctx.engine.lock:
                how = ctx.ensure()
            if how != "memory":
                log.info("corpus cache %s: %s", how, ctx.path)
        return ctx

    def _shown(self, query: str, chunks: list) -> list[Shown]:
        budget = self.settings.answer.context_budget_chars
        if not budget:
            return whole(chunks)
        emb = self.retriever.embeddings
        return prune(chunks, emb.embed_query(query), emb.embed_documents, budget)

    def _llm_kwargs(self, p: Prepared) -> dict:
        from assistant.llm import grammar_kwargs, sends_grammar

        if self.prompt.grammar and sends_grammar(self.settings):
            from assistant.grammar import quote_forcing, quote_grammar

            passages, numbers = p.passages(), p.numbers or None
            kwargs = grammar_kwargs(self.settings, quote_grammar(passages, self.prompt.refusal, numbers),
                                    quote_forcing(passages, self.prompt.refusal, numbers))
            if p.corpus_tokens:
                kwargs["prompt_tokens"] = p.corpus_tokens
            return kwargs
        return {}

    def _generate(self, inputs: Iterator[Prepared]) -> Iterator[str | Answer]:
        for p in inputs:
            if not p.retrieved:
                yield self.finish(p, self.prompt.refusal)
                continue
            llm = self.llm
            parts: list[str] = []
            first: float | None = None
            with endpoint_errors(self.settings):
                for chunk in llm.stream(p.messages, **self._llm_kwargs(p)):
                    token = chunk.content if isinstance(chunk.content, str) else ""
                    if not token:
                        continue
                    if first is None:
                        first = time.perf_counter() - p.started
                    parts.append(token)
                    yield token
            raw = "".join(parts)
            if p.numbers:  # corpus mode: the model cites passages by their number in the corpus
                raw = renumber(raw, {g: i for i, g in enumerate(p.numbers, 1)})
            yield self.finish(p, raw, first)

    def finish(self, p: Prepared, raw: str, first_token: float | None = None) -> Answer:
        """The stages after generation (:func:`assistant.finish.finish`) on a draft ``raw`` for ``p``.

        Public so ``python -m eval replay`` can run today's checks on drafts a model wrote earlier.
        """
        if not p.retrieved:
            return finish(p, self.prompt.refusal, self.prompt, self.refs, None)
        return finish(p, raw, self.prompt, self.refs, first_token, self.retriever.knows,
                      self.retriever.is_rare_word, self.retriever.attributor(), self._evidence(p))

    def _evidence(self, p: Prepared) -> Callable[[list[str]], list[Unit]]:
        def units(quotes: list[str]) -> list[Unit]:
            emb = self.retriever.embeddings
            return related([r.chunk for r in p.retrieved], quotes, emb.embed_query(p.query), emb.embed_documents,
                           self.settings.answer.related_quotes)

        return units


def build_chain(settings: Settings, retriever: HybridRetriever | None = None) -> AnswerChain:
    from assistant.embeddings import LocalEmbeddings
    from assistant.llm import chat_model
    from assistant.store import Store

    if retriever is None:
        store = Store.from_settings(settings)
        if store.count() == 0:
            from assistant.store import StoreError

            raise StoreError("the store is empty: run `python ingest.py` first")
        retriever = HybridRetriever(
            store=store, embeddings=LocalEmbeddings.from_settings(settings), settings=settings.retrieval,
        )
    return AnswerChain(settings, retriever, lambda: chat_model(settings))


def ask(chain: AnswerChain, question: str, history: Sequence[Turn] = ()) -> Answer:
    """Run the chain to completion and return the final answer."""
    final: Answer | None = None
    for event in chain.runnable.stream({"question": question, "history": list(history)}):
        if isinstance(event, Answer):
            final = event
    assert final is not None
    return final
