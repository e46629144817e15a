"""Ingest speed: cold ingest of corpus/, unchanged re-ingest, and embedding throughput.

    python bench/ingest.py [--runs 1] [--synthetic-chunks 10000] [--backends torch onnx-int8]

The embedding model is loaded once before timing (its load time, and the int8
model's one-time export, are printed apart). The synthetic ingest and a query's
embedding time are measured for each embedding backend, the int8 one as a
ratio to PyTorch's. The synthetic corpus is made of the article's own sentences shuffled
into 100 Markdown files, so chunk sizes match the real corpus. One run by
default: 10,000 chunks take 10-15 minutes on 2 cores, and ``make bench`` must
finish in well under an hour; ``--runs 3`` gives medians. Figures also go to
``bench/out/ingest.json``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.offline import go_offline

go_offline()

from assistant.chunking import split_sentences  # noqa: E402
from assistant.embeddings import LocalEmbeddings  # noqa: E402
from assistant.ingestion import ingest  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from bench.common import ROOT, machine, median_time, write_result  # noqa: E402


def synthetic_corpus(folder: Path, target_chunks: int, settings: Settings) -> None:
    text = (ROOT / "corpus" / "anastrozole-male-fertility.md").read_text(encoding="utf-8")
    paras = [p for p in text.split("\n\n") if p and not p.startswith(("#", "|", "-"))]
    sentences = [p[s:e] for p in paras for s, e in split_sentences(p)]
    rng = random.Random(0)
    per_file = target_chunks // 100 + 1
    folder.mkdir(parents=True)
    for f in range(100):
        blocks = [f"# Synthetic document {f}"]
        for i in range(per_file):
            if i % 10 == 0:
                blocks.append(f"## Part {i // 10}")
            blocks.append(" ".join(rng.sample(sentences, 3)))  # ~400 chars: one chunk each
        (folder / f"doc{f:03d}.md").write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1, help="cold and synthetic runs (unchanged: at least 5)")
    ap.add_argument("--synthetic-chunks", type=int, default=10_000)
    ap.add_argument("--backends", nargs="+", default=["torch", "onnx-int8"], choices=["torch", "onnx-int8"])
    args = ap.parse_args()
    started = time.perf_counter()
    print(f"machine: {machine()}")
    print(f"runs: {args.runs} cold ingest(s) of corpus/, {max(5, args.runs)} unchanged re-ingests, "
          f"{args.runs} synthetic ingest(s) of about {args.synthetic_chunks:,} chunks")
    base = Settings()
    load_s: dict[str, float] = {}
    query_ms: dict[str, float] = {}
    questions = [f"What does {w} do to sperm production?" for w in ("anastrozole", "clomiphene", "hCG", "FSH")] * 10
    for backend in args.backends:
        emb = LocalEmbeddings.from_settings(base.updated(embedding={"backend": backend}))
        t0 = time.perf_counter()
        emb.load()
        load_s[backend] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for q in questions:
            emb.embed_query(q)
        query_ms[backend] = (time.perf_counter() - t0) / len(questions) * 1000
        print(f"{backend}: model load {load_s[backend]:.2f}s (first use includes the export), "
              f"query embedding {query_ms[backend]:.1f} ms", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        counter = iter(range(1000))

        def cold() -> None:
            s = base.updated(store={"dir": tmp_path / f"cold{next(counter)}"})
            ingest([s.store.corpus_dir], s, progress=False)

        cold_s, _ = median_time(cold, args.runs)
        warm = base.updated(store={"dir": tmp_path / "warm"})
        report = ingest([warm.store.corpus_dir], warm, progress=False)
        unchanged_s, _ = median_time(lambda: ingest([warm.store.corpus_dir], warm, progress=False), max(5, args.runs))

        synth = tmp_path / "synthetic"
        synthetic_corpus(synth, args.synthetic_chunks, warm)
        rates_by: dict[str, list[float]] = {}
        n_chunks = 0
        for backend in args.backends:
            rates = rates_by.setdefault(backend, [])
            for run in range(args.runs):
                s = base.updated(store={"dir": tmp_path / f"synth-{backend}-{run}", "corpus_dir": synth},
                                 embedding={"backend": backend})
                t0 = time.perf_counter()
                r = ingest([synth], s, progress=False, workers=True)
                rates.append(r.embedded / (time.perf_counter() - t0))
                n_chunks = r.total_chunks
                print(f"{backend} synthetic run {run + 1}/{args.runs}: {r.embedded:,} chunks at "
                      f"{rates[-1]:.1f} chunks/s", flush=True)
    rate = {b: statistics.median(r) for b, r in rates_by.items()}
    print(f"\n## Ingest ({args.runs} run(s); medians)\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| cold ingest of corpus/ ({report.total_chunks} chunks, {base.embedding.backend}) | {cold_s:.2f} s | |")
    print(f"| unchanged re-ingest | {unchanged_s * 1000:.0f} ms | <= 1 s |")
    for backend, value in rate.items():
        ratio = f" ({value / rate['torch']:.2f}x torch)" if backend != "torch" and "torch" in rate else ""
        print(f"| synthetic corpus ({n_chunks:,} chunks), {backend} | {value:.1f} chunks/s{ratio} "
              "| >= 150 chunks/s |")
        print(f"| query embedding, {backend} | {query_ms[backend]:.1f} ms | |")
    write_result("ingest", {
        "runs": args.runs,
        "default_backend": base.embedding.backend,
        "embedding_model_load_s": load_s,
        "query_embedding_ms": query_ms,
        "corpus_chunks": report.total_chunks,
        "cold_ingest_s": cold_s,
        "unchanged_runs": max(5, args.runs),
        "unchanged_reingest_ms": unchanged_s * 1000,
        "synthetic_chunks": n_chunks,
        "embedding_chunks_per_s": rate,
        "embedding_chunks_per_s_runs": rates_by,
        "targets": {"unchanged_reingest_ms": 1000, "embedding_chunks_per_s": 150},
    }, vars(args), started)


if __name__ == "__main__":
    main()
