"""``python -m eval run``: answer every case with the real chain, score, report.

The run folder holds everything needed to trust or compare the run later:
per-case results with every score and the judge's reasons, the judge-check
scores (how far the judge itself can be trusted), a summary, a report, and
the fingerprints of what produced them (commit, prompt hash, model hash,
judge, settings).
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.settings import PROJECT_ROOT, Settings
from eval.cache import Cache, key
from eval.metrics import (
    FAITHFULNESS_METRICS,
    JUDGE_TARGETS,
    OURS,
    STANDARD,
    deterministic_scores,
    needs,
    sample_for,
    score,
    shown_contexts,
)

log = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVAL_DIR / "datasets" / "dev.jsonl"
JUDGE_CHECK = EVAL_DIR / "datasets" / "judge_check.jsonl"
DEFAULT_OUT = EVAL_DIR / "runs"
DEFAULT_CACHE = EVAL_DIR / "cache"
ALL_METRICS = (*OURS, *STANDARD)
#: what a plain ``python -m eval run`` scores (deterministic metrics, answer_correct included, always run):
#: minutes, not hours; ragas' LLM metrics cost 30-110 s per sample with the local judge and are opt-in
DEFAULT_METRICS = ("claim_faithfulness", "non_llm_context_recall")
#: rough seconds per sample of each judged metric with the local 1.5B judge on 2 cores (shown before a run)
SECONDS_PER_SAMPLE = {"claim_faithfulness": 4, "non_llm_context_recall": 0.1, "faithfulness": 110,
                      "answer_relevancy": 35, "llm_context_precision_with_reference": 60, "context_recall": 60}
#: bump when a metric's scoring changes, so cached verdicts of the old version are not reused
METRIC_VERSION = {"claim_faithfulness": 1}
#: every file of the answering package is part of the answer cache key (a new module cannot be forgotten)
ANSWER_PACKAGE = PROJECT_ROOT / "assistant"


class EvalError(RuntimeError):
    """The run cannot start or continue; message meant for the user."""


@dataclass
class RunOptions:
    dataset: Path = DEFAULT_DATASET
    prompt: str | None = None
    out: Path = DEFAULT_OUT
    judge: str = "local"
    metrics: Sequence[str] = DEFAULT_METRICS
    limit: int | None = None
    judge_check: Path | None = JUDGE_CHECK
    cache_dir: Path = DEFAULT_CACHE
    use_cache: bool = True
    name: str | None = None


@dataclass
class Fingerprints:
    prompt: str
    prompt_sha256: str
    model_sha256: str
    corpus_sha256: str
    code_sha256: str
    settings: dict[str, Any] = field(default_factory=dict)


def _turn_specs(case: dict, where: str) -> list[dict]:
    """Each turn of a case as {question, scored, expected, must, must_not, gold, reference}.

    Turns written as objects carry their own expectations and are all scored;
    a list of plain questions is scored on its last turn only, with the
    case-level fields (the earlier questions set up the conversation).
    """
    from eval.correct import validate

    raw = case.get("turns") or [case.get("question")]
    specs = []
    for k, t in enumerate(raw):
        last = k == len(raw) - 1
        if isinstance(t, dict):
            spec = {"question": t.get("question"), "scored": True, **{f: t.get(f) for f in _TURN_FIELDS}}
        else:
            spec = {"question": t, "scored": last, **{f: case.get(f) if last else None for f in _TURN_FIELDS}}
        if not isinstance(spec["question"], str) or not spec["question"].strip():
            raise EvalError(f"{where}: turn {k + 1} has no question")
        spec["expected"] = spec["expected"] or "answer"
        spec["must"] = spec["must"] or []
        spec["must_not"] = spec["must_not"] or []
        spec["gold"] = spec["gold"] or []
        spec["reference"] = spec["reference"] or ""
        problems = validate(spec["must"], spec["must_not"], f"{where} turn {k + 1}")
        if problems:
            raise EvalError("; ".join(problems))
        specs.append(spec)
    return specs


_TURN_FIELDS = ("expected", "must", "must_not", "gold", "reference")


def load_dataset(path: Path, limit: int | None = None) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read the dataset {path}: {exc}") from None
    cases = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except ValueError as exc:
            raise EvalError(f"{path}:{i}: not JSON ({exc})") from None
        if not isinstance(case, dict) or not case.get("id") or (not case.get("turns") and not case.get("question")):
            raise EvalError(f"{path}:{i}: a case needs an 'id' and 'turns' (or 'question')")
        case["turn_specs"] = _turn_specs(case, f"{path}:{i}")
        case["turns"] = [t["question"] for t in case["turn_specs"]]
        case.setdefault("category", "uncategorised")
        case.setdefault("expected", case["turn_specs"][-1]["expected"])
        cases.append(case)
    if not cases:
        raise EvalError(f"the dataset {path} has no cases")
    return cases[:limit] if limit is not None else cases


def _sha256_files(paths: Sequence[Path], root: Path | None = None) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.relative_to(root) if root else p.name).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def package_sha256(root: Path = ANSWER_PACKAGE) -> str:
    """Every source and prompt file of the package, by relative path: any change to answering code shows."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".py", ".yaml", ".yml", ".json"}
                   and "__pycache__" not in p.parts)
    return _sha256_files(files, root)


