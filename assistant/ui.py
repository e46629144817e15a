"""The Gradio chat page: streaming answers, a sources panel with highlighted quotes.

History lives in each browser session's chat state (and in each gradio_client
session), never in the server process, so two users never share a
conversation. Next to the chat's messages the session keeps each answered turn
as data (:class:`ShownTurn`, a ``gr.State``): follow-ups and feedback rows are
built from it, not read back out of the rendered Markdown. The model is loaded
once at start-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import gradio as gr

from assistant.chain import AnswerChain, build_chain
from assistant.library import COLUMNS
from assistant.llm import ModelError
from assistant.prompts import PromptError, available
from assistant.render import (
    CSS,
    HEAD,
    NOTICE,
    chat_markdown,
    chat_prose,
    export_markdown,
    plain,
    sources_html,
    streaming_view,
)
from assistant.schema import Answer, QuestionError, Turn
from assistant.settings import Settings
from assistant.store import StoreError

log = logging.getLogger(__name__)

EXAMPLES = [
    "How does anastrozole differ from clomiphene?",
    "Which men are most likely to respond to anastrozole?",
    "What does hCG do in male infertility treatment?",
    "What is in a typical post-TRT protocol?",
]


def _text(content) -> str:
    """A message's text: Gradio hands content over as a string, a {"type": "text", "text": ...} part, or a
    list of parts, depending on the event (ChatInterface's history vs the Chatbot's own value in Gradio 6)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list | tuple):
        return "".join(_text(part) for part in content)
    return ""


@dataclass(frozen=True)
class ShownTurn:
    """One question this session answered, as data: kept in the session's ``gr.State`` next to the chat.

    Why: a follow-up needs the earlier answer's words and a feedback row its verified quotes; taking them
    from the :class:`Answer` avoids parsing them back out of the chat's Markdown (links, quote lines), which
    breaks whenever the rendering changes. ``shown`` is the chat message itself: Gradio's retry, undo, edit
    and saved conversations change the chat without this state, so a turn is found by its message, not by
    its position.
    """

    question: str  # as the visitor typed it
    shown: str  # the chat Markdown of the answer
    turn: Turn  # what a follow-up is asked with
    citations: tuple[dict, ...] = ()  # the verified quotes the chat showed: {"n", "quote"}

    @classmethod
    def of(cls, question: str, answer: Answer) -> ShownTurn:
        quotes = tuple({"n": c.n, "quote": c.quote} for c in answer.citations if c.quote and c.verified)
        return cls(question, chat_markdown(answer), Turn(question=question, answer=chat_prose(answer)), quotes)


def _kept(kept: Sequence[ShownTurn], question: str, shown: str) -> ShownTurn | None:
    return next((k for k in kept if k.question == question and k.shown == shown), None)


def message_turn(question: str, shown: str) -> Turn:
    """A turn the session has no data for (a conversation reopened from the browser's saved history, an error
    message), read from its chat messages: links back to [n], quote lines left out, as the chat shows it."""
    return Turn(question=plain(question), answer=plain(shown).split("\n> ")[0].strip())


def history_turns(history: list[dict], kept: Sequence[ShownTurn] = ()) -> list[Turn]:
    """The chat's answered turns for the chain: the session's kept turns; the messages themselves only for a
    turn the session did not answer."""
    turns = []
    for question, shown in conversation(history):
        k = _kept(kept, question, shown)
        turns.append(k.turn if k else message_turn(question, shown))
    return [t for t in turns if t.answer]


class Rated(NamedTuple):
    """What a thumb on an answer records."""

    question: str
    answer: str  # as the chat showed it, links back to [n]
    earlier: list[tuple[str, str]]  # the completed turns before the question
    citations: tuple[dict, ...] = ()  # the verified quotes; none for a turn the session has no data for


