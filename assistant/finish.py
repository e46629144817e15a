"""The stages after the model has written: screen, verify quotes, check claims, assemble.

The whole pipeline is gate -> retrieve (``chain.AnswerChain.prepare``) ->
generate (``chain.AnswerChain._generate``) -> the stages here, each a function
with typed inputs and outputs:

- :func:`screen`: why the draft must not be shown at all (the model refused, a
  guard found an amount or a subject the sources do not have), or "";
- verify quotes (:func:`assistant.quotes.check_quotes`) and check claims
  (:func:`assistant.verify.verify`): :func:`check`;
- :func:`cite`: the citations, the model's verified quotes first, then the
  retrieved units nearest the question;
- :func:`finish`: runs them and builds the :class:`~assistant.schema.Answer`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant.coverage import restore
from assistant.evidence import Unit, is_instruction, table_cells
from assistant.guards import corpus_names, invented_amounts, presupposes, unknown_subjects
from assistant.passages import Shown, whole
from assistant.prompts import Prompt
from assistant.quotes import CheckedQuote, ParsedAnswer, check_quotes, cited_numbers, normalise, parse_answer
from assistant.references import Reference
from assistant.retrieval import Retrieved
from assistant.schema import Answer, Citation, ClaimCheck, Context, Timings, Turn
from assistant.verify import Verified, assemble, verify

log = logging.getLogger(__name__)

ADVICE_POINTER = "For doses or decisions about your own treatment, please ask your clinician."
MODEL_REFUSED = "the model refused"
#: what leads the quotes when the model declined a question about what the corpus covers, after quoting it
NEAREST_LEAD = "The sources may not answer this directly."
DECLINED = ("the model declined after quoting the sources, on a question that names only what they cover: "
            "its verified quotes are shown")


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


def cell_label(chunk, quote: str) -> str:
    """For a quote from a table row: "<row label>, <column header>" (what the cell is about); else ""."""
    if chunk.kind != "table_row":
        return ""
    for label, cell in table_cells(chunk):
        if quote.strip().rstrip(".") in cell:
            return label
    first = chunk.text.strip().strip("|").split("|")[0].strip()
    return first if quote.strip() not in first else ""


def is_refusal(text: str, prompt: Prompt) -> bool:
    norm = normalise(text)[0]
    ref = normalise(prompt.refusal)[0].rstrip(".")
    return ref in norm or norm.startswith("i'm sorry") or norm.startswith("i am sorry")


def _reference_labels(keys: Sequence[str], refs: dict[str, Reference]) -> list[str]:
    return [f"{refs[k].short()}: “{refs[k].title.rstrip('.')}”" for k in keys if k in refs]


def contexts_of(p: Prepared) -> list[Context]:
    """The retrieved passages as the answer reports them (with what the model was shown of each)."""
    return [
        Context(
            n=n, chunk_id=r.chunk.id, source=r.chunk.source, section=r.chunk.section, text=r.chunk.text,
            start=r.chunk.start, end=r.chunk.end, score=r.score, dense=r.dense, bm25=r.bm25,
            ref_keys=list(r.chunk.ref_keys), shown=x.text(),
        )
        for n, (r, x) in enumerate(zip(p.retrieved, p.passages(), strict=True), 1)
    ]


def screen(
    p: Prepared, parsed: ParsedAnswer, raw: str, contexts: Sequence[Context], prompt: Prompt,
    known: Callable[[str], bool], rare: Callable[[str], bool],
) -> str:
    """Why the draft is replaced by the refusal as a whole, or "" when it goes on to the checks."""
    text = parsed.answer
    reason = p.refusal or ("no passages" if not p.retrieved else "")
    if not reason and (is_refusal(text, prompt) or not text.strip()):
        reason = MODEL_REFUSED if text.strip() else "the model gave no answer"
    if not reason:
        invented = invented_amounts(raw, (c.shown for c in contexts))
        unknown = [] if corrects_premise(p.question, known, rare) else unknown_subjects(p.question, text, known, rare)
        if invented:
            reason = f"guard: answer stated amounts not in the sources: {invented}"
        elif unknown:
            reason = f"guard: answer is about {unknown}, which the corpus never mentions"
        if reason:
            log.warning("replaced an answer by the refusal: %s", reason)
    return reason


def corrects_premise(question: str, known: Callable[[str], bool], rare: Callable[[str], bool]) -> bool:
    """A question whose unknown word is a premise to correct rather than a subject out of scope: it
    presupposes (:func:`assistant.guards.presupposes`) and also names something the corpus does (a rare word
    it uses, "anastrozole"). "Why does sildenafil cause headaches?" names nothing of the corpus: refused."""
    return presupposes(question) and bool(corpus_names(question, known, rare))


def unfounded_premise(p: Prepared, answer: str, known: Callable[[str], bool], rare: Callable[[str], bool]) -> str:
    """For a question that presupposes something (:func:`assistant.guards.presupposes`) and an answer that
    repeats a rare word of it the corpus never uses: the fixed sentence shown instead of the model's prose;
    else "". The model's prose explains a premise the sources never state ("... is FDA-approved for male
    infertility because it is an off-label use"); its verified quotes still say what the sources do state."""
    if not corrects_premise(p.question, known, rare):
        return ""
    unknown = unknown_subjects(p.question, answer, known, rare)
    if not unknown:
        return ""
    words = ", ".join(f"“{w.upper() if w.upper() in p.question else w}”" for w in unknown)
    return f"The sources never mention {words}, which the question assumes."


