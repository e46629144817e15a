"""The answering pipeline as an LCEL runnable: resolve, retrieve, answer, verify.

``build_chain(settings)`` returns a runnable that takes ``{"question", "history"}``
and streams ``str`` tokens followed by one final :class:`Answer`. Each stage is
a small function with typed input and output so it can be tested alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from assistant.advice import AdviceGate
from assistant.condense import gist, is_follow_up, standalone_query
from assistant.evidence import Unit, related, table_cells
from assistant.guards import invented_amounts, unknown_subjects
from assistant.llm import endpoint_errors
from assistant.passages import Shown, whole
from assistant.prompts import Prompt, load_prompt
from assistant.pruning import prune
from assistant.quotes import check_quotes, cited_numbers, normalise, parse_answer
from assistant.references import Reference, load_references
from assistant.retrieval import HybridRetriever, Retrieved
from assistant.schema import Answer, Citation, Context, QuestionError, Timings, Turn
from assistant.settings import Settings
from assistant.verify import assemble, verify

log = logging.getLogger(__name__)

ADVICE_POINTER = "For doses or decisions about your own treatment, please ask your clinician."


@dataclass
class Prepared:
    """Everything the answer step needs; built before the model is called."""

    question: str
    query: str
    history: list[Turn]
    retrieved: list[Retrieved]
    started: float
    retrieval_s: float
    messages: list = field(default_factory=list)
    shown: list[Shown] = field(default_factory=list)  # what the model reads of each retrieved passage
    corpus_tokens: list[int] = field(default_factory=list)  # corpus mode: the whole prompt, corpus prefix cached
    numbers: list[int] = field(default_factory=list)  # corpus mode: each retrieved passage's number in the corpus
    refusal: str = ""  # why the model is not asked at all ("out of scope", "dose or personal advice")
    advice: bool = False  # the question asks for personal advice or a dose (answered with a clinician pointer)

    def passages(self) -> list[Shown]:
        return self.shown or whole([r.chunk for r in self.retrieved])


def check_question(question: str, settings: Settings) -> str:
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("Please type a question.")
    if len(q) > settings.max_question_chars:
        raise QuestionError(
            f"That question is {len(q):,} characters long; the limit is {settings.max_question_chars:,}. "
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


def cell_label(chunk, quote: str) -> str:
    """For a quote from a table row: "<row label>, <column header>" (what the cell is about); else ""."""
    if chunk.kind != "table_row":
        return ""
    for label, cell in table_cells(chunk):
        if quote.strip().rstrip(".") in cell:
            return label
    first = chunk.text.strip().strip("|").split("|")[0].strip()
    return first if quote.strip() not in first else ""


def renumber(raw: str, mapping: dict[int, int]) -> str:
    """Citations [g] of corpus numbers as [i] of the retrieved passages' order; unknown numbers become [0]."""
    import re

    def sub(m: re.Match[str]) -> str:
        parts = [str(mapping.get(int(x.strip()), 0)) for x in m.group(1).split(",")]
        return "[" + ", ".join(parts) + "]"

    return re.sub(r"\[(\d+(?:\s*,\s*\d+)*)\]", sub, raw)


def _is_refusal(text: str, prompt: Prompt) -> bool:
    norm = normalise(text)[0]
    ref = normalise(prompt.refusal)[0].rstrip(".")
    return ref in norm or norm.startswith("i'm sorry") or norm.startswith("i am sorry")


def _reference_labels(keys: Sequence[str], refs: dict[str, Reference]) -> list[str]:
    return [f"{refs[k].short()}: “{refs[k].title.rstrip('.')}”" for k in keys if k in refs]