def rated_turn(history: list[dict], i: int, kept: Sequence[ShownTurn] = ()) -> Rated | None:
    """The answer at ``history[i]`` with its question, the turns before it and its quotes (from the session's
    kept turns); None when ``i`` is not an answer."""
    msgs = history or []
    if not (0 <= i < len(msgs)) or msgs[i].get("role") != "assistant":
        return None
    question = next((_text(m.get("content")) for m in reversed(msgs[:i]) if m.get("role") == "user"), "")
    shown = _text(msgs[i].get("content"))
    earlier = [(t.question, t.answer) for t in history_turns(msgs[:i], kept)]  # the question has no answer yet
    k = _kept(kept, question, shown)
    return Rated(question, plain(shown), earlier, k.citations if k else ())


def conversation(history: list[dict]) -> list[tuple[str, str]]:
    """(question, answer as shown) pairs of a chat, for export; an unanswered last question is left out."""
    pairs: list[tuple[str, str]] = []
    question = None
    for msg in history or []:
        text = _text(msg.get("content"))
        if msg.get("role") == "user":
            question = text
        elif msg.get("role") == "assistant" and question is not None:
            pairs.append((question, text))
            question = None
    return pairs


class ChatApp:
    """Keeps one chain per (prompt, top_k) so maintainers can switch prompts live."""

    def __init__(self, settings: Settings) -> None:
        from assistant.feedback import FeedbackStore

        self.settings = settings
        self._chains: dict[tuple[str, int], AnswerChain] = {}
        self.base = self.chain(settings.answer.prompt, settings.retrieval.top_k)
        self.feedback = FeedbackStore(settings.feedback_path)
        self._fingerprints: tuple[str, str] | None = None

    def fingerprints(self) -> tuple[str, str]:
        """(model, corpus as ingested): what a feedback row needs to be reproduced later."""
        if self._fingerprints is None:
            from assistant.feedback import corpus_fingerprint
            from assistant.llm import model_fingerprint

            manifest = self.base.retriever.store.manifest()
            self._fingerprints = (model_fingerprint(self.settings),
                                  corpus_fingerprint({k: v.sha256 for k, v in manifest.items()}))
        return self._fingerprints

    def record(self, question: str, answer: str, rating: int, comment: str = "",
               history: list[tuple[str, str]] | None = None, citations: Sequence[dict] = ()) -> int:
        from assistant.feedback import Feedback

        model, corpus = self.fingerprints()
        return self.feedback.add(Feedback(
            rating=rating, question=question, answer=answer, comment=comment, history=tuple(history or ()),
            citations=tuple(citations), prompt=self.settings.answer.prompt, model=model, corpus=corpus))

    def api_feedback(self, question: str, answer: str, rating: int, comment: str = "") -> str:
        """The API's feedback endpoint: +1 or -1 on an answer, with an optional comment.

        The caller hands over the answer's text only (an endpoint made with ``gr.api`` has no session state),
        so the row keeps that text, its quote lines included, and no separate citations.
        """
        from assistant.feedback import FeedbackError

        try:
            return f"recorded #{self.record(question, answer, int(rating), comment)}"
        except (FeedbackError, ValueError) as exc:
            return f"⚠️ {exc}"

    def on_like(self, history: list[dict], kept: list[ShownTurn], data: gr.LikeData) -> tuple[int, str, dict]:
        """A thumb on an answer in the page: stored at once; a comment may follow."""
        turn = rated_turn(history, data.index if isinstance(data.index, int) else data.index[0], kept or [])
        if turn is None:
            return -1, "", gr.update(visible=False)
        rating = 1 if data.liked is True else -1
        row = self.record(turn.question, turn.answer, rating, "", turn.earlier, turn.citations)
        note = "Thanks: recorded as helpful." if rating > 0 else "Thanks: recorded as wrong. What was wrong?"
        return row, note, gr.update(visible=rating < 0, value="")

    def on_comment(self, row: int, comment: str) -> tuple[str, dict]:
        if row < 0 or not comment.strip():
            return "", gr.update()
        self.feedback.comment(row, comment)
        return "Thanks: your comment was added to the feedback.", gr.update(visible=False, value="")

    def export(self, history: list[dict]) -> dict:
        """The conversation as a Markdown file to download (its questions, answers, quotes and their places)."""
        import tempfile
        from datetime import UTC, datetime

        pairs = conversation(history)
        if not pairs:
            return gr.update(value=None, visible=False)
        now = datetime.now(UTC)
        text = export_markdown(pairs, now.strftime("%Y-%m-%d %H:%M UTC"))
        folder = Path(tempfile.mkdtemp(prefix="export-"))
        path = folder / f"conversation-{now.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(text, encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    def library_rows(self) -> list[list]:
        from assistant.library import documents

        return [d.row() for d in documents(self.base.retriever.store)]

    def library_add(self, files, progress=gr.Progress()) -> tuple[str, list[list], dict]:  # noqa: B008
        """Maintainer: add files to the corpus and ingest them, with ingest.py's checks and messages."""
        from assistant.library import LibraryError, add

        notes = []
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        for path in progress.tqdm(paths, desc="Ingesting"):
            name = Path(path).name
            try:
                report = add(self.settings, Path(path), name)
            except (LibraryError, StoreError, OSError) as exc:
                notes.append(f"⚠️ {exc}")
                continue
            notes += [f"⚠️ {src}: {why}" for src, why in report.failed] or [f"✓ {name}: {report.summary()}"]
        return "\n\n".join(notes) or "Choose a file first.", *self.library_view()

    def library_remove(self, source: str) -> tuple[str, list[list], dict]:
        from assistant.library import LibraryError, remove

        try:
            note = remove(self.settings, source) if source else "Choose a document first."
        except (LibraryError, StoreError) as exc:
            note = f"⚠️ {exc}"
        return note, *self.library_view()

    def library_reingest(self, progress=gr.Progress()) -> tuple[str, list[list], dict]:  # noqa: B008
        """Maintainer: bring the store in line with the corpus folder (changed files re-embedded, gone ones pruned)."""
        from assistant.ingestion import ingest

        progress(0.1, desc="Re-ingesting the corpus")
        try:
            report = ingest([Path(self.settings.store.corpus_dir)], self.settings, prune=True, progress=False)
            note = "\n\n".join([f"✓ {report.summary()}", *[f"⚠️ {s}: {why}" for s, why in report.failed]])
        except StoreError as exc:
            note = f"⚠️ {exc}"
        return note, *self.library_view()

    def library_view(self) -> tuple[list[list], dict]:
        """The Library table and the maintainer's document choices, from one read of the store."""
        rows = self.library_rows()
        return rows, gr.update(choices=[r[0] for r in rows], value=None)

    def chain(self, prompt: str, top_k: int) -> AnswerChain:
        key = (prompt, int(top_k))
        if key not in self._chains:
            s = self.settings.updated(answer={"prompt": prompt}, retrieval={"top_k": int(top_k)})
            base = self._chains.get((self.settings.answer.prompt, self.settings.retrieval.top_k))
            retriever = None
            if base is not None:
                retriever = base.retriever.with_settings(s)
            self._chains[key] = build_chain(s, retriever)
        return self._chains[key]

    def respond(
        self, message: str, history: list[dict], kept: list[ShownTurn] | None = None, prompt: str | None = None,
        top_k: float | None = None,
    ) -> Iterator[tuple[str, str, list[ShownTurn]]]:
        """Stream the answer to ``message``: (chat Markdown, sources panel, the session's kept turns).

        The kept turns are cut to the ones still in this chat (a retry, an undo or another conversation drops
        the rest), so the state stays as long as the conversation; the new answer's turn is added at the end.
        """
        pairs = set(conversation(history))
        current = [k for k in kept or [] if (k.question, k.shown) in pairs]
        try:
            chain = self.chain(prompt or self.settings.answer.prompt, int(top_k or self.settings.retrieval.top_k))
            raw = ""
            for event in chain.runnable.stream({"question": message, "history": history_turns(history, current)}):
                if isinstance(event, Answer):
                    turn = ShownTurn.of(message, event)
                    yield turn.shown, sources_html(event), [*current, turn]
                else:
                    raw += event
                    yield streaming_view(raw), sources_html(None), current
        except (QuestionError, StoreError, ModelError, PromptError) as exc:
            yield f"⚠️ {exc}", sources_html(None), current
        except Exception as exc:  # keep serving; the log has the traceback
            log.exception("answering failed")
            yield f"⚠️ Something went wrong while answering ({type(exc).__name__}). Please try again.", "", current


