"""Ingest speed: cold ingest of corpus/, unchanged re-ingest, and embedding throughput.

    python bench/ingest.py [--runs 1] [--synthetic-chunks 10000]

The embedding model is loaded once before timing (its load time is printed
apart). The synthetic corpus is made of the article's own sentences shuffled
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
    args = ap.parse_args()
    started = time.perf_counter()
    print(f"machine: {machine()}")
    print(f"runs: {args.runs} cold ingest(s) of corpus/, {max(5, args.runs)} unchanged re-ingests, "
          f"{args.runs} synthetic ingest(s) of about {args.synthetic_chunks:,} chunks")
    t0 = time.perf_counter()
    LocalEmbeddings().embed_query("load")
    load_s = time.perf_counter() - t0
    print(f"embedding model load: {load_s:.2f}s")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        counter = iter(range(1000))

        def cold() -> None:
            s = Settings(store_dir=tmp_path / f"cold{next(counter)}")
            ingest([s.corpus_dir], s, progress=False)

        cold_s, _ = median_time(cold, args.runs)
        warm = Settings(store_dir=tmp_path / "warm")
        report = ingest([warm.corpus_dir], warm, progress=False)
        unchanged_s, _ = median_time(lambda: ingest([warm.corpus_dir], warm, progress=False), max(5, args.runs))

        synth = tmp_path / "synthetic"
        synthetic_corpus(synth, args.synthetic_chunks, warm)
        rates = []
        n_chunks = 0
        for run in range(args.runs):
            s = Settings(store_dir=tmp_path / f"synth{run}", corpus_dir=synth)
            t0 = time.perf_counter()
            r = ingest([synth], s, progress=False)
            rates.append(r.embedded / (time.perf_counter() - t0))
            n_chunks = r.total_chunks
            print(f"synthetic run {run + 1}/{args.runs}: {r.embedded:,} chunks at {rates[-1]:.1f} chunks/s", flush=True)
    rate = statistics.median(rates)
    print(f"\n## Ingest ({args.runs} run(s); medians)\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| cold ingest of corpus/ ({report.total_chunks} chunks) | {cold_s:.2f} s | |")
    print(f"| unchanged re-ingest | {unchanged_s * 1000:.0f} ms | <= 1 s |")
    print(f"| synthetic corpus ({n_chunks:,} chunks) | {rate:.1f} chunks/s | >= 150 chunks/s |")
    write_result("ingest", {
        "runs": args.runs,
        "embedding_model_load_s": load_s,
        "corpus_chunks": report.total_chunks,
        "cold_ingest_s": cold_s,
        "unchanged_runs": max(5, args.runs),
        "unchanged_reingest_ms": unchanged_s * 1000,
        "synthetic_chunks": n_chunks,
        "embedding_chunks_per_s": rate,
        "embedding_chunks_per_s_runs": rates,
        "targets": {"unchanged_reingest_ms": 1000, "embedding_chunks_per_s": 150},
    }, vars(args), started)


if __name__ == "__main__":
    main()