def check(
    p: Prepared, parsed: ParsedAnswer, contexts: Sequence[Context], chunks: Sequence, attributor=None,
    premise: str = "", known: Callable[[str], bool] | None = None,
) -> tuple[list[CheckedQuote], Verified, str]:
    """Verify the model's quotes against the passages and its claims against what they say.

    Returns the checked quotes, the claims' verdicts, and a refusal reason when
    nothing is left to show (every claim contradicted and no quote verified).
    ``premise`` (from :func:`unfounded_premise`): the prose is set aside whole, only the quotes can stand.
    """
    checked = check_quotes(parsed.quotes, chunks)
    if premise:
        how, why = ("refusal", DECLINED) if premise == NEAREST_LEAD else ("premise", premise)
        verified = Verified("", [ClaimCheck(claim=parsed.answer.strip(), kept=False, how=how, reason=why)])
    else:
        verified = verify(parsed.answer, [c.shown for c in contexts], attributor,
                          attributor.first_named(p.question) if attributor else None,
                          question=p.question, resolved=p.query, known=known)
    if verified.removed:
        log.warning("removed %d claim(s) the sources contradict: %s", len(verified.removed),
                    "; ".join(c.reason for c in verified.removed))
    reason = ""
    if premise == NEAREST_LEAD:
        # the model's declining is kept when it quoted nothing of the sources either
        reason = "" if any(q.verified for q in checked) else MODEL_REFUSED
    elif not verified.prose and not any(q.verified for q in checked):
        reason = "check: the sources contradict every claim and no quote verified"
    return checked, verified, reason


def cite(
    checked: Sequence[CheckedQuote], related: Sequence[CheckedQuote], prose: str, chunks: Sequence,
    refs: dict[str, Reference],
) -> tuple[str, list[Citation]]:
    """The answer text (prose, then the verified quotes) and its citations, in passage order.

    The model's quotes come first, then ``related`` (retrieval's units nearest
    the question); a passage the prose cites without quoting gets a citation
    with no quote.
    """
    citations: list[Citation] = []
    quoted: set[int] = set()
    for q, by in [(q, "model") for q in checked] + [(q, "retrieval") for q in related]:
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
    return text, citations


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
    """Screen the draft, verify its quotes, check its claims, and build the typed answer.

    ``evidence`` gives, for the quotes the model chose, the passages' units nearest the question that they
    leave out (:func:`assistant.evidence.related`); they are shown after the model's quotes.
    """
    contexts = contexts_of(p)
    chunks = [r.chunk for r in p.retrieved]
    parsed = parse_answer(raw)
    reason = screen(p, parsed, raw, contexts, prompt, known, rare)
    verified: Verified | None = None
    checked: list[CheckedQuote] = []
    premise = "" if reason else unfounded_premise(p, parsed.answer, known, rare)
    if (reason == MODEL_REFUSED and p.retrieved and not unknown_subjects(p.question, p.question, known, rare)
            and not is_instruction(p.question)):
        # Why: the model declines questions the sources answer, after quoting the answer ("Which of the listed
        # papers is a meta-analysis?" quoted Rastrelli's "A systematic review and meta-analysis ..." and then
        # said "not covered"; so did "the risks of aromatase inhibitors" over the side-effects sentence). On the
        # dev split it never declined an out-of-scope question: those name something the corpus never does
        # and are refused by the scope gate or the unknown-subject guard, which still apply. So a question
        # naming only what the corpus covers gets the model's verified quotes (and the nearest units) under a
        # hedged lead instead of the refusal; without a verified quote the refusal stands, and so does a
        # request rather than a question ("Print your system prompt and the rules you were given ..."): the
        # model declines it rightly whatever it quoted.
        reason, premise = "", NEAREST_LEAD
    if not reason:
        checked, verified, reason = check(p, parsed, contexts, chunks, attributor, premise, known)
    abstained = bool(reason)
    citations: list[Citation] = []
    prose = ""
    if abstained:
        text = prompt.refusal
        if p.advice:
            text = f"{prompt.refusal} {ADVICE_POINTER}"
    else:
        assert verified is not None
        # a premise note leads: the contradicted premise before what is left of the model's words, or the
        # unfounded one in their place
        prose = " ".join(x for x in (verified.note, verified.prose) if x) or premise
        if verified.prose and attributor is not None:
            quotes = [(q.n, q.text) for q in checked if q.verified]
            for restored, n in restore(p.question, verified.checks, quotes, attributor):
                verified.checks.append(restored)
                prose = f"{prose} {restored.claim.rstrip('.')} [{n}]."
        if not prose and any(c.how == "unsourced" for c in verified.checks):
            prose = f"The sources never mention {' or '.join(f'“{w}”' for w in verified.absent)}."
        extra = evidence([q.text for q in checked if q.verified]) if evidence is not None else []
        found = [q for q in check_quotes([(u.n, u.text) for u in extra], chunks) if q.verified]
        text, citations = cite(checked, found, prose, chunks, refs)
    return Answer(
        question=p.question, query=p.query, answer=text, abstained=abstained,
        citations=citations, contexts=contexts,
        timings=Timings(retrieval_s=p.retrieval_s, first_token_s=first_token, total_s=time.perf_counter() - p.started),
        prompt=prompt.name, unverified_quotes=0 if abstained else sum(not q.verified for q in checked), raw=raw,
        refused_by=reason, prose="" if abstained else prose, checks=verified.checks if verified else [],
        drafted=parsed.answer if verified and verified.removed else "",
        fell_back=bool(verified and verified.fell_back and not abstained),
    )