def is_maintainer_page(settings: Settings) -> bool:
    """Maintainer controls (prompt version, passages) appear only behind a login, or on a local server started
    with --maintainer: a visitor can neither see them nor send them through the API."""
    local = settings.ui.host in {"127.0.0.1", "localhost"}
    return bool(settings.ui.auth) or (settings.ui.maintainer and local)


def build_ui(app: ChatApp) -> gr.Blocks:
    s = app.settings
    maintainer = is_maintainer_page(s)
    with gr.Blocks(title="Male-fertility pharmacology assistant") as demo:
        gr.Markdown("## Male-fertility pharmacology assistant\nAnswers come only from the curated article and its "
                    "references, with the passages quoted.")
        gr.Markdown(NOTICE, elem_classes=["notice"])
        with gr.Tab("Chat", id="chat"), gr.Row():
            with gr.Column(scale=3, min_width=300):
                sources = gr.HTML(sources_html(None), render=False, elem_id="sources")
                prompt = gr.Dropdown(available(), value=s.answer.prompt, label="Prompt version", render=False)
                top_k = gr.Slider(1, 8, value=s.retrieval.top_k, step=1, label="Passages sent to the model",
                                  render=False)
                # the session's answered turns as data (a State: not an API parameter, not in the page)
                kept = gr.State([])
                extra: dict = {"additional_inputs": [kept]}
                if maintainer:
                    extra = {"additional_inputs": [kept, prompt, top_k],
                             "additional_inputs_accordion": gr.Accordion(label="Maintainer settings",
                                                                         open=False, render=False)}
                # the chat grows with its answers up to the viewport, then scrolls; the input stays below it
                chatbot = gr.Chatbot(height=None, min_height=320, max_height="calc(100vh - 240px)",
                                     elem_id="chatbot", render=False)
                chat = gr.ChatInterface(
                    app.respond,
                    api_name="chat",
                    chatbot=chatbot,
                    additional_outputs=[sources, kept],
                    examples=[[q, None, None, None] if maintainer else [q, None] for q in EXAMPLES],
                    **extra,
                    flagging_mode="never",
                    save_history=True,  # kept in the browser: a reload lists past conversations to reopen
                    fill_height=False,
                )
                with gr.Row():
                    new = gr.Button("New conversation", variant="secondary", elem_id="new-conversation")
                    export = gr.Button("Export conversation (Markdown)", variant="secondary",
                                       elem_id="export-conversation")
                exported = gr.File(label="Conversation as Markdown", visible=False, elem_id="exported",
                                   interactive=False)
                feedback_row = gr.State(-1)
                feedback_note = gr.Markdown("", elem_id="feedback-note")
                comment = gr.Textbox(label="What was wrong? (optional)", visible=False,
                                     elem_id="feedback-comment", submit_btn="Send")
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Sources")
                sources.render()
        with gr.Tab("Library", id="library") as library_tab:
            gr.Markdown("The documents the assistant answers from, as they are in the store.")
            # filled when the tab is opened (and so current after another process ingests), not at start-up:
            # listing pages through every chunk's metadata
            table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="library", wrap=True)
            if maintainer:
                gr.Markdown("#### Change the library (maintainer)")
                with gr.Row():
                    upload = gr.File(label=f"Add Markdown, text, PDF or HTML (up to {s.ui.upload_max_mb} MB)",
                                     file_count="multiple", type="filepath", elem_id="library-upload")
                    with gr.Column():
                        add_btn = gr.Button("Add and ingest", variant="primary", elem_id="library-add")
                        reingest = gr.Button("Re-ingest the corpus folder", elem_id="library-reingest")
                with gr.Row():
                    doc = gr.Dropdown(choices=[], value=None, label="Document", elem_id="library-doc")
                    remove = gr.Button("Remove from the library", variant="stop", elem_id="library-remove")
                library_note = gr.Markdown("", elem_id="library-note")
                add_btn.click(app.library_add, upload, [library_note, table, doc], api_visibility="private")
                remove.click(app.library_remove, doc, [library_note, table, doc], api_visibility="private")
                reingest.click(app.library_reingest, None, [library_note, table, doc], api_visibility="private")
        if maintainer:
            library_tab.select(app.library_view, None, [table, doc], api_visibility="private")
        else:
            library_tab.select(app.library_rows, None, table, api_visibility="private")
        if maintainer:
            _evaluations_tab(s)
        new.click(lambda: ([], [], [], sources_html(None), gr.update(value=None, visible=False)), None,
                  [chat.chatbot, chat.chatbot_state, kept, sources, exported], api_visibility="undocumented",
                  queue=False)
        export.click(app.export, [chat.chatbot], [exported], api_visibility="undocumented", queue=False)
        chat.chatbot.like(app.on_like, [chat.chatbot, kept], [feedback_row, feedback_note, comment],
                          api_visibility="undocumented", queue=False)
        comment.submit(app.on_comment, [feedback_row, comment], [feedback_note, comment],
                       api_visibility="undocumented", queue=False)
        gr.api(app.api_feedback, api_name="feedback")
    return demo


