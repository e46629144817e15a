"""The store under faults: an ingest killed half-way, two ingests at once, a store that stays busy, a write
that fails half-way, a read-only store. Each case asserts a clear message AND that nothing is lost: the
documented exit code, no traceback, and a consistent store (see ``tests.support.stores.assert_consistent``).
Commands run as a user runs them, in subprocesses, so a crash or a hang is seen as one."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO

import pytest
from filelock import FileLock

from assistant.ingestion import ingest
from assistant.settings import PROJECT_ROOT, Settings
from tests.support.commands import assert_no_traceback, ingest_cmd, run_ingest, subprocess_env
from tests.support.corpus import GOOD_TEXT, small_corpus, write_notes
from tests.support.questions import GOOD_QUESTION
from tests.support.stores import assert_consistent, fresh_store, store_files_digest


class Pump:
    """Reads a subprocess pipe in a thread, so the test can watch its output while it runs."""

    def __init__(self, stream: BinaryIO) -> None:
        self._buf = b""
        self._stream = stream
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while chunk := self._stream.read1(4096):
            self._buf += chunk

    def text(self) -> str:
        return self._buf.decode("utf-8", "replace")

    def progress(self) -> tuple[int, int]:
        """(done, total) of the latest ``embedding: ... done/total`` progress bar update."""
        found = re.findall(r"embedding:.*?(\d+)/(\d+)", self.text())
        return (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)


@pytest.mark.slow
def test_ingest_killed_half_way_then_rerun(tmp_path: Path) -> None:
    """SIGKILL during embedding/upsert, edit files, re-run: the store ends exactly as a clean ingest."""
    corpus = tmp_path / "corpus"
    files = write_notes(corpus, n_files=6, n_paras=5)
    store = tmp_path / "store"
    proc = subprocess.Popen(
        ingest_cmd(corpus, store, progress=True), cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=subprocess_env(ASSISTANT_STORE__CORPUS_DIR=str(corpus), ASSISTANT_EMBEDDING__BATCH_SIZE="4"),
    )
    err = Pump(proc.stderr)
    deadline = time.time() + 600
    done = total = 0
    while time.time() < deadline and proc.poll() is None:
        done, total = err.progress()
        if total and done >= 0.5 * total:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait(60) == -signal.SIGKILL, err.text()[-2000:]
    settings = Settings(store={"dir": store, "corpus_dir": corpus})
    partial = fresh_store(settings)
    n_partial = partial.count()
    assert 0 < n_partial < total, f"not killed half-way: {n_partial} of {total} chunks stored"

    # edit a file that was stored and one that was not, then finish the ingest
    for path in (files[0], files[-1]):
        path.write_text(path.read_text(encoding="utf-8").replace(": ", ": Edited. ", 1), encoding="utf-8")
    rerun = run_ingest(corpus, store)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "waiting" not in rerun.stderr  # the killed process's lock died with it
    assert_no_traceback(rerun)
    assert "0 failed" in rerun.stdout and "0 unchanged" not in rerun.stdout, rerun.stdout
    after = assert_consistent(settings)

    clean_settings = Settings(store={"dir": tmp_path / "clean", "corpus_dir": corpus})
    ingest([corpus], clean_settings, progress=False)
    clean = assert_consistent(clean_settings)
    assert after.comparable() == clean.comparable()  # same ids, texts and metadata: nothing missing or stale


@pytest.mark.slow
def test_two_ingests_at_once_wait_for_each_other(tmp_path: Path) -> None:
    """Two ingests of one store at once: one writes, the other waits, then finds every file unchanged."""
    corpus = tmp_path / "corpus"
    write_notes(corpus, n_files=3, n_paras=3, seed=1)
    store = tmp_path / "store"
    store.mkdir()
    env = subprocess_env(ASSISTANT_STORE__CORPUS_DIR=str(corpus))
    holder = FileLock(str(store / ".ingest.lock"))
    holder.acquire()  # hold the store until both are waiting, so their waits overlap whatever the timing
    try:
        procs = [subprocess.Popen(ingest_cmd(corpus, store), cwd=PROJECT_ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        errs = [Pump(p.stderr) for p in procs]
        deadline = time.time() + 300
        while time.time() < deadline and not all("another ingest is writing" in e.text() for e in errs):
            assert all(p.poll() is None for p in procs), [e.text()[-2000:] for e in errs]
            time.sleep(0.1)
    finally:
        holder.release()
    results = []
    for proc, err in zip(procs, errs, strict=True):
        out = proc.communicate(timeout=900)[0].decode()
        results.append((proc.returncode, out, err.text()))
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert "another ingest is writing" in err  # each one waited
        assert_no_traceback(out + err)
    summaries = sorted(out.strip().splitlines()[-1] for _, out, _ in results)
    assert summaries[0].startswith("ingest: 0 added, 0 updated, 3 unchanged"), summaries
    assert summaries[1].startswith("ingest: 3 added, 0 updated, 0 unchanged"), summaries
    view = assert_consistent(Settings(store={"dir": store, "corpus_dir": corpus}))
    assert len(view.records) == 9


def test_ingest_gives_up_clearly_when_the_store_stays_busy(tmp_path: Path) -> None:
    """With a short ``ASSISTANT_STORE__INGEST_LOCK_TIMEOUT_S``, a blocked ingest fails clearly and writes nothing."""
    corpus = small_corpus(tmp_path / "corpus")
    settings = Settings(store={"dir": tmp_path / "store", "corpus_dir": corpus})
    ingest([corpus], settings, progress=False)
    (corpus / "new.md").write_text(GOOD_TEXT.replace("Good", "New"), encoding="utf-8")
    before = store_files_digest(settings.store.dir)
    with FileLock(str(settings.store.dir / ".ingest.lock")):
        proc = run_ingest(corpus, settings.store.dir, env={"ASSISTANT_STORE__INGEST_LOCK_TIMEOUT_S": "1"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert_no_traceback(proc)
    assert "another ingest is still writing to" in proc.stderr and "after 1s of waiting" in proc.stderr
    assert store_files_digest(settings.store.dir) == before
    assert assert_consistent(settings).sources == {"good.md"}


def test_store_write_failure_mid_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """A write that fails half-way (a full disk) stops with one message; finished files stay complete."""
    import chromadb.api.models.Collection as collection_module
    from chromadb.errors import InternalError

    import ingest as ingest_script

    corpus = tmp_path / "corpus"
    write_notes(corpus, n_files=3, n_paras=2, seed=2)
    real_upsert = collection_module.Collection.upsert
    calls: list[int] = []

    def failing_upsert(self: object, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise InternalError("database or disk is full")
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(collection_module.Collection, "upsert", failing_upsert)
    monkeypatch.setenv("ASSISTANT_STORE__CORPUS_DIR", str(corpus))
    code = ingest_script.main(["--no-progress", "--store", str(tmp_path / "store"), str(corpus)])
    assert code == 2
    message = " ".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert "writing note01.md to the store" in message and "disk is full" in message, message
    assert "the files stored before it are complete: run the ingest again" in message
    settings = Settings(store={"dir": tmp_path / "store", "corpus_dir": corpus})
    assert assert_consistent(settings).sources == {"note00.md"}
    monkeypatch.setattr(collection_module.Collection, "upsert", real_upsert)
    again = ingest([corpus], settings, progress=False)
    assert again.added == ["note01.md", "note02.md"] and again.unchanged == ["note00.md"]
    assert assert_consistent(settings).sources == {"note00.md", "note01.md", "note02.md"}


def _drop_write_override() -> tuple[str, ...] | None:
    """A command prefix that makes permission bits bind, or None if they cannot.

    Root ignores them (CAP_DAC_OVERRIDE), so as root the command runs with that capability removed from
    its bounding set (``setpriv``): still uid 0, so it reads the same caches, but a mode 0555 folder is
    read-only to it. The prefix is probed once before use.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all")
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"ro-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    probe.chmod(0o555)
    try:
        proc = subprocess.run([*prefix, "sh", "-c", f"touch {probe}/x"], capture_output=True, timeout=30)
        return prefix if proc.returncode != 0 else None
    finally:
        probe.chmod(0o755)
        shutil.rmtree(probe)