def finish(
    p: Prepared,
    raw: str,
    prompt: Prompt,
    refs: dict[str, Reference],
    first_token: float | None,
    known: Callable[[str], bool] = lambda _: True,
    rare: Callable[[str], bool] = lambda _: True,
    attributor=None,
    evidence: Callable[[list[str]], list[Unit]] | None = None,
) -> Answer:
    """Parse the model output, verify quotes, apply the guards, check the claims, and build the typed answer.

    ``evidence`` gives, for the quotes the model chose, the passages' units nearest the question that they
    leave out (:func:`assistant.evidence.related`); they are shown after the model's quotes.
    """
    contexts = [
        Context(
            n=n, chunk_id=r.chunk.id, source=r.chunk.source, section=r.chunk.section, text=r.chunk.text,
            start=r.chunk.start, end=r.chunk.end, score=r.score, dense=r.dense, bm25=r.bm25,
            ref_keys=list(r.chunk.ref_keys), shown=x.text(),
        )
        for n, (r, x) in enumerate(zip(p.retrieved, p.passages(), strict=True), 1)
    ]
    chunks = [r.chunk for r in p.retrieved]
    parsed = parse_answer(raw)
    text = parsed.answer
    reason = p.refusal or ("no passages" if not p.retrieved else "")
    if not reason and (_is_refusal(text, prompt) or not text.strip()):
        reason = "the model refused" if text.strip() else "the model gave no answer"
    if not reason:
        invented = invented_amounts(raw, (c.shown for c in contexts))
        unknown = unknown_subjects(p.question, text, known, rare)
        if invented:
            reason = f"guard: answer stated amounts not in the sources: {invented}"
        elif unknown:
            reason = f"guard: answer is about {unknown}, which the corpus never mentions"
        if reason:
            log.warning("replaced an answer by the refusal: %s", reason)
    verified = None
    checked: list = []
    if not reason:
        checked = check_quotes(parsed.quotes, chunks)
        good = [(q.n, q.text) for q in checked if q.verified]
        verified = verify(text, [c.shown for c in contexts], attributor,
                          attributor.first_named(p.question) if attributor else None,
                          question=p.question, resolved=p.query)
        if verified.removed:
            log.warning("removed %d claim(s) the sources contradict: %s", len(verified.removed),
                        "; ".join(c.reason for c in verified.removed))
        if not verified.prose and not good:
            reason = "check: the sources contradict every claim and no quote verified"
    abstained = bool(reason)
    citations: list[Citation] = []
    unverified = 0
    prose = ""
    if abstained:
        text = prompt.refusal
        if p.advice:
            text = f"{prompt.refusal} {ADVICE_POINTER}"
    else:
        assert verified is not None
        prose = verified.prose
        unverified = sum(not q.verified for q in checked)
        extra = evidence([q.text for q in checked if q.verified]) if evidence is not None else []
        found = [q for q in check_quotes([(u.n, u.text) for u in extra], chunks) if q.verified]
        quoted: set[int] = set()
        for q, by in [(q, "model") for q in checked] + [(q, "retrieval") for q in found]:
            if not (1 <= q.n <= len(chunks)):
                continue
            c = chunks[q.n - 1]
            quoted.add(q.n)
            citations.append(
                Citation(
                    n=q.n, chunk_id=c.id, source=c.source, section=c.section, quote=q.text, verified=q.verified,
                    start=q.start, end=q.end, references=_reference_labels(c.ref_keys, refs),
                    chosen_by=by, label=cell_label(c, q.text),
                )
            )
        # the model's verified quotes, then retrieval's units: the order the citations were built in
        text = assemble(prose, [(c.n, c.quote, c.label) for c in citations if c.verified])
        for n in cited_numbers(prose):
            if 1 <= n <= len(chunks) and n not in quoted:
                c = chunks[n - 1]
                citations.append(
                    Citation(n=n, chunk_id=c.id, source=c.source, section=c.section, quote=None, verified=False,
                             references=_reference_labels(c.ref_keys, refs))
                )
        citations.sort(key=lambda c: c.n)
    total = time.perf_counter() - p.started
    return Answer(
        question=p.question, query=p.query, answer=text, abstained=abstained,
        citations=citations, contexts=contexts,
        timings=Timings(retrieval_s=p.retrieval_s, first_token_s=first_token, total_s=total),
        prompt=prompt.name, unverified_quotes=unverified, raw=raw, refused_by=reason,
        prose="" if abstained else prose, checks=verified.checks if verified else [],
        drafted=parsed.answer if verified and verified.removed else "",
        fell_back=bool(verified and verified.fell_back and not abstained),
    )