def _evaluations_tab(settings: Settings) -> None:
    """Maintainers: the evaluation runs, one run's report and chart, and two runs side by side."""
    try:
        from eval import browse
    except ImportError as exc:  # the eval package ships with the source tree, not necessarily with a deployment
        with gr.Tab("Evaluations", id="evaluations"):
            gr.Markdown(f"Evaluation runs are not available here ({exc}).")
        return
    folder = settings.ui.eval_runs_dir

    def choices() -> tuple[dict, dict, dict]:
        names = gr.update(choices=browse.runs(folder))
        return names, names, names

    with gr.Tab("Evaluations", id="evaluations") as tab:
        gr.Markdown("Runs of `python -m eval run`; compare two as `python -m eval compare` does.")
        with gr.Row():
            run = gr.Dropdown(choices=[], value=None, label="Run", elem_id="eval-run")
            refresh = gr.Button("Refresh the list", size="sm")
        with gr.Row():
            report = gr.Markdown("Choose a run.", elem_id="eval-report")
            chart = gr.Image(label="By category", type="filepath", interactive=False)
        gr.Markdown("#### Compare two runs")
        with gr.Row():
            baseline = gr.Dropdown(choices=[], value=None, label="Baseline (A)", elem_id="eval-a")
            candidate = gr.Dropdown(choices=[], value=None, label="Candidate (B)",
                                    elem_id="eval-b")
            go = gr.Button("Compare", variant="primary", elem_id="eval-compare")
        comparison = gr.Markdown("", elem_id="eval-comparison")
    run.change(lambda name: browse.show(name, folder), run, [report, chart], api_visibility="private")
    go.click(lambda a, b: browse.compare_runs(a, b, folder), [baseline, candidate], comparison,
             api_visibility="private")
    for event in (refresh.click, tab.select):
        event(choices, None, [run, baseline, candidate], api_visibility="private")


