"""UI under load: concurrent gradio_client sessions, each a two-turn conversation.

    python bench/ui_load.py [--sessions 8] [--url http://127.0.0.1:7860]

Without --url it starts ``python -m assistant serve`` on a free port with the
default settings (one answer generated at a time on the local model, the
others queue). Reports errors (target 0), p50/p95 latency per request, and
whether any follow-up was resolved against another session's question.
"""

from __future__ import annotations

import argparse
import html
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, machine, percentile

CONVERSATIONS = [
    ("What does hCG do in male infertility treatment?", "What is usually combined with it?"),
    ("How does anastrozole differ from clomiphene?", "Which one is first-line for secondary hypogonadism?"),
    ("What is tamoxifen used for in post-TRT protocols?", "How does it compare with clomiphene?"),
    ("Why can obesity lower testosterone in men?", "Which drug addresses that?"),
    ("What is intratesticular testosterone?", "Why does it matter for sperm production?"),
    ("What does gonadorelin do?", "How is it given?"),
    ("What side effects can anastrozole have?", "How rare are they?"),
    ("Which men respond best to anastrozole according to the Cleveland Clinic study?", "What ratio predicted it?"),
]


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(1)
    proc.kill()
    raise SystemExit("server did not start")


def session(url: str, turns: tuple[str, str]) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = {"latencies": [], "errors": [], "leak": False}
    for i, message in enumerate(turns):
        t0 = time.perf_counter()
        try:
            answer, sources = client.predict(message=message, api_name="/chat")
        except Exception as exc:  # counted, not raised: the figure is the error count
            out["errors"].append(f"{type(exc).__name__}: {exc}")
            continue
        out["latencies"].append(time.perf_counter() - t0)
        if answer.startswith("⚠️"):
            out["errors"].append(answer)
        m = re.search(r"Searched for: ([^<]*)<", sources)
        searched = html.unescape(m.group(1)) if m else ""
        others = [c[0] for c in CONVERSATIONS if c != turns]
        if i == 1 and any(o in searched for o in others):
            out["leak"] = True
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--url")
    args = ap.parse_args()
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server()
    try:
        t0 = time.perf_counter()
        convs = [CONVERSATIONS[i % len(CONVERSATIONS)] for i in range(args.sessions)]
        with ThreadPoolExecutor(args.sessions) as pool:
            results = list(pool.map(lambda c: session(url, c), convs))
        wall = time.perf_counter() - t0
    finally:
        if proc is not None:
            proc.terminate()
    lat = [x for r in results for x in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]
    print(f"machine: {machine()}")
    print(f"\n## UI load ({args.sessions} sessions x 2 turns, concurrent)\n")
    print("| requests | errors | p50 s | p95 s | wall s | cross-session leaks |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(lat) + len(errors)} | {len(errors)} | {percentile(lat, 0.5):.1f} | {percentile(lat, 0.95):.1f} "
          f"| {wall:.0f} | {sum(r['leak'] for r in results)} |")
    for e in errors[:5]:
        print("error:", e[:200])


if __name__ == "__main__":
    main()
