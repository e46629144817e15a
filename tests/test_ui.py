"""The chat page against a real server (real model, real corpus) on a free port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.schema import Turn
from assistant.settings import PROJECT_ROOT, Settings
from tests.support.servers import free_port, wait_for_port

pytestmark = [pytest.mark.llm, pytest.mark.server]
OUT = PROJECT_ROOT / "test-output"
FEEDBACK_DB = OUT / "ui-feedback.sqlite"


def _serve(store: Path, log_name: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    OUT.mkdir(exist_ok=True)
    log = (OUT / log_name).open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--store", str(store), *extra],
        cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    wait_for_port(proc, port, 300, lambda: (OUT / log_name).read_text()[-2000:], proc.kill)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def server(ingested_settings: Settings) -> Iterator[str]:
    OUT.mkdir(exist_ok=True)
    for leftover in OUT.glob("ui-feedback.sqlite*"):
        leftover.unlink()
    yield from _serve(ingested_settings.store.dir, "ui-server.log", env={"ASSISTANT_UI__FEEDBACK_DB": str(FEEDBACK_DB)})


@pytest.fixture(scope="module")
def maintainer_server(ingested_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A --maintainer page on its own copy of the store and corpus (its Library tab changes both)."""
    from tests.test_eval_compare import CASES_A, write_run

    root = tmp_path_factory.mktemp("maintainer")
    shutil.copytree(ingested_settings.store.dir, root / "chroma")
    shutil.copytree(ingested_settings.store.corpus_dir, root / "corpus")
    write_run(root / "runs" / "baseline-run", CASES_A, [])
    write_run(root / "runs" / "candidate-run", [dict(c, scores={**c["scores"], "hit@3": 0.0}) for c in CASES_A], [])
    env = {"ASSISTANT_STORE__CORPUS_DIR": str(root / "corpus"), "ASSISTANT_UI__EVAL_RUNS_DIR": str(root / "runs"),
           "ASSISTANT_UI__FEEDBACK_DB": str(root / "feedback.sqlite")}
    yield from _serve(root / "chroma", "ui-maintainer.log", "--maintainer", env=env)


def _browser(p):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it with apt-get)")
    return p.chromium.launch(
        executable_path=chromium,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", "--disable-quic"],
    )


def _wait_for_text(page, selector: str, text: str, timeout: int = 60_000) -> None:
    """Wait until the element's rendered text contains ``text`` (Gradio tables keep hidden copies of cells)."""
    page.wait_for_function("([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
                           arg=[selector, text], timeout=timeout)


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"playwright is not installed: {exc}")
    return sync_playwright()


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
    OUT.mkdir(exist_ok=True)
    with _playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
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
        # each [n] in the answer leads to its passage: a click scrolls the sources panel there and flashes it
        link = page.locator('#chatbot a[href^="#source-"]').first
        n = link.get_attribute("href").removeprefix("#source-")
        assert link.get_attribute("title")  # hovering shows the quoted sentence
        page.evaluate("document.querySelector('#sources').scrollTop = 0")
        link.click()
        card = page.locator(f'#sources .source[data-n="{n}"]')
        page.wait_for_function(f"""() => {{
            const c = document.querySelector('#sources .source[data-n="{n}"]');
            const p = document.querySelector('#sources').getBoundingClientRect();
            const r = c && c.getBoundingClientRect();
            return r && r.top >= p.top - 1 && r.bottom <= Math.max(p.bottom, r.top + p.height) + 1
                && c.classList.contains('flash');
        }}""", timeout=10_000)
        assert card.is_visible() and page.url.rstrip("/") == server.rstrip("/")  # not followed as a link
        # the conversation exports as Markdown with the quotes and where they are in the source
        page.locator("#export-conversation").click()
        with page.expect_download(timeout=30_000) as download:
            page.locator("#exported a").first.click()
        exported = Path(download.value.path()).read_text(encoding="utf-8")
        assert "## 1. Which enzyme does anastrozole block?" in exported and "not medical advice" in exported
        assert re.search(r"^> \[\d+\] .*“.+”.* — .+, characters \d+–\d+$", exported, re.M), exported
        assert "#source-" not in exported
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
        # a reopened conversation has no server state: its thumb is recorded from the chat's messages
        page.get_by_role("button", name="Dislike").last.click()
        page.get_by_text("recorded as wrong").wait_for(timeout=30_000)
        browser.close()
    from assistant.feedback import FeedbackStore

    rows = [r for r in FeedbackStore(FEEDBACK_DB).rows(rating=-1)
            if r["question"] == "Which enzyme does anastrozole block?" and "aromatase" in r["answer"].lower()]
    # the thumb in the live session takes the answer's quotes from the session's kept turns
    live = [r for r in rows if r["comment"] == "the answer should name the cells"]
    assert len(live) == 1 and live[0]["citations"], rows
    assert all(c["quote"] in live[0]["answer"] for c in live[0]["citations"])
    assert any(r["comment"] == "" and r["citations"] == [] and r["answer"] == live[0]["answer"] for r in rows), rows
    assert (OUT / "ui-answer.png").stat().st_size > 10_000