def serve(settings: Settings) -> int:
    app = ChatApp(settings)
    t0 = time.perf_counter()
    app.base.warm_up()
    log.info("model, embeddings and index loaded in %.1fs", time.perf_counter() - t0)
    demo = build_ui(app)
    demo.queue(default_concurrency_limit=settings.ui.concurrency)
    auth = None
    if settings.ui.auth:
        user, _, password = settings.ui.auth.partition(":")
        auth = (user, password)
    if settings.ui.host not in {"127.0.0.1", "localhost"} and auth is None:
        log.warning("serving on %s without a login (set ASSISTANT_UI__AUTH=user:password)", settings.ui.host)
    # Files: Gradio serves only its own assets and files it created (tests/test_network.py tries the
    # traversals). Its upload route is always mounted although the visitor's page has no file input, so
    # uploads are capped at 1 KB unless this is a maintainer's page (Library tab): a visitor cannot fill the
    # disk through it.
    demo.launch(
        server_name=settings.ui.host, server_port=settings.ui.port, auth=auth, share=False,
        show_error=False, css=CSS, head=HEAD, theme=gr.themes.Soft(), ssr_mode=False,
        max_file_size=f"{settings.ui.upload_max_mb}mb" if is_maintainer_page(settings) else "1kb",
    )
    return 0
