"""Run commands under test in subprocesses, as a user runs them, so a crash or a hang is seen as one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assistant.settings import PROJECT_ROOT


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a command under test: offline like the product, plus the case's settings."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


def ingest_cmd(corpus: Path, store: Path, *args: str, progress: bool = False) -> list[str]:
    cmd = [sys.executable, str(PROJECT_ROOT / "ingest.py"), "--store", str(store), *args, str(corpus)]
    return cmd if progress else [*cmd[:2], "--no-progress", *cmd[2:]]


def run_ingest(
    corpus: Path, store: Path, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``python ingest.py`` to completion; ASSISTANT_STORE__CORPUS_DIR makes source names relative to ``corpus``."""
    return subprocess.run(
        [*prefix, *ingest_cmd(corpus, store, *args)], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900,
        env=subprocess_env(ASSISTANT_STORE__CORPUS_DIR=str(corpus), **(env or {})),
    )


def assert_no_traceback(proc: subprocess.CompletedProcess[str] | str) -> None:
    text = proc if isinstance(proc, str) else proc.stdout + proc.stderr
    assert "Traceback" not in text, text[-3000:]