def test_phone_layout_and_library(server: str) -> None:
    """At 390 px the page fits its width and the input stays reachable; the Library tab lists the documents
    and offers a visitor no write action."""
    with _playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
        page.goto(server)
        page.get_by_text("not medical advice").first.wait_for(timeout=60_000)
        box = page.get_by_role("textbox").first
        box.scroll_into_view_if_needed()
        assert box.is_visible() and box.bounding_box()["width"] > 200
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(OUT / "ui-phone.png"), full_page=True)
        assert width <= 392, f"the page is {width}px wide on a 390px screen (see test-output/ui-phone.png)"
        page.get_by_role("tab", name="Library").click()
        _wait_for_text(page, "#library", "anastrozole-male-fertility.md")
        assert page.locator("#library-add").count() == 0 and page.locator("#library-remove").count() == 0
        assert page.get_by_role("tab", name="Evaluations").count() == 0
        browser.close()


def test_maintainer_adds_and_removes_a_document_and_compares_runs(maintainer_server: str, tmp_path: Path) -> None:
    note = tmp_path / "letrozole-note.md"
    note.write_text("# Letrozole note\n\nLetrozole is another aromatase inhibitor used off-label in men.\n")
    with _playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(maintainer_server)
        page.get_by_role("tab", name="Library").click(timeout=60_000)
        page.locator("#library-upload input[type=file]").set_input_files(str(note))
        page.locator("#library-add").click()
        page.locator("#library-note").get_by_text("letrozole-note.md: 1 added").wait_for(timeout=120_000)
        _wait_for_text(page, "#library", "letrozole-note.md")
        page.locator("#library-doc input").click()
        page.get_by_role("option", name="letrozole-note.md").click()
        page.locator("#library-remove").click()
        page.locator("#library-note").get_by_text("Removed letrozole-note.md").wait_for(timeout=60_000)
        page.wait_for_function("() => !document.querySelector('#library').innerText.includes('letrozole-note')",
                               timeout=30_000)
        page.screenshot(path=str(OUT / "ui-library.png"), full_page=True)
        page.get_by_role("tab", name="Evaluations").click()
        for elem, run in (("#eval-a", "baseline-run"), ("#eval-b", "candidate-run")):
            page.locator(f"{elem} input").click()
            page.locator(elem).get_by_role("option", name=run).click()
        page.locator("#eval-compare").click()
        page.locator("#eval-comparison").get_by_text("Run comparison").wait_for(timeout=60_000)
        assert "hit@3" in page.inner_text("#eval-comparison")
        page.screenshot(path=str(OUT / "ui-evaluations.png"), full_page=True)
        browser.close()


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
    # nor the library's write actions or the evaluations, through the page or any API endpoint
    for absent in ("library-add", "library-remove", "library-reingest", "eval-compare", "Evaluations"):
        assert absent not in page, absent
    assert set(api["named_endpoints"]) <= {"/chat", "/feedback"}, api["named_endpoints"].keys()


