"""Retrieval quality and latency, side by side with the naive LangChain recipe.

    python bench/retrieval.py [--sizes 10000 100000] [--runs 50]

Quality: on the answerable turns of eval/datasets/dev.jsonl and test.jsonl,
hit@1, hit@3 and MRR against the gold passages, and the context tokens sent
to the LLM (Qwen tokenizer), for our hybrid retriever as the chain calls it
(top_k from settings, the literature gate deciding about reference entries)
and for RecursiveCharacterTextSplitter(1000, 200) + dense top-4 with the same
embedding model. Latency: p50/p95 of one retrieval in a store padded with
synthetic filler chunks (random unit vectors, word-salad text).

Retrieval settings were tuned on the dev split only; quality is also reported
on the dev (tuning) and test (frozen) splits separately, so that a gain that
exists only on the cases it was tuned on shows.

The baseline is the naive recipe above; figures also go to
``bench/out/retrieval.json`` (``--sizes`` with no value skips the latency part).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.offline import go_offline

go_offline()

import numpy as np  # noqa: E402

from assistant.condense import standalone_query  # noqa: E402
from assistant.embeddings import LocalEmbeddings  # noqa: E402
from assistant.ingestion import ingest  # noqa: E402
from assistant.literature import LiteratureGate  # noqa: E402
from assistant.retrieval import HybridRetriever  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.store import Store  # noqa: E402
from bench.common import ROOT, machine, percentile, write_result  # noqa: E402
from eval.gold import contains_gold, retrieval_scores  # noqa: E402


def token_counter():
    try:
        from llama_cpp import Llama

        from assistant.model_file import model_path

        vocab = Llama(str(model_path(Settings())), vocab_only=True, verbose=False)
        return lambda text: len(vocab.tokenize(text.encode(), add_bos=False)), "Qwen tokenizer"
    except Exception as exc:  # model not assembled yet: estimate
        print(f"(token counts estimated as chars/4: {exc})")
        return lambda text: len(text) // 4, "chars/4"


def score(ranked: list[list[str]], cases: list[dict]) -> dict[str, float]:
    per_case = [retrieval_scores(texts, case["gold"]) for texts, case in zip(ranked, cases, strict=True)]
    return {m: sum(s[m] for s in per_case) / len(cases) for m in ("hit@1", "hit@3", "mrr")}


def answerable_turns() -> list[dict]:
    """Every answerable turn with gold passages of the dev and test splits: {id, split, question, previous, gold}."""
    from eval.run import load_dataset

    out = []
    for split in ("dev", "test"):
        for case in load_dataset(ROOT / "eval" / "datasets" / f"{split}.jsonl"):
            for k, t in enumerate(case["turn_specs"]):
                if t["scored"] and t["expected"] == "answer" and t["gold"]:
                    out.append({"id": f"{case['id']}#{k + 1}", "split": split, "question": t["question"],
                                "previous": case["turns"][:k], "gold": t["gold"]})
    return out


def naive_ranked(queries: list[str], emb: LocalEmbeddings, k: int = 4) -> list[list[str]]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts = []
    for path in sorted((ROOT / "corpus").glob("*.md")):
        texts += splitter.split_text(path.read_text(encoding="utf-8"))
    doc_vecs = np.array(emb.embed_documents(texts))
    out = []
    for q in queries:
        sims = doc_vecs @ np.array(emb.embed_query(q))
        out.append([texts[i] for i in np.argsort(-sims)[:k]])
    return out


def quality(settings: Settings, count_tokens) -> dict:
    cases = answerable_turns()
    store = Store.from_settings(settings)
    emb = LocalEmbeddings.from_settings(settings)
    retriever = HybridRetriever(store=store, embeddings=emb, settings=settings.retrieval)
    att = retriever.attributor()
    gate = LiteratureGate(emb.embed_query)
    queries = [standalone_query(c["question"], c["previous"], att.is_term) for c in cases]
    k = max(settings.retrieval.top_k, 3)
    ours = [[r.chunk.prompt_text() for r in retriever.retrieve_covering(
                q, att.named_in(c["question"]), k=k, literature=gate.asks(c["question"]))]
            for q, c in zip(queries, cases, strict=True)]
    ours_sent = [r[: settings.retrieval.top_k] for r in ours]
    naive = naive_ranked(queries, emb)
    s_ours, s_naive = score(ours, cases), score(naive, cases)
    tok_ours = sum(count_tokens("\n".join(r)) for r in ours_sent) / len(cases)
    tok_naive = sum(count_tokens("\n".join(r)) for r in naive) / len(cases)
    print(f"\n## Retrieval quality ({len(cases)} answerable cases)\n")
    print("| retriever | hit@1 | hit@3 | MRR | context tokens / question |")
    print("|---|---|---|---|---|")
    print(f"| hybrid (ours, top {settings.retrieval.top_k}) | {s_ours['hit@1']:.3f} | {s_ours['hit@3']:.3f} "
          f"| {s_ours['mrr']:.3f} | {tok_ours:.0f} ({tok_ours / tok_naive:.2f}x naive) |")
    print(f"| naive (1000/200, dense top 4) | {s_naive['hit@1']:.3f} | {s_naive['hit@3']:.3f} "
          f"| {s_naive['mrr']:.3f} | {tok_naive:.0f} |")
    tune, held = [c for c in cases if c["split"] == "dev"], [c for c in cases if c["split"] == "test"]
    ranked = {c["id"]: (r, sent) for c, r, sent in zip(cases, ours, ours_sent, strict=True)}
    print("\n### Hybrid on the dev (tuning) and test (frozen) splits\n")
    print("| cases | n | hit@1 | hit@3 | MRR | context tokens / question |")
    print("|---|---|---|---|---|---|")
    for name, part in (("tuning", tune), ("held-out", held), ("all", cases)):
        sc = score([ranked[c["id"]][0] for c in part], part)
        tok = sum(count_tokens("\n".join(ranked[c["id"]][1])) for c in part) / len(part)
        print(f"| {name} | {len(part)} | {sc['hit@1']:.3f} | {sc['hit@3']:.3f} | {sc['mrr']:.3f} | {tok:.0f} |")
    misses = [c["id"] for c, r in zip(cases, ours, strict=True) if not r or not contains_gold(r[0], c["gold"])]
    print(f"\nmissed at rank 1: {', '.join(misses) or 'none'}")
    parts = {}
    for name, part in (("tuning", tune), ("held_out", held)):
        sc = score([ranked[c["id"]][0] for c in part], part)
        parts[name] = {"n": len(part), **sc}
    return {"cases": len(cases), "top_k": settings.retrieval.top_k, "ours": {**s_ours, "tokens": tok_ours},
            "naive": {**s_naive, "tokens": tok_naive}, "parts": parts, "missed_at_1": misses,
            "targets": {"hit@1": 0.85, "hit@3": 0.98, "token_ratio": 0.5}}


def latency(sizes: list[int], runs: int, settings_base: Settings) -> list[dict]:
    emb = LocalEmbeddings.from_settings(settings_base)
    words = (ROOT / "corpus" / "anastrozole-male-fertility.md").read_text(encoding="utf-8").split()
    rng = np.random.default_rng(0)
    queries = [c["question"] for c in answerable_turns()][:runs]
    print("\n## Retrieval latency (one query: embed + dense + BM25 + fusion)\n")
    print("| chunks in store | p50 ms | p95 ms | index build s |")
    print("|---|---|---|---|")
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_base.updated(store={"dir": Path(tmp) / "store"})
            ingest([settings.store.corpus_dir], settings, progress=False)
            store = Store.from_settings(settings)
            n_fill = size - store.count()
            for i in range(0, n_fill, 5000):
                m = min(5000, n_fill - i)
                vecs = rng.normal(size=(m, 384)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                store.collection.add(
                    ids=[f"fill-{i + j}" for j in range(m)],
                    embeddings=vecs.tolist(),
                    documents=[" ".join(rng.choice(words, 60)) for _ in range(m)],
                    metadatas=[{"source": "filler", "start": 0, "end": 0, "section": "", "kind": "text",
                                "ref_keys": "", "header": "", "index": 0, "file_sha256": "", "n_chunks": 0}
                               for _ in range(m)],
                )
            retriever = HybridRetriever(store=store, embeddings=emb, settings=settings.retrieval)
            t0 = time.perf_counter()
            retriever.refresh()
            build = time.perf_counter() - t0
            retriever.retrieve(queries[0])
            times = []
            for q in (queries * (runs // len(queries) + 1))[:runs]:
                t0 = time.perf_counter()
                retriever.retrieve(q)
                times.append((time.perf_counter() - t0) * 1000)
            row = {"chunks": store.count(), "p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95),
                   "index_build_s": build, "queries": len(times)}
            rows.append(row)
            print(f"| {row['chunks']:,} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {build:.1f} |", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    started = time.perf_counter()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store={"dir": Path(tmp) / "store"})
        ingest([settings.store.corpus_dir], settings, progress=False)
        count_tokens, how = token_counter()
        print(f"token counts: {how}")
        figures = {"token_counter": how, "quality": quality(settings, count_tokens)}
    figures["latency"] = latency(args.sizes, args.runs, Settings()) if args.sizes else []
    figures["latency_targets_ms"] = {"10000": 30, "100000": 100}  # p50 by store size (issue 3)
    write_result("retrieval", figures, vars(args), started)


if __name__ == "__main__":
    main()