def fingerprints(settings: Settings) -> Fingerprints:
    from assistant.model_file import model_fingerprint
    from assistant.prompts import load_prompt

    prompt = load_prompt(settings.answer.prompt)
    corpus = sorted(p for p in Path(settings.store.corpus_dir).rglob("*") if p.is_file() and not p.name.startswith("."))
    answer_settings = settings.answer_settings()  # the sections that can change an answer
    return Fingerprints(
        prompt=prompt.name, prompt_sha256=prompt.sha256, model_sha256=model_fingerprint(settings),
        corpus_sha256=_sha256_files(corpus), code_sha256=package_sha256(), settings=answer_settings,
    )


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}" if head else "unknown"


class Answerer:
    """Runs a case's conversation through the real chain, building the chain only if an answer is not cached.

    The chain answers from a store the evaluation builds itself (``store_dir``, an eval-owned folder kept in
    step with the corpus by incremental ingest), never from the user's store or a Chroma server: a run must
    not depend on, or change, what a user has ingested.
    """

    def __init__(self, settings: Settings, store_dir: Path) -> None:
        self.settings = settings.updated(store={"dir": Path(store_dir), "chroma_host": None})
        self._chain = None

    @property
    def chain(self):
        if self._chain is None:
            from assistant.chain import build_chain
            from assistant.ingestion import ingest

            report = ingest([Path(self.settings.store.corpus_dir)], self.settings, prune=True, progress=False)
            if report.failed:
                raise EvalError(f"ingest failed for {report.failed}")
            self._chain = build_chain(self.settings)
            self._chain.warm_up()
        return self._chain

    def converse(self, turns: Sequence[str]) -> list[dict]:
        """Every turn's answer, each asked with the conversation so far."""
        from assistant.chain import ask
        from assistant.schema import Turn

        history: list[Turn] = []
        out = []
        for q in turns:
            answer = ask(self.chain, q, history)
            history.append(Turn(question=q, answer=answer.answer))
            out.append(answer.model_dump(mode="json"))
        return out


def _judge_parts(metrics: Sequence[str], options: RunOptions, settings: Settings):
    """The metric objects for the run's judge: our claim metric and ragas' standard ones."""
    import numpy as np

    from assistant.embeddings import LocalEmbeddings
    from eval.judge import make_judge, ragas_llm
    from eval.metrics import ClaimFaithfulness, standard_metrics

    made: dict = {}
    emb = LocalEmbeddings.from_settings(settings)
    if "claim_faithfulness" in metrics:
        judge = make_judge(options.judge, settings)
        made["claim_faithfulness"] = ClaimFaithfulness(judge=judge, embed=lambda t: np.array(emb.embed(list(t))))
    std = [m for m in metrics if m in STANDARD]
    if std:
        from ragas.embeddings import LangchainEmbeddingsWrapper

        llm = ragas_llm(options.judge, settings) if any(m != "non_llm_context_recall" for m in std) else None
        made.update(standard_metrics(std, llm, LangchainEmbeddingsWrapper(RagasEmbeddings(emb))))
    return made


class RagasEmbeddings:
    """Our embeddings as ragas' LangChain wrapper expects them.

    ragas 0.4.3 reads ``embeddings.model`` into a usage event that must be a
    string (a model name); ``LocalEmbeddings.model`` is the loaded
    SentenceTransformer, so every ``answer_relevancy`` sample failed with a
    validation error. This adapter exposes the name and delegates the rest.
    """

    def __init__(self, inner) -> None:
        self._inner = inner
        self.model = str(getattr(inner, "model_name", "local"))

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)


