"""No network at run time, and the UI server under attack.

The network guard (``tests.support.netguard``) is first shown not to be blind; then ``ingest.py``, ``ask``
and the UI server run under it, and the guarded server gets bad questions, path traversal and a large upload.
Cases that start the UI server are marked ``server`` (and ``llm``: it loads the real model).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT, Settings
from tests.conftest import CORPUS
from tests.support.commands import ingest_cmd
from tests.support.corpus import GOOD_TEXT
from tests.support.netguard import NetGuard
from tests.support.questions import BAD_QUESTIONS, GOOD_QUESTION
from tests.support.servers import free_port, wait_for_port

OUT = PROJECT_ROOT / "test-output"


PHONE_HOME = """
import _socket, socket
try:
    socket.create_connection(("example.com", 80), timeout=2)  # Python level: the guard refuses it
except OSError as exc:
    print("refused:", exc)
raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)  # below the guard, as native code would
raw.setblocking(False)
print("raw:", raw.connect_ex(("192.0.2.1", 9)))  # TEST-NET-1: never routed, returns at once
"""


def test_netguard_catches_an_attempt(tmp_path: Path) -> None:
    """The guard used below is not blind: a Python-level lookup and a raw socket connect are both seen."""
    guard = NetGuard(tmp_path)
    proc = subprocess.run(guard.command([sys.executable, "-c", PHONE_HOME]), capture_output=True, text=True,
                          timeout=120, env=guard.env())
    assert proc.returncode == 0 and "refused:" in proc.stdout, proc.stderr
    attempts = guard.attempts()
    assert any("getaddrinfo 'example.com'" in a for a in attempts), attempts
    if guard.strace:
        assert any("192.0.2.1" in a for a in attempts), attempts
    assert guard.guarded_pids()


@dataclass
class Guarded:
    guard: NetGuard
    settings: Settings
    ingest: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def guarded(ingested_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Guarded:
    """``ingest.py`` under the guard: a copy of the session store plus one new file, so the embedding
    model is loaded and used, not just the unchanged-file shortcut."""
    root = tmp_path_factory.mktemp("guarded")
    guard = NetGuard(root)
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "good.md").write_text(GOOD_TEXT, encoding="utf-8")
    store = root / "store"
    shutil.copytree(ingested_settings.store.dir, store)
    proc = subprocess.run(
        guard.command(ingest_cmd(corpus, store)), capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900,
        env=guard.env(ASSISTANT_STORE__CORPUS_DIR=str(corpus)),
    )
    return Guarded(guard, Settings(store={"dir": store, "corpus_dir": corpus}), proc)


@pytest.fixture(scope="module")
def guarded_server(guarded: Guarded) -> Iterator[str]:
    """``python -m assistant serve`` under the guard, on a free port (as tests/test_ui.py starts it)."""
    port = free_port()
    OUT.mkdir(exist_ok=True)
    log_path = OUT / "network-server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        guarded.guard.command([sys.executable, "-m", "assistant", "serve", "--port", str(port),
                               "--store", str(guarded.settings.store.dir)]),
        cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env=guarded.guard.env(ASSISTANT_STORE__CORPUS_DIR=str(guarded.settings.store.corpus_dir)),
    )
    wait_for_port(proc, port, 600, lambda: log_path.read_text()[-3000:],
                  lambda: os.killpg(proc.pid, signal.SIGKILL))
    yield f"http://127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGTERM)  # the group: strace and the server under it
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def _get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (no client-side normalisation of ``..`` or escapes)."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.request("GET", raw_path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _rest_chat(url: str, message: str) -> str:
    """One /chat call through Gradio's REST API, with the JSON written by hand, so that a message with
    undecodable bytes (a JSON ``\\udce9`` escape) can be sent as a hostile client would."""
    import httpx

    info = httpx.get(f"{url}/gradio_api/info", timeout=60).json()["named_endpoints"]["/chat"]["parameters"]
    data = [message] + [p.get("parameter_default") for p in info[1:]]
    body = json.dumps({"data": data}, ensure_ascii=True)
    r = httpx.post(f"{url}/gradio_api/call/chat", content=body, headers={"content-type": "application/json"},
                   timeout=60)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    final = None
    with httpx.stream("GET", f"{url}/gradio_api/call/chat/{event_id}", timeout=600) as stream:
        event = ""
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in {"complete", "error"}:
                final = (event, json.loads(line[5:].strip() or "null"))
    assert final is not None and final[0] == "complete", final
    return final[1][0]


@pytest.mark.server
@pytest.mark.llm
@pytest.mark.parametrize("case", list(BAD_QUESTIONS))
def test_bad_question_in_ui(case: str, guarded_server: str) -> None:
    """The chat shows the message in the conversation; the server keeps serving."""
    question, message = BAD_QUESTIONS[case]
    answer = _rest_chat(guarded_server, question)
    assert answer.startswith("⚠️") and message in answer and len(answer) < 300, answer[:500]
    assert _get(guarded_server, "/")[0] == 200  # still up


def _traversal_paths() -> list[str]:
    project = PROJECT_ROOT / "pyproject.toml"
    up = "..%2F" * 12
    return [
        "/file=/etc/passwd",
        "/file=../pyproject.toml",
        "/file=pyproject.toml",
        "/gradio_api/file=/etc/passwd",
        f"/gradio_api/file={project}",
        "/gradio_api/file=pyproject.toml",
        "/gradio_api/file=../pyproject.toml",
        "/gradio_api/file=assistant/settings.py",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        f"/gradio_api/file={up}etc%2Fpasswd",
        f"/gradio_api/file={up}{urllib.parse.quote(str(project).lstrip('/'), safe='')}",
        "/gradio_api/file=..%252F..%252F..%252F..%252Fetc%252Fpasswd",
        "/gradio_api/file=/proc/self/environ",
        f"/gradio_api/file={PROJECT_ROOT / 'data' / 'chroma' / 'chroma.sqlite3'}",
        "/gradio_api/file=/tmp/gradio/../../etc/passwd",
        f"/file={up}etc%2Fpasswd",
        "/static/../../../../etc/passwd",
        f"/static/{up}etc%2Fpasswd",
        f"/assets/{up}etc%2Fpasswd",
        f"/gradio_api/static/{up}etc%2Fpasswd",
    ]


@pytest.mark.server
@pytest.mark.llm
@pytest.mark.parametrize("path", _traversal_paths())
def test_ui_serves_no_file_outside_its_assets(path: str, guarded_server: str) -> None:
    status, body = _get(guarded_server, path)
    assert status in {400, 403, 404}, (status, body[:300])
    for marker in (b"root:x:", b"[build-system]", b"class Settings", b"SQLite format", b"PATH=", b"HOME="):
        assert marker not in body, (path, body[:300])


@pytest.mark.server
@pytest.mark.llm
def test_ui_refuses_large_uploads(guarded_server: str) -> None:
    """The chat has no file input, so the upload route (always mounted by Gradio) takes nothing big:
    a visitor cannot fill the disk through it."""
    import httpx

    r = httpx.post(f"{guarded_server}/gradio_api/upload", files={"files": ("big.txt", b"x" * 100_000, "text/plain")},
                   timeout=60)
    assert r.status_code in {400, 413}, (r.status_code, r.text[:300])


@pytest.mark.server
@pytest.mark.llm
def test_no_network_at_run_time(guarded: Guarded, guarded_server: str, tmp_path: Path) -> None:
    """Ingest, one real answer from ``ask`` and one UI request never try to leave 127.0.0.1."""
    from gradio_client import Client

    guard = guarded.guard
    assert guarded.ingest.returncode == 0, guarded.ingest.stderr[-2000:]
    assert "1 added" in guarded.ingest.stdout and "1 chunks embedded" in guarded.ingest.stdout
    store = tmp_path / "store"  # ask on its own copy, so it never shares a store folder with the server
    shutil.copytree(guarded.settings.store.dir, store)
    asked = subprocess.run(
        guard.command([sys.executable, "-m", "assistant", "ask", "--json", GOOD_QUESTION, "--store", str(store)]),
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900,
        env=guard.env(ASSISTANT_STORE__CORPUS_DIR=str(guarded.settings.store.corpus_dir)),
    )
    assert asked.returncode == 0, asked.stderr[-2000:]
    answer = json.loads(asked.stdout.strip().splitlines()[-1])
    assert answer["contexts"] and answer["timings"]["first_token_s"] is not None  # the model did answer

    reply, _ = Client(guarded_server, verbose=False).predict(message="What is the capital of France?",
                                                                   api_name="/chat")
    assert reply and not reply.startswith("⚠️"), reply

    assert len(guard.guarded_pids()) >= 3, guard.records()  # the guard ran in ingest, ask and serve
    attempts = guard.attempts()
    assert attempts == [], "\n".join(attempts)
