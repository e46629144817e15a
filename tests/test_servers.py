"""Scale-out against real servers on 127.0.0.1: a Chroma server and llama.cpp's OpenAI-compatible server.

Each fixture starts the real server process on a free port (no mocks) and
stops it at teardown. What is checked: ingest and retrieval over a Chroma
server give the same passages as the embedded store; an answer through the
Chroma server and the in-process model equals the answer through the
embedded store and the llama.cpp server (temperature 0, the same sampling and
grammar both ways); a Chroma server or LLM endpoint that stops, hangs or was
never there gives the user one clear line within the configured timeout,
never a hang or a traceback. Only two real-model answers are generated.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.chain import AnswerChain, ask, build_chain
from assistant.llm import ModelError
from assistant.schema import Answer
from assistant.settings import PROJECT_ROOT, Settings
from assistant.store import StoreError
from tests.conftest import CORPUS
from tests.support.fakes import no_llm
from tests.support.servers import free_port

pytestmark = pytest.mark.server

QUESTION = "How does anastrozole differ from clomiphene?"
RETRIEVAL_QUESTIONS = [
    QUESTION,
    "Which enzyme does anastrozole block?",
    "What does hCG do in male infertility treatment?",
    "Which men are most likely to respond to anastrozole?",
    "What is in a typical post-TRT protocol?",
]
BIN = Path(sys.executable).parent
# no telemetry, no model hub: every process here stays on 127.0.0.1
QUIET_ENV = {"ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
             "GRADIO_ANALYTICS_ENABLED": "False"}


@dataclass
class Server:
    """A server process started by a fixture, with its log for failure messages."""

    proc: subprocess.Popen
    port: int
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # in case a test left it stopped
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_server(cmd: list[str], port: int, ready_url: str, log: Path, timeout_s: float = 300) -> Server:
    """Start ``cmd`` and wait until ``ready_url`` answers 200; fail with the server's log otherwise."""
    out = log.open("w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                            env={**os.environ, **QUIET_ENV})
    out.close()
    server = Server(proc, port, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}:\n{server.tail()}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"{cmd[0]} was not ready within {timeout_s:g}s:\n{server.tail()}")