def _judge_key_parts(metric: str, judge: str, settings: Settings) -> list:
    import ragas

    from eval import prompts

    if metric == "claim_faithfulness":
        return [metric, METRIC_VERSION[metric], judge, prompts.CLAIM_SYSTEM, prompts.CLAIM_USER]
    return [metric, ragas.__version__, judge]


class Scorer:
    """One judged metric on one sample, read from the cache when the same judge already scored it.

    The metric objects (and so the judge model) are built on the first cache miss only: a fully cached
    re-run loads no model at all.
    """

    def __init__(self, options: RunOptions, settings: Settings, judge: str, cache: Cache) -> None:
        self.options, self.settings, self.judge, self.cache = options, settings, judge, cache
        self._metrics: dict | None = None

    def __call__(self, metric: str, sample) -> tuple[float | None, str]:
        k = key("score", _judge_key_parts(metric, self.judge, self.settings), sample.model_dump())
        hit = self.cache.get("scores", k)
        if hit is None:
            if self._metrics is None:
                self._metrics = _judge_parts(self.options.metrics, self.options, self.settings)
            value, why = score(self._metrics[metric], sample)
            hit = {"score": value, "reasons": why}
            if value is not None:  # a failed judge call is retried next run, not cached
                self.cache.put("scores", k, hit)
        return hit["score"], hit["reasons"]


def judge_name(options: RunOptions, settings: Settings) -> str:
    from assistant.model_file import model_fingerprint

    if options.judge == "local":
        return f"local:{model_fingerprint(settings.updated(llm={'base_url': None}))[:16]}"
    url = settings.judge.base_url or settings.llm.base_url
    return f"openai:{settings.judge.model_name or settings.llm.model_name}@{url}"


