"""The chat page against a real server (real model, real corpus) on a free port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from assistant.settings import PROJECT_ROOT, Settings
from tests.servers import free_port, wait_for_port

pytestmark = [pytest.mark.llm, pytest.mark.server]
OUT = PROJECT_ROOT / "test-output"
FEEDBACK_DB = OUT / "ui-feedback.sqlite"


@pytest.fixture(scope="module")
def server(ingested_settings: Settings) -> Iterator[str]:
    port = free_port()
    OUT.mkdir(exist_ok=True)
    for leftover in OUT.glob("ui-feedback.sqlite*"):
        leftover.unlink()
    log = (OUT / "ui-server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--store", str(ingested_settings.store_dir)],
        cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "ASSISTANT_FEEDBACK_DB": str(FEEDBACK_DB)},
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_port(proc, port, 300, lambda: (OUT / "ui-server.log").read_text()[-2000:], proc.kill)
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _ask(client, message: str) -> tuple[str, str]:
    answer, sources = client.predict(message=message, api_name="/chat")
    return answer, sources


def test_answer_with_verified_sources_and_follow_up(server: str) -> None:
    from gradio_client import Client

    client = Client(server, verbose=False)
    answer, sources = _ask(client, "How does anastrozole differ from clomiphene?")
    assert "<mark>" in sources, (answer, sources)  # a verified quote highlighted in its passage
    assert "anastrozole-male-fertility.md" in sources
    assert "⚠️" not in answer
    follow, follow_sources = _ask(client, "Which one is first-line for secondary hypogonadism?")
    assert "Searched for: How does anastrozole differ from clomiphene?" in follow_sources
    assert "clomiphene" in follow.lower() or "clomid" in follow.lower(), follow


def test_sessions_do_not_share_history(server: str) -> None:
    from gradio_client import Client

    a, b = Client(server, verbose=False), Client(server, verbose=False)
    _ask(a, "What does hCG do in male infertility treatment?")
    _, sources_b = _ask(b, "What is usually combined with it?")
    assert "hCG do in male infertility" not in sources_b
    assert re.search(r"Searched for: What is usually combined with it\?", sources_b)


def test_errors_are_shown_in_the_chat(server: str) -> None:
    from gradio_client import Client

    answer, _ = _ask(Client(server, verbose=False), "x" * 5000)
    assert answer.startswith("⚠️") and "limit" in answer


def test_browser_shows_highlighted_source(server: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it with apt-get)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"playwright is not installed: {exc}")
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server)
        notice = page.get_by_text("not medical advice").first
        notice.wait_for(timeout=60_000)
        assert notice.is_visible()
        box = page.get_by_role("textbox").first
        box.fill("Which enzyme does anastrozole block?")
        box.press("Enter")
        page.wait_for_selector("#sources mark", timeout=300_000)
        page.screenshot(path=str(OUT / "ui-answer.png"), full_page=True)
        assert "aromatase" in page.inner_text("#sources").lower()
        # a visitor sees no maintainer settings; a thumbs-down with a comment reaches the feedback database
        assert page.get_by_text("Maintainer settings").count() == 0
        page.get_by_role("button", name="Dislike").last.click()
        comment = page.get_by_label("What was wrong? (optional)")
        comment.wait_for(timeout=30_000)
        comment.fill("the answer should name the cells")
        comment.press("Enter")
        page.get_by_text("your comment was added").wait_for(timeout=30_000)
        page.screenshot(path=str(OUT / "ui-feedback.png"), full_page=True)
        # the conversation is kept in the browser: after a reload it is listed and reopens with its answer
        page.reload()
        page.get_by_text("Which enzyme does anastrozole block?").first.click(timeout=60_000)
        page.get_by_text("aromatase", exact=False).first.wait_for(timeout=30_000)
        page.screenshot(path=str(OUT / "ui-reloaded.png"), full_page=True)
        browser.close()
    from assistant.feedback import FeedbackStore

    rows = FeedbackStore(FEEDBACK_DB).rows(rating=-1)
    assert any(r["comment"] == "the answer should name the cells" and "aromatase" in r["answer"].lower()
               and r["question"] == "Which enzyme does anastrozole block?" for r in rows), rows
    assert (OUT / "ui-answer.png").stat().st_size > 10_000


def test_a_visitor_cannot_reach_the_maintainer_settings(server: str) -> None:
    """Without a login or --maintainer, the page shows no prompt/passages controls and the API takes only the
    message: a visitor cannot switch the prompt version through either."""
    from gradio_client import Client

    api = Client(server, verbose=False).view_api(return_format="dict", print_info=False)
    params = [p["parameter_name"] for p in api["named_endpoints"]["/chat"]["parameters"]]
    assert params == ["message"], params
    import urllib.request

    page = urllib.request.urlopen(f"{server}/config", timeout=30).read().decode()
    assert "Maintainer settings" not in page and "Prompt version" not in page


def test_a_rated_answer_keeps_the_conversation_before_it() -> None:
    from assistant.ui import rated_turn

    history = [{"role": "user", "content": "What is hCG?"},
               {"role": "assistant", "content": [{"type": "text", "text": "It acts like LH.\n> [1] “q”"}]},
               {"role": "user", "content": "And FSH?"},
               {"role": "assistant", "content": "It acts on Sertoli cells."}]
    assert rated_turn(history, 3) == ("And FSH?", "It acts on Sertoli cells.", [("What is hCG?", "It acts like LH.")])
    assert rated_turn(history, 1) == ("What is hCG?", "It acts like LH.\n> [1] “q”", [])
    assert rated_turn(history, 2) is None and rated_turn(history, 9) is None


def test_maintainer_settings_need_a_login_or_a_local_flag() -> None:
    from assistant.ui import is_maintainer_page

    assert not is_maintainer_page(Settings())
    assert is_maintainer_page(Settings(ui_maintainer=True))
    assert not is_maintainer_page(Settings(ui_maintainer=True, ui_host="0.0.0.0"))
    assert is_maintainer_page(Settings(ui_auth="admin:secret", ui_host="0.0.0.0"))


def test_feedback_through_the_api_lands_in_the_database(server: str) -> None:
    from gradio_client import Client

    from assistant.feedback import FeedbackStore

    client = Client(server, verbose=False)
    answer, _ = _ask(client, "Which enzyme does anastrozole block?")
    result = client.predict(question="Which enzyme does anastrozole block?", answer=answer, rating=-1,
                            comment="missing the dose", api_name="/feedback")
    assert result.startswith("recorded #"), result
    assert client.predict(question="", answer=answer, rating=-1, comment="", api_name="/feedback").startswith("⚠️")
    rows = FeedbackStore(FEEDBACK_DB).rows(rating=-1)
    row = next(r for r in rows if r["comment"] == "missing the dose")
    assert row["answer"] == answer and row["prompt"] and len(row["model"]) == 64 and row["corpus"]