def test_a_rated_answer_keeps_the_conversation_before_it() -> None:
    from assistant.chat_turns import ShownTurn, rated_turn

    history = [{"role": "user", "content": "What is hCG?"},
               {"role": "assistant", "content": [{"type": "text", "text": "It acts like LH.\n> [1] “q”"}]},
               {"role": "user", "content": "And FSH?"},
               {"role": "assistant", "content": "It acts on Sertoli cells."}]
    # no kept turns (a conversation reopened from the browser): read from the messages, no citations
    assert rated_turn(history, 3) == ("And FSH?", "It acts on Sertoli cells.", [("What is hCG?", "It acts like LH.")],
                                      ())
    assert rated_turn(history, 1) == ("What is hCG?", "It acts like LH.\n> [1] “q”", [], ())
    assert rated_turn(history, 2) is None and rated_turn(history, 9) is None
    # kept turns: the earlier answer and the quotes come from the session's data, not from the Markdown
    kept = [ShownTurn("What is hCG?", "It acts like LH.\n> [1] “q”", Turn(question="What is hCG?", answer="Kept."),
                      ({"n": 1, "quote": "q"},)),
            ShownTurn("And FSH?", "It acts on Sertoli cells.", Turn(question="And FSH?", answer="x"),
                      ({"n": 2, "quote": "Sertoli"},))]
    rated = rated_turn(history, 3, kept)
    assert rated is not None and rated.earlier == [("What is hCG?", "Kept.")]
    assert rated.citations == ({"n": 2, "quote": "Sertoli"},)
    assert rated_turn(history, 1, kept).citations == ({"n": 1, "quote": "q"},)


def _answers() -> list:
    """Answers of every shape the chat renders: quotes with grouped citations and an unmatched quote, quotes
    alone under their lead-in, removed claims with no quote, and a refusal with the clinician pointer."""
    from assistant.schema import ClaimCheck
    from tests.test_render import _answer

    full = _answer()
    removed = [ClaimCheck(claim="It cures [2, 3] everything.", kept=False, how="attribution", reason="not so")]
    return [
        full,
        full.model_copy(update={"prose": "", "fell_back": True, "checks": removed}),
        full.model_copy(update={"citations": [], "checks": removed}),
        full.model_copy(update={"abstained": True, "citations": [], "prose": "",
                                "answer": "The sources do not cover this question. Please ask your clinician."}),
    ]


def test_kept_turns_give_the_chain_the_words_the_chat_showed() -> None:
    """A follow-up is asked with the same earlier answer whether it comes from the session's kept turn or, for a
    conversation reopened from the browser, from the chat's messages: the model's prompt, so its answers, do
    not depend on which."""
    from assistant.chat_turns import ShownTurn, history_turns, message_turn
    from assistant.render import chat_markdown

    for answer in _answers():
        kept = ShownTurn.of("Which enzyme?", answer)
        assert kept.shown == chat_markdown(answer)
        assert kept.turn == message_turn("Which enzyme?", kept.shown), kept.shown
        assert "#source-" not in kept.turn.answer and "> [" not in kept.turn.answer
        assert kept.citations == tuple({"n": c.n, "quote": c.quote} for c in answer.citations
                                       if c.quote and c.verified)
    assert ShownTurn.of("q", _answers()[0]).turn.answer == "Anastrozole blocks aromatase [1], not [2][1]."
    assert ShownTurn.of("q", _answers()[1]).turn.answer == "The sources say:"
    history = [{"role": "user", "content": "Which enzyme?"},
               {"role": "assistant", "content": [{"type": "text", "text": chat_markdown(_answers()[0])}]},
               {"role": "user", "content": "And FSH?"}, {"role": "assistant", "content": "It acts on Sertoli cells."}]
    marked = ShownTurn("Which enzyme?", chat_markdown(_answers()[0]), Turn(question="Which enzyme?", answer="Kept."))
    assert history_turns(history, [marked]) == [Turn(question="Which enzyme?", answer="Kept."),
                                                Turn(question="And FSH?", answer="It acts on Sertoli cells.")]
    assert history_turns(history)[0].answer == "Anastrozole blocks aromatase [1], not [2][1]."


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, retriever, ingested_settings: Settings):
    """A ChatApp whose chains answer with a scripted fake model (real retrieval): the page's flow, no LLM."""
    from assistant.chain import AnswerChain
    from assistant.chat_app import ChatApp
    from tests.test_chain import QUOTE, FakeScriptedChatModel

    fake = FakeScriptedChatModel(seen=[], responses=[
        f'Anastrozole inhibits the aromatase enzyme [1].\nQuotes:\n[1] "{QUOTE}"', "Clomiphene [1].",
        "Clomiphene [1].", "Clomiphene [1]."])
    monkeypatch.setattr("assistant.chat_app.build_chain", lambda s, r=None: AnswerChain(s, retriever, lambda: fake))
    return ChatApp(ingested_settings.updated(ui={"feedback_db": tmp_path / "feedback.sqlite"})), fake