def run(options: RunOptions, settings: Settings) -> Path:
    """Answer, score and report; returns the run folder."""
    from eval.report import write_report, write_summary
    from eval.stats import load_run, summarise

    t_start = time.perf_counter()
    if options.prompt:
        settings = settings.updated(answer={"prompt": options.prompt})
    unknown = [m for m in options.metrics if m not in ALL_METRICS]
    if unknown:
        raise EvalError(f"unknown metrics {unknown}; known: {', '.join(ALL_METRICS)}")
    cases = load_dataset(options.dataset, options.limit)
    fp = fingerprints(settings)
    judge = judge_name(options, settings)
    cache = Cache(options.cache_dir, enabled=options.use_cache)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    commit = git_commit()  # at the start: the tree may change while a 25-minute run answers
    run_dir = Path(options.out) / (options.name or f"{stamp}-{fp.prompt}")
    run_dir.mkdir(parents=True, exist_ok=True)

    # 1. answers: every turn of every case, each conversation asked in order
    answerer = Answerer(settings, Path(options.cache_dir) / "store")
    conversations: list[list[dict]] = []
    t0 = time.perf_counter()
    answer_key_base = [fp.prompt_sha256, fp.model_sha256, fp.corpus_sha256, fp.code_sha256, fp.settings]
    for case in tqdm(cases, desc="answers", unit="case", disable=not cases):
        k = key("conversation", answer_key_base, case["turns"])
        a = cache.get("answers", k)
        if a is None:
            a = answerer.converse(case["turns"])
            cache.put("answers", k, a)
        conversations.append(a)
    answers_s = time.perf_counter() - t0

    # 2. scores: one row per scored turn (a multi-turn case gives one row per turn, "id#k")
    t0 = time.perf_counter()
    scored = [(case, k, spec, conv[k], row_id(case, k))
              for case, conv in zip(cases, conversations, strict=True)
              for k, spec in enumerate(case["turn_specs"]) if spec["scored"]]
    scorer = Scorer(options, settings, judge, cache)
    jobs = [(i, m) for i, (_, _, spec, a, _) in enumerate(scored) for m in options.metrics if needs(m, spec, a)]
    _announce(jobs, options)
    results: dict[tuple[int, str], tuple[float | None, str]] = {}
    for i, m in tqdm(jobs, desc="scores", unit="score"):
        results[(i, m)] = scorer(m, sample_for(scored[i][2], scored[i][3], m))
    rows: list[dict] = []
    for i, (case, k, spec, a, rid) in enumerate(scored):
        scores, reasons = deterministic_scores(spec, a)
        for m in options.metrics:
            if (i, m) in results:
                scores[m], reasons[m] = results[(i, m)]
        conv = conversations[cases.index(case)]
        rows.append({
            "id": rid, "case": case["id"], "turn": k + 1, "category": case["category"],
            "split": case.get("split", ""), "expected": spec["expected"], "turns": case["turns"][: k + 1],
            "question": spec["question"], "query": a["query"], "answer": a["answer"], "abstained": a["abstained"],
            "refused_by": a.get("refused_by", ""), "raw": a.get("raw", ""), "checks": a.get("checks", []),
            "earlier_answers": [c["answer"] for c in conv[:k]], "reference": spec["reference"],
            "contexts": shown_contexts(a), "citations": a["citations"], "scores": scores,
            "reasons": reasons, "latency_s": a["timings"]["total_s"],
            "first_token_s": a["timings"]["first_token_s"],
        })

    # 3. the judge's own accuracy on known faithful/unfaithful pairs
    check_rows: list[dict] = []
    faith = [m for m in options.metrics if m in FAITHFULNESS_METRICS]
    if options.judge_check and faith:
        from ragas.dataset_schema import SingleTurnSample

        pairs = load_dataset(options.judge_check)
        for pair in tqdm(pairs, desc="judge check", unit="pair"):
            scores2: dict[str, dict[str, float | None]] = {}
            reasons2: dict[str, dict[str, str]] = {}
            for m in faith:
                scores2[m], reasons2[m] = {}, {}
                for side in ("faithful", "unfaithful"):
                    sample = SingleTurnSample(user_input=pair["question"], response=pair[side],
                                              retrieved_contexts=pair["contexts"])
                    scores2[m][side], reasons2[m][side] = scorer(m, sample)
            check_rows.append({"id": pair["id"], "error_type": pair.get("error_type", ""), "scores": scores2,
                               "reasons": reasons2})
    scoring_s = time.perf_counter() - t0

    meta = {
        "id": run_dir.name, "started": stamp, "git_commit": commit, "prompt": fp.prompt,
        "prompt_sha256": fp.prompt_sha256, "model_sha256": fp.model_sha256, "corpus_sha256": fp.corpus_sha256,
        "judge": judge, "metrics": list(options.metrics), "dataset": str(options.dataset),
        "n_cases": len(cases), "n_turns_scored": len(rows), "settings": fp.settings,
        "durations": {"answers_s": round(answers_s, 2), "scoring_s": round(scoring_s, 2),
                      "total_s": round(time.perf_counter() - t_start, 2)},
        "cache": {"hits": cache.hits, "misses": cache.misses},
    }
    _write_jsonl(run_dir / "cases.jsonl", rows)
    _write_jsonl(run_dir / "judge_check.jsonl", check_rows)
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    loaded = load_run(run_dir)
    summary = summarise(loaded.cases, loaded.judge_check)
    write_summary(run_dir, summary)
    write_report(run_dir, summary, {m: t for m, t in JUDGE_TARGETS.items() if m in options.metrics}, run=loaded)
    log.info("run written to %s", run_dir)
    broken = _failed_everywhere(jobs, results)
    if broken:
        raise EvalError(f"run written to {run_dir}, but these metrics failed on every sample: "
                        + "; ".join(f"{m} ({why[:200]})" for m, why in broken.items()))
    return run_dir


def _failed_everywhere(jobs, results) -> dict[str, str]:
    """Metrics that produced no number at all, with their first error: a broken metric must not look like a
    metric that happened to have nothing to score."""
    tried: dict[str, list[tuple[float | None, str]]] = {}
    for job in jobs:
        tried.setdefault(job[1], []).append(results[job])
    return {m: next((why for _, why in rs if why), "no score") for m, rs in tried.items()
            if rs and all(v is None for v, _ in rs)}


def row_id(case: dict, k: int) -> str:
    """A single-turn case keeps its id; each turn of a conversation is "id#k" (1-based)."""
    return case["id"] if len(case["turns"]) == 1 else f"{case['id']}#{k + 1}"


def _announce(jobs: Sequence[tuple[int, str]], options: RunOptions) -> None:
    """Say up front what the judged metrics will cost, so nobody starts a three-hour run by accident."""
    per: dict[str, int] = {}
    for _, m in jobs:
        per[m] = per.get(m, 0) + 1
    if not per:
        return
    est = {m: n * SECONDS_PER_SAMPLE.get(m, 30) for m, n in per.items()}
    parts = ", ".join(f"{m} {n} x ~{SECONDS_PER_SAMPLE.get(m, 30):g}s" for m, n in per.items())
    total = sum(est.values())
    log.warning("judged scores to compute (before the cache): %s; at most ~%.0f min with the local judge",
                parts, total / 60)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