def _chmod_tree(root: Path, readonly: bool, files_too: bool) -> None:
    for p in [root, *root.rglob("*")] if files_too else [root]:
        if p.is_dir():
            p.chmod(0o555 if readonly else 0o755)
        elif p.is_file():
            p.chmod(0o444 if readonly else 0o644)


READ_ONLY_CASES = {
    # name: (what is made read-only, what the message must say)
    "whole store": ("store", "cannot lock the store at"),
    "store folder only": ("store-folder", "the store folder and its files must be writable"),
    "parent of a new store": ("parent", "cannot create the store folder"),
}


@pytest.mark.parametrize("case", list(READ_ONLY_CASES))
def test_read_only_store(case: str, tmp_path: Path) -> None:
    """A store that cannot be written: one clear line, exit code 2, not one byte changed; fine once writable."""
    prefix = _drop_write_override()
    if prefix is None:
        pytest.skip("running as root without setpriv able to drop CAP_DAC_OVERRIDE: permissions cannot bind")
    what, message = READ_ONLY_CASES[case]
    corpus = small_corpus(tmp_path / "corpus")
    parent = tmp_path / "stores"
    parent.mkdir()
    store = parent / "store"
    settings = Settings(store={"dir": store, "corpus_dir": corpus})
    if what != "parent":
        ingest([corpus], settings, progress=False)
    (corpus / "new.md").write_text(GOOD_TEXT.replace("Good", "New"), encoding="utf-8")
    before = store_files_digest(store) if store.exists() else {}
    target = parent if what == "parent" else store
    _chmod_tree(target, readonly=True, files_too=what == "store")
    try:
        proc = run_ingest(corpus, store, prefix=prefix)
        asked = subprocess.run(  # the assistant on the same store: a clear line too, no traceback
            [*prefix, sys.executable, "-m", "assistant", "ask", GOOD_QUESTION, "--store", str(store)],
            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
            env=subprocess_env(ASSISTANT_LLM__MODEL_PATH=str(tmp_path / "never-loaded.gguf")),
        )
    finally:
        _chmod_tree(target, readonly=False, files_too=True)
    assert proc.returncode == 2, (proc.stdout, proc.stderr[-2000:])
    assert_no_traceback(proc)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1 and message in errors[0] and str(store) in errors[0], proc.stderr
    assert asked.returncode == 2 and asked.stderr.count("error:") == 1, asked.stderr[-2000:]
    assert_no_traceback(asked)
    assert (store_files_digest(store) if store.exists() else {}) == before  # nothing half-written
    assert store.exists() == (what != "parent")
    report = ingest([corpus], settings, progress=False)  # writable again: the ingest completes
    assert not report.failed and "new.md" in report.added
    assert assert_consistent(settings).sources == {"good.md", "new.md"}