def test_the_page_answers_follow_ups_and_records_feedback_from_its_kept_turns(fake_app) -> None:
    import dataclasses

    import gradio as gr

    from assistant.feedback import FeedbackStore
    from assistant.render import plain
    from tests.test_chain import QUOTE

    app, fake = fake_app
    question = "Which enzyme does anastrozole block?"
    *_, (shown, sources, kept) = app.respond(question, [], [])
    assert "<mark>" in sources and len(kept) == 1 and kept[0].shown == shown and kept[0].question == question
    assert kept[0].turn == Turn(question=question, answer="Anastrozole inhibits the aromatase enzyme [1].")
    assert any(c["quote"] == QUOTE for c in kept[0].citations) and all(c["quote"] in shown for c in kept[0].citations)
    # the browser hands the chat back as content parts; the follow-up is asked with the kept turn's words
    history = [{"role": "user", "content": [{"type": "text", "text": question}]},
               {"role": "assistant", "content": [{"type": "text", "text": shown}]}]
    marked = dataclasses.replace(kept[0], turn=Turn(question=question, answer="Aromatase is what the state says."))
    follow = "Which one is first-line for secondary hypogonadism?"
    *_, (_, _, after) = app.respond(follow, history, [marked])
    asked = fake.seen[-1][1].content
    assert "Earlier answer: Aromatase is what the state says." in asked and "Anastrozole inhibits" not in asked
    assert [k.question for k in after] == [question, follow] and after[0] is marked
    # a conversation reopened from the browser has no kept turns: its messages give the same earlier answer
    *_, (_, _, reopened) = app.respond(follow, history, [])
    assert "Earlier answer: Anastrozole inhibits the aromatase enzyme [1]." in fake.seen[-1][1].content
    assert [k.question for k in reopened] == [follow]
    # a new conversation (or a retry, an undo) drops the kept turns no longer in the chat
    *_, (_, _, fresh) = app.respond(follow, [], after)
    assert [k.question for k in fresh] == [follow]
    # a thumb on the answer: its quotes from the kept turn; none for a turn the session has no data for
    dislike = gr.LikeData(None, {"index": 1, "value": shown, "liked": False})
    row, note, _ = app.on_like(history, kept, dislike)
    assert row > 0 and "recorded as wrong" in note
    app.on_like(history, [], dislike)
    rows = FeedbackStore(app.settings.feedback_path).rows(rating=-1)
    assert [r["citations"] for r in rows] == [[dict(c) for c in kept[0].citations], []]
    assert all(r["answer"] == plain(shown) and r["question"] == question and r["history"] == [] for r in rows)


def test_maintainer_settings_need_a_login_or_a_local_flag() -> None:
    from assistant.ui import is_maintainer_page

    assert not is_maintainer_page(Settings())
    assert is_maintainer_page(Settings(ui={"maintainer": True}))
    assert not is_maintainer_page(Settings(ui={"maintainer": True, "host": "0.0.0.0"}))
    assert is_maintainer_page(Settings(ui={"auth": "admin:secret", "host": "0.0.0.0"}))


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


def test_a_maintainer_choice_of_top_k_gets_its_own_chain_on_the_shared_retriever(
    ingested_settings: Settings, tmp_path: Path
) -> None:
    """The maintainer's prompt/passages controls: a new chain whose retriever shares the store and index."""
    from assistant.chat_app import ChatApp

    app = ChatApp(ingested_settings.updated(ui={"feedback_db": tmp_path / "feedback.sqlite"}))
    other = app.chain(ingested_settings.answer.prompt, ingested_settings.retrieval.top_k + 2)
    assert other is not app.base and other.settings.retrieval.top_k == ingested_settings.retrieval.top_k + 2
    assert other.retriever.settings.top_k == ingested_settings.retrieval.top_k + 2
    # the visitors' chain is untouched
    assert app.base.retriever.settings.top_k == ingested_settings.retrieval.top_k
    assert other.retriever.store is app.base.retriever.store
    assert len(other.retriever.retrieve("How does anastrozole work?")) == ingested_settings.retrieval.top_k + 2
    assert app.chain(ingested_settings.answer.prompt, ingested_settings.retrieval.top_k + 2) is other