def start_chroma(path: Path, log: Path) -> Server:
    port = free_port()
    return start_server(
        [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        port, f"http://127.0.0.1:{port}/api/v2/heartbeat", log, timeout_s=60,
    )


def ingest_into(server: Server, **store: object) -> Settings:
    """The real corpus ingested into the Chroma server; returns the settings that point at it."""
    from assistant.ingestion import ingest

    settings = Settings(store={"chroma_host": "127.0.0.1", "chroma_port": server.port, "corpus_dir": CORPUS, **store})
    report = ingest([CORPUS], settings, progress=False)
    assert not report.failed and report.added == ["anastrozole-male-fertility.md"], report.summary()
    assert report.where == f"chroma://127.0.0.1:{server.port}/corpus"
    return settings


def within(seconds: float, fn: Callable[[], object]) -> Exception:
    """Run ``fn`` in a thread and return what it raised; fail (not hang) if it is still running after ``seconds``.

    Why a thread: the bug these tests guard against is a call that never returns.
    """
    pool = ThreadPoolExecutor(1)
    try:
        pool.submit(fn).result(timeout=seconds)
    except FuturesTimeout:
        pytest.fail(f"still waiting after {seconds:g}s: the call hangs")
    except Exception as exc:
        return exc
    finally:
        pool.shutdown(wait=False)  # a hung call ends when the test stops its server
    pytest.fail("the call succeeded; expected an error")


def _error_lines(stderr: str) -> list[str]:
    """The lines the CLI prints for a user error (stderr may also hold the embedder's progress bar)."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One Chroma server for the module's read-only tests."""
    d = tmp_path_factory.mktemp("chroma-server")
    server = start_chroma(d / "data", d / "chroma.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chroma_settings(chroma: Server) -> Settings:
    return ingest_into(chroma)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``python -m llama_cpp.server`` serving the default model with the in-process model's load parameters."""
    from assistant.model_file import model_path

    s = Settings()
    port = free_port()
    threads = str(s.llm.n_threads or os.cpu_count() or 2)
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path(s)),
        "--model_alias", s.llm.model_name, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(s.llm.context_tokens), "--n_batch", str(s.llm.n_batch),
        "--n_threads", threads, "--n_threads_batch", threads,
        "--rope_freq_base", "0", "--rope_freq_scale", "0",  # from the GGUF, as assistant/llm.py does
        "--flash_attn", str(s.llm.flash_attn), "--logits_all", "False", "--use_mlock", "False", "--verbose", "False",
    ]
    server = start_server(cmd, port, f"http://127.0.0.1:{port}/v1/models",
                          tmp_path_factory.mktemp("llama-server") / "llama.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote_settings(llama_server: Server, ingested_settings: Settings) -> Settings:
    return ingested_settings.updated(llm={"base_url": f"http://127.0.0.1:{llama_server.port}/v1",
                                          "endpoint_kind": "llama.cpp"})


@pytest.fixture(scope="module")
def remote_answer(remote_settings: Settings, retriever) -> Answer:
    """QUESTION answered from the embedded store by the model behind the llama.cpp server."""
    return ask(build_chain(remote_settings, retriever), QUESTION)


def _retrieved(question: str, retriever) -> list[tuple[str, float | None]]:
    return [(r.chunk.id, r.dense) for r in retriever.retrieve(question)]


def test_chroma_server_ingest_and_retrieval_match_the_embedded_store(
    chroma_settings: Settings, retriever
) -> None:
    from assistant.embeddings import LocalEmbeddings
    from assistant.ingestion import ingest
    from assistant.retrieval import HybridRetriever
    from assistant.store import Store

    remote_store = Store.from_settings(chroma_settings)
    assert remote_store.count() == retriever.store.count() > 0
    assert remote_store.manifest() == retriever.store.manifest()
    again = ingest([CORPUS], chroma_settings, progress=False)  # the manifest lives in the server too
    assert again.unchanged == ["anastrozole-male-fertility.md"] and again.embedded == 0, again.summary()

    remote = HybridRetriever(store=remote_store, embeddings=LocalEmbeddings(), settings=chroma_settings.retrieval)
    for question in RETRIEVAL_QUESTIONS:
        local_hits = _retrieved(question, retriever)
        remote_hits = _retrieved(question, remote)
        assert [i for i, _ in remote_hits] == [i for i, _ in local_hits], question
        for (_, a), (_, b) in zip(remote_hits, local_hits, strict=True):
            assert (a is None) == (b is None) and (a is None or abs(a - b) < 1e-4), question


@pytest.mark.llm
def test_llama_cpp_server_gives_a_grounded_answer(
    remote_answer: Answer, llama_server: Server, article_text: str
) -> None:
    a = remote_answer
    assert not a.abstained, a.raw
    assert "anastrozole" in a.answer.lower() and "clomiphene" in a.answer.lower(), a.answer
    verified = [c for c in a.citations if c.verified]
    assert verified, a.raw
    for c in verified:  # verbatim, and located in the source
        assert c.start is not None and c.end is not None
        assert article_text[c.start : c.end] == c.quote
        assert c.chunk_id in {x.chunk_id for x in a.contexts}
    assert a.raw.startswith("Quotes:\n[")  # the grammar reached the server: its exact output format
    assert a.unverified_quotes == 0
    assert "POST /v1/chat/completions" in llama_server.tail()  # the server really answered


@pytest.mark.llm
def test_answer_through_chroma_server_equals_embedded_store_answer(
    chroma_settings: Settings, remote_answer: Answer
) -> None:
    """Chroma server + in-process model vs embedded store + llama.cpp server: same passages, quotes, answer."""
    chain = build_chain(chroma_settings)  # its own retriever, over the Chroma server
    assert chain.retriever.store.where.startswith("chroma://127.0.0.1:")
    a = ask(chain, QUESTION)
    assert [c.chunk_id for c in a.contexts] == [c.chunk_id for c in remote_answer.contexts]
    assert not a.abstained and any(c.verified for c in a.citations), a.raw
    key = [(c.n, c.chunk_id, c.verified, c.quote) for c in a.citations]
    assert key == [(c.n, c.chunk_id, c.verified, c.quote) for c in remote_answer.citations], (a.raw, remote_answer.raw)
    # the quotes the model chose, word for word; its free prose may part at a near-tie, since the server and
    # the in-process engine sum the same logits in another order (seen: "whereas" / "while" after 443 equal
    # characters once retrieval's passages changed)
    assert a.raw.split("Answer:")[0] == remote_answer.raw.split("Answer:")[0]


def test_chroma_server_stopping_mid_session_is_a_clear_error(tmp_path: Path, retriever) -> None:
    from assistant.embeddings import LocalEmbeddings
    from assistant.retrieval import HybridRetriever
    from assistant.store import Store

    server = start_chroma(tmp_path / "data", tmp_path / "chroma.log")
    try:
        settings = ingest_into(server, chroma_timeout_s=2.0)
        remote = HybridRetriever(store=Store.from_settings(settings), embeddings=LocalEmbeddings(),
                                 settings=settings.retrieval)
        chain = AnswerChain(settings, remote, no_llm)  # retrieval fails before any model call
        expected = [r.chunk.id for r in retriever.retrieve(QUESTION)]
        assert [r.chunk.id for r in chain.retriever.retrieve(QUESTION)] == expected
        where = f"cannot reach the Chroma server at 127.0.0.1:{server.port}"

        os.kill(server.proc.pid, signal.SIGSTOP)  # hung: accepts connections, never answers
        t0 = time.monotonic()
        hung = within(30, lambda: chain.retriever.retrieve(QUESTION))
        elapsed = time.monotonic() - t0
        assert isinstance(hung, StoreError), repr(hung)
        assert where in str(hung) and "no reply within 2s" in str(hung)
        assert 1.5 < elapsed < 10, elapsed  # the timeout, not a hang (chromadb's own client has none)

        os.kill(server.proc.pid, signal.SIGCONT)  # back: the same chain works again
        assert [r.chunk.id for r in chain.retriever.retrieve(QUESTION)] == expected

        server.stop()  # gone: connection refused
        t0 = time.monotonic()
        gone = within(30, lambda: ask(chain, QUESTION))
        assert time.monotonic() - t0 < 5
        assert isinstance(gone, StoreError), repr(gone)
        assert where in str(gone) and "refused" in str(gone).lower()

        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "assistant", "ask", QUESTION], capture_output=True, text=True,
            cwd=PROJECT_ROOT, timeout=300,
            env={**os.environ, **QUIET_ENV, "ASSISTANT_STORE__CHROMA_HOST": "127.0.0.1",
                 "ASSISTANT_STORE__CHROMA_PORT": str(server.port), "ASSISTANT_STORE__CHROMA_TIMEOUT_S": "2"},
        )
        assert time.monotonic() - t0 < 120
        assert proc.returncode == 2, proc.stderr
        assert _error_lines(proc.stderr) == [proc.stderr.strip().splitlines()[-1]], proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {where} ("), proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    finally:
        server.stop()


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there


def test_dead_llm_endpoint_is_a_clear_error(ingested_settings: Settings, retriever, dead_url: str) -> None:
    settings = ingested_settings.updated(llm={"base_url": dead_url, "timeout_s": 10.0})
    chain = build_chain(settings, retriever)
    chain.warm_up()  # imports and builds the client, as the CLI and UI do before the first question
    t0 = time.monotonic()
    with pytest.raises(ModelError) as err:
        ask(chain, QUESTION)
    assert time.monotonic() - t0 < 10  # a refused connection fails at once, without waiting for the timeout
    assert str(err.value).startswith(f"cannot reach the LLM endpoint at {dead_url} (")
    assert "refused" in str(err.value).lower()


def test_silent_llm_endpoint_times_out_once(ingested_settings: Settings, retriever) -> None:
    """An endpoint that accepts the connection and never answers costs one llm.timeout_s, not one per retry."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes connections; nobody reads or replies
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        settings = ingested_settings.updated(llm={"base_url": url, "timeout_s": 3.0})
        chain = build_chain(settings, retriever)
        chain.warm_up()
        t0 = time.monotonic()
        err = within(60, lambda: ask(chain, QUESTION))
        elapsed = time.monotonic() - t0
    assert isinstance(err, ModelError), repr(err)
    assert 2.5 < elapsed < 5.5, elapsed  # openai's default 2 retries would take > 9 s
    assert str(err) == f"the LLM endpoint at {url} did not answer (no reply within 3s, setting llm.timeout_s)"


def test_cli_with_dead_llm_endpoint(ingested_settings: Settings, dead_url: str) -> None:
    env = {**os.environ, **QUIET_ENV, "ASSISTANT_LLM__BASE_URL": dead_url, "ASSISTANT_LLM__TIMEOUT_S": "5"}
    base = [sys.executable, "-m", "assistant"]
    store = ["--store", str(ingested_settings.store.dir)]
    t0 = time.monotonic()
    proc = subprocess.run([*base, "ask", QUESTION, *store], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          timeout=300, env=env)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert _error_lines(proc.stderr) == [proc.stderr.strip().splitlines()[-1]], proc.stderr  # one line, last
    assert _error_lines(proc.stderr)[0].startswith(f"error: cannot reach the LLM endpoint at {dead_url} ("), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert elapsed < 120, elapsed  # start-up and retrieval; the refused connection itself is immediate

    # the interactive chat reports it and keeps going: the server may be back for the next question
    chat = subprocess.run([*base, "chat", *store], input=f"{QUESTION}\nWhat does hCG do?\n\n", capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=300, env=env)
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.count(f"error: cannot reach the LLM endpoint at {dead_url}") == 2, chat.stdout
    assert "Traceback" not in chat.stderr


JUDGE_EVIDENCE = "LH then stimulates the Leydig cells within the testes to produce testosterone."
JUDGE_CLAIMS = ("LH stimulates the Leydig cells to produce testosterone",
                "LH stimulates the Sertoli cells to produce testosterone")


def _judge_verdicts(url: str) -> list[float]:
    from eval.judge import OpenAIJudge
    from eval.prompts import CLAIM_SYSTEM, CLAIM_USER

    judge = OpenAIJudge(url, Settings().llm.model_name, timeout_s=120)
    return [judge.p_yes(CLAIM_SYSTEM, CLAIM_USER.format(evidence=JUDGE_EVIDENCE, claim=c)) for c in JUDGE_CLAIMS]


@pytest.mark.llm
def test_openai_judge_reads_log_probabilities_from_a_llama_cpp_server(tmp_path: Path) -> None:
    """``python -m eval run --judge openai``: a server that returns log-probabilities gives graded P(yes)."""
    from assistant.model_file import model_path

    s = Settings()
    port = free_port()
    server = start_server(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path(s)), "--model_alias", s.llm.model_name,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--rope_freq_base", "0",
         "--rope_freq_scale", "0", "--logits_all", "True", "--verbose", "False"],
        port, f"http://127.0.0.1:{port}/v1/models", tmp_path / "judge-server.log",
    )
    try:
        right, wrong = _judge_verdicts(f"http://127.0.0.1:{port}/v1")
    finally:
        server.stop()
    assert 0.5 < right < 1.0 and 0.0 < wrong < 0.5, (right, wrong)  # graded, not a parsed 0/1


@pytest.mark.llm
def test_openai_judge_falls_back_to_yes_no_text_without_log_probabilities(llama_server: Server) -> None:
    right, wrong = _judge_verdicts(f"http://127.0.0.1:{llama_server.port}/v1")
    assert (right, wrong) == (1.0, 0.0)
