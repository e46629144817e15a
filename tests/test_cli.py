"""``python -m assistant`` as a user runs it: JSON lines, conversations, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT, Settings


def _cli(*args: str, store: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args, "--store", str(store)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900, env={**os.environ, **(env or {})},
    )


@pytest.mark.llm
def test_ask_json_is_one_conversation(ingested_settings: Settings) -> None:
    proc = _cli("ask", "--json", "What does hCG do in male infertility treatment?",
                "What is usually combined with it?", store=ingested_settings.store.dir)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]
    assert len(lines) == 2
    for obj in lines:
        assert set(obj) == {"question", "query", "answer", "abstained", "citations", "contexts", "timings", "prose",
                            "checks", "drafted", "fell_back"}
        assert set(obj["timings"]) == {"retrieval_s", "first_token_s", "total_s"}
        for c in obj["citations"]:
            assert {"n", "chunk_id", "source", "section", "quote", "verified", "start", "end"} <= set(c)
    # one conversation: the follow-up ("it") was retrieved together with the question it follows
    assert lines[1]["query"] == "What does hCG do in male infertility treatment? What is usually combined with it?"
    assert lines[0]["query"] == lines[0]["question"]
    assert "Traceback" not in proc.stderr


def test_empty_store_says_run_ingest(tmp_path: Path) -> None:
    proc = _cli("ask", "What is anastrozole?", store=tmp_path / "nothing")
    assert proc.returncode == 2
    assert "run `python ingest.py` first" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_missing_model_file_is_a_clear_error(ingested_settings: Settings, tmp_path: Path) -> None:
    proc = _cli("ask", "What is anastrozole?", store=ingested_settings.store.dir,
                env={"ASSISTANT_LLM__MODEL_PATH": str(tmp_path / "missing.gguf")})
    assert proc.returncode == 2
    assert "model file not found" in proc.stderr and "Traceback" not in proc.stderr


# Empty, over-long and undecodable questions: tests/test_bad_input.py (CLI, chain) and tests/test_network.py (UI).
