"""UI under load: concurrent gradio_client sessions, each a two-turn conversation.

    python bench/ui_load.py [--sessions 8] [--url http://127.0.0.1:7860]

Without --url it ingests corpus/ into a temporary store and starts
``python -m assistant serve`` on it on a free port with the default settings
(one answer generated at a time on the local model, the others queue), and
samples the resident memory of the server and its children every half second:
the peak (target <= 3 GiB) is the larger of the highest sampled sum and the
server's own high-water mark (VmHWM). Reports errors (target 0), p50/p95
latency per request, and whether any follow-up was resolved against another
session's question. Figures also go to ``bench/out/ui_load.json``.
"""

from __future__ import annotations

import argparse
import html
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, machine, percentile, write_result

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
RSS_TARGET_MIB = 3 * 1024


def _status_kib(pid: int, field: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/PID/status in KiB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class MemorySampler:
    """Samples the summed VmRSS of a process tree in a thread; ``peak_mib`` after ``stop``."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.hwm_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(_status_kib(p, "VmRSS") for p in _descendants(self.pid))
            self.peak_kib = max(self.peak_kib, total)
            self.hwm_kib = max(self.hwm_kib, _status_kib(self.pid, "VmHWM"))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self.hwm_kib = max(self.hwm_kib, _status_kib(self.pid, "VmHWM"))  # before the server is stopped
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return max(self.peak_kib, self.hwm_kib) / 1024


def start_server(store: Path, feedback_db: Path, context_mode: str) -> tuple[subprocess.Popen, str]:
    import os

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ASSISTANT_UI__FEEDBACK_DB": str(feedback_db), "ASSISTANT_LLM__CONTEXT_MODE": context_mode}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--store", str(store)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}")
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
    out = {"latencies": [], "errors": [], "leak": False, "feedback": 0}
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
        try:  # every session leaves feedback on every answer
            note = client.predict(question=message, answer=answer, rating=-1 if i else 1,
                                  comment=f"load test {id(out)} turn {i}", api_name="/feedback")
            out["feedback"] += note.startswith("recorded")
        except Exception as exc:
            out["errors"].append(f"feedback: {type(exc).__name__}: {exc}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--url", help="an already running server (no memory figure then)")
    ap.add_argument("--context-mode", default="passages", choices=("passages", "corpus"))
    args = ap.parse_args()
    started = time.perf_counter()
    proc = sampler = None
    url = args.url
    with tempfile.TemporaryDirectory() as tmp:
        if url is None:
            store = Path(tmp) / "store"
            subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--no-progress", "--store", str(store)],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            feedback_db = Path(tmp) / "feedback.sqlite"
            proc, url = start_server(store, feedback_db, args.context_mode)
            sampler = MemorySampler(proc.pid)
        try:
            t0 = time.perf_counter()
            convs = [CONVERSATIONS[i % len(CONVERSATIONS)] for i in range(args.sessions)]
            with ThreadPoolExecutor(args.sessions) as pool:
                results = list(pool.map(lambda c: session(url, c), convs))
            wall = time.perf_counter() - t0
        finally:
            if sampler is not None:
                sampler.stop()
            if proc is not None:
                proc.terminate()
                proc.wait(60)
            stored = 0
            if url is not None and args.url is None:
                from assistant.feedback import FeedbackStore

                stored = len(FeedbackStore(feedback_db).rows())
    lat = [x for r in results for x in r["latencies"]]
    sent = sum(r["feedback"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    leaks = sum(r["leak"] for r in results)
    peak = f"{sampler.peak_mib:,.0f}" if sampler else "n/a"
    print(f"machine: {machine()}")
    print(f"\n## UI load ({args.sessions} sessions x 2 turns, concurrent)\n")
    print("| requests | errors | p50 s | p95 s | wall s | cross-session leaks | feedback sent / stored "
          "| server peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {len(lat) + len(errors)} | {len(errors)} | {percentile(lat, 0.5):.1f} | {percentile(lat, 0.95):.1f} "
          f"| {wall:.0f} | {leaks} | {sent} / {stored} | {peak} |")
    for e in errors[:5]:
        print("error:", e[:200])
    write_result("ui_load", {
        "sessions": args.sessions, "requests": len(lat) + len(errors), "errors": len(errors),
        "error_samples": [e[:200] for e in errors[:5]], "p50_s": percentile(lat, 0.5), "p95_s": percentile(lat, 0.95),
        "wall_s": wall, "cross_session_leaks": leaks, "feedback_sent": sent, "feedback_stored": stored,
        "context_mode": args.context_mode,
        "server_peak_rss_mib": sampler.peak_mib if sampler else None,
        "server_sampled_rss_mib": sampler.peak_kib / 1024 if sampler else None,
        "server_vmhwm_mib": sampler.hwm_kib / 1024 if sampler else None,
        "targets": {"errors": 0, "server_peak_rss_mib": RSS_TARGET_MIB, "cross_session_leaks": 0},
    }, vars(args), started)


if __name__ == "__main__":
    main()