class AnswerChain:
    """Holds the pieces the runnable needs; ``runnable`` is the LCEL pipeline."""

    def __init__(self, settings: Settings, retriever: HybridRetriever,
                 llm_factory: Callable[[], BaseChatModel]) -> None:
        self.settings = settings
        self.retriever = retriever
        self.prompt = load_prompt(settings.prompt)
        self.refs = {r.key: r for r in load_references(settings.corpus_dir)}
        self._llm_factory = llm_factory
        self.advice = AdviceGate(retriever.embeddings.embed_query)
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
        from assistant.attribution import warm_up

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
        history = history[-self.settings.history_turns :] if self.settings.history_turns else []
        is_term = self.retriever.attributor().is_term
        query = standalone_query(question, [t.question for t in history], is_term)
        terms = self.retriever.attributor().named_in(question)
        retrieved = self.retriever.retrieve_covering(query, terms)
        best = max((r.dense for r in retrieved if r.dense is not None), default=0.0)
        refusal = ""
        if best < self.settings.min_relevance:
            refusal = f"out of scope: best similarity {best:.3f} below min_relevance {self.settings.min_relevance:g}"
            retrieved = []
        advice = self.advice.probability(question)
        if not refusal and advice >= self.advice.model.threshold:
            # the sources give no doses and no personal decisions; the model, asked anyway, says "Yes, you should"
            refusal = f"dose or personal-advice question (p={advice:.2f}): refused without asking the model"
            retrieved = []
        if refusal:
            log.info(refusal)
        p = Prepared(question, query, history, retrieved, started, 0.0, refusal=refusal,
                     advice=advice >= self.advice.model.threshold)
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
        if s.context_mode != "corpus" or s.llm_base_url:
            return None
        snapshot = self.retriever.snapshot()
        if self._corpus_ctx is None or self._corpus_ctx[0] is not snapshot[0]:
            from assistant.corpus_cache import CorpusContext

            model = self.llm
            cache_dir = s.model_cache_dir if s.chroma_host else Path(s.store_dir).parent
            ctx = CorpusContext(model.engine, self.prompt.system_text(), self.prompt.passage, snapshot[1], cache_dir,
                                model_id=str(s.llm_model_path or "default"))
            if not ctx.fits():
                log.warning("corpus mode: %d corpus tokens do not fit n_ctx %d; passages go into each prompt",
                            len(ctx.prefix), s.context_tokens)
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
        budget = self.settings.context_budget_chars
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
                yield finish(p, self.prompt.refusal, self.prompt, self.refs, None)
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
            yield finish(p, raw, self.prompt, self.refs, first, self.retriever.knows,
                         self.retriever.is_rare_word, self.retriever.attributor(), self._evidence(p))

    def _evidence(self, p: Prepared) -> Callable[[list[str]], list[Unit]]:
        def units(quotes: list[str]) -> list[Unit]:
            emb = self.retriever.embeddings
            return related([r.chunk for r in p.retrieved], quotes, emb.embed_query(p.query), emb.embed_documents,
                           self.settings.related_quotes)

        return units


def build_chain(settings: Settings, retriever: HybridRetriever | None = None) -> AnswerChain:
    from assistant.embeddings import LocalEmbeddings
    from assistant.llm import chat_model
    from assistant.store import Store

    if retriever is None:
        store = Store(settings)
        if store.count() == 0:
            from assistant.store import StoreError

            raise StoreError("the store is empty: run `python ingest.py` first")
        retriever = HybridRetriever(
            store=store, embeddings=LocalEmbeddings.from_settings(settings),
            settings=settings,
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
