"""Bad questions (empty, blank, 100k characters, undecodable bytes) in the chain and the CLI: each is refused
with a clear message before the model is called, and what comes next still works. The same questions in the
UI are in tests/test_network.py, with the guarded UI server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.chain import AnswerChain, ask
from assistant.retrieval import HybridRetriever
from assistant.schema import QuestionError
from assistant.settings import PROJECT_ROOT, Settings
from assistant.store import Store
from tests.support.commands import assert_no_traceback, subprocess_env
from tests.support.jsonl import parse_jsonl
from tests.support.questions import BAD_QUESTIONS, GOOD_QUESTION

GOOD_REPLY = (
    'Quotes:\n[1] "Anastrozole works by selectively inhibiting the aromatase enzyme"\nAnswer: It blocks aromatase [1].'
)


@pytest.mark.parametrize("case", list(BAD_QUESTIONS))
def test_bad_question_in_chain(case: str, retriever: HybridRetriever, ingested_settings: Settings) -> None:
    """The chain (what the UI and the CLI call) refuses before the model is called, and stays usable."""
    question, message = BAD_QUESTIONS[case]
    calls: list[int] = []

    def model() -> FakeListChatModel:
        calls.append(1)
        return FakeListChatModel(responses=[GOOD_REPLY])

    chain = AnswerChain(ingested_settings, retriever, model)
    with pytest.raises(QuestionError) as err:
        ask(chain, question)
    assert message in str(err.value) and len(str(err.value)) < 200
    assert calls == []
    after = ask(chain, GOOD_QUESTION)  # nothing lost: the next question is answered as usual
    assert not after.abstained and after.prose == "It blocks aromatase [1].", after.raw
    assert calls == [1]


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "text"])
@pytest.mark.parametrize("case", list(BAD_QUESTIONS))
def test_bad_question_in_cli(case: str, json_mode: bool, ingested_settings: Settings, tmp_path: Path) -> None:
    """``ask`` checks every question before loading anything: one line, exit code 2, no echo of 100k chars."""
    question, message = BAD_QUESTIONS[case]
    before = Store.from_settings(ingested_settings).count()
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", *(["--json"] if json_mode else []), question, GOOD_QUESTION,
         "--store", str(ingested_settings.store.dir)],
        capture_output=True, cwd=PROJECT_ROOT, timeout=300,
        env=subprocess_env(ASSISTANT_LLM__MODEL_PATH=str(tmp_path / "never-loaded.gguf")),
    )
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert proc.returncode == 2, (out, err[-2000:])
    assert_no_traceback(out + err)
    if json_mode:
        lines = parse_jsonl(out)
        assert len(lines) == 1 and message in lines[0]["error"], out
    else:
        assert out == "" and err.count("error:") == 1 and message in err, err
    assert len(out) + len(err) < 2000  # the over-long question is not printed back
    assert Store.from_settings(ingested_settings).count() == before
