"""The Gradio chat page: streaming answers, a sources panel with highlighted quotes.

History lives in each browser session's chat state (and in each gradio_client
session), never in the server process, so two users never share a
conversation. The model is loaded once at start-up.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import gradio as gr

from assistant.chain import AnswerChain, build_chain
from assistant.llm import ModelError
from assistant.prompts import PromptError, available
from assistant.render import CSS, NOTICE, chat_markdown, sources_html, streaming_view
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


def history_turns(history: list[dict]) -> list[Turn]:
    """Rebuild (question, answer) turns from Gradio's messages-format history."""
    turns: list[Turn] = []
    for msg in history or []:
        text = _text(msg.get("content"))
        if msg.get("role") == "user":
            turns.append(Turn(question=text))
        elif msg.get("role") == "assistant" and turns and not turns[-1].answer:
            turns[-1] = Turn(question=turns[-1].question, answer=text.split("\n> ")[0])
    return [t for t in turns if t.answer]


def rated_turn(history: list[dict], i: int) -> tuple[str, str, list[tuple[str, str]]] | None:
    """The answer at ``history[i]``, the question it answers and the completed turns before that question;
    None when ``i`` is not an answer."""
    msgs = history or []
    if not (0 <= i < len(msgs)) or msgs[i].get("role") != "assistant":
        return None
    question = next((_text(m.get("content")) for m in reversed(msgs[:i]) if m.get("role") == "user"), "")
    earlier = [(t.question, t.answer) for t in history_turns(msgs[:i])]  # the question itself has no answer yet
    return question, _text(msgs[i].get("content")), earlier


class ChatApp:
    """Keeps one chain per (prompt, top_k) so maintainers can switch prompts live."""

    def __init__(self, settings: Settings) -> None:
        from assistant.feedback import FeedbackStore

        self.settings = settings
        self._chains: dict[tuple[str, int], AnswerChain] = {}
        self.base = self.chain(settings.prompt, settings.top_k)
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
               history: list[tuple[str, str]] | None = None) -> int:
        from assistant.feedback import Feedback

        model, corpus = self.fingerprints()
        quotes = [{"n": int(n), "quote": q} for n, q in re.findall(r"^> \[(\d+)\] “(.*)”$", answer, re.M)]
        return self.feedback.add(Feedback(
            rating=rating, question=question, answer=answer, comment=comment, history=tuple(history or ()),
            citations=tuple(quotes), prompt=self.settings.prompt, model=model, corpus=corpus))

    def api_feedback(self, question: str, answer: str, rating: int, comment: str = "") -> str:
        """The API's feedback endpoint: +1 or -1 on an answer, with an optional comment."""
        from assistant.feedback import FeedbackError

        try:
            return f"recorded #{self.record(question, answer, int(rating), comment)}"
        except (FeedbackError, ValueError) as exc:
            return f"⚠️ {exc}"

    def on_like(self, history: list[dict], data: gr.LikeData) -> tuple[int, str, dict]:
        """A thumb on an answer in the page: stored at once; a comment may follow."""
        turn = rated_turn(history, data.index if isinstance(data.index, int) else data.index[0])
        if turn is None:
            return -1, "", gr.update(visible=False)
        question, answer, earlier = turn
        rating = 1 if data.liked is True else -1
        row = self.record(question, answer, rating, "", earlier)
        note = "Thanks: recorded as helpful." if rating > 0 else "Thanks: recorded as wrong. What was wrong?"
        return row, note, gr.update(visible=rating < 0, value="")

    def on_comment(self, row: int, comment: str) -> tuple[str, dict]:
        if row < 0 or not comment.strip():
            return "", gr.update()
        self.feedback.comment(row, comment)
        return "Thanks: your comment was added to the feedback.", gr.update(visible=False, value="")

    def chain(self, prompt: str, top_k: int) -> AnswerChain:
        key = (prompt, int(top_k))
        if key not in self._chains:
            s = self.settings.model_copy(update={"prompt": prompt, "top_k": int(top_k)})
            base = self._chains.get((self.settings.prompt, self.settings.top_k))
            retriever = None
            if base is not None:
                retriever = base.retriever.model_copy(update={"settings": s})
            self._chains[key] = build_chain(s, retriever)
        return self._chains[key]

    def respond(
        self, message: str, history: list[dict], prompt: str | None = None, top_k: float | None = None
    ) -> Iterator[tuple[str, str]]:
        try:
            chain = self.chain(prompt or self.settings.prompt, int(top_k or self.settings.top_k))
            raw = ""
            for event in chain.runnable.stream({"question": message, "history": history_turns(history)}):
                if isinstance(event, Answer):
                    yield chat_markdown(event), sources_html(event)
                else:
                    raw += event
                    yield streaming_view(raw), sources_html(None)
        except (QuestionError, StoreError, ModelError, PromptError) as exc:
            yield f"⚠️ {exc}", sources_html(None)
        except Exception as exc:  # keep serving; the log has the traceback
            log.exception("answering failed")
            yield f"⚠️ Something went wrong while answering ({type(exc).__name__}). Please try again.", ""


def is_maintainer_page(settings: Settings) -> bool:
    """Maintainer controls (prompt version, passages) appear only behind a login, or on a local server started
    with --maintainer: a visitor can neither see them nor send them through the API."""
    local = settings.ui_host in {"127.0.0.1", "localhost"}
    return bool(settings.ui_auth) or (settings.ui_maintainer and local)


def build_ui(app: ChatApp) -> gr.Blocks:
    s = app.settings
    maintainer = is_maintainer_page(s)
    with gr.Blocks(title="Male-fertility pharmacology assistant") as demo:
        gr.Markdown("## Male-fertility pharmacology assistant\nAnswers come only from the curated article and its "
                    "references, with the passages quoted.")
        gr.Markdown(NOTICE, elem_classes=["notice"])
        with gr.Row():
            with gr.Column(scale=3):
                sources = gr.HTML(sources_html(None), render=False, elem_id="sources")
                prompt = gr.Dropdown(available(), value=s.prompt, label="Prompt version", render=False)
                top_k = gr.Slider(1, 8, value=s.top_k, step=1, label="Passages sent to the model", render=False)
                extra: dict = {}
                if maintainer:
                    extra = {"additional_inputs": [prompt, top_k],
                             "additional_inputs_accordion": gr.Accordion(label="Maintainer settings", open=False,
                                                                         render=False)}
                chat = gr.ChatInterface(
                    app.respond,
                    api_name="chat",
                    additional_outputs=[sources],
                    examples=[[q, None, None] if maintainer else [q] for q in EXAMPLES],
                    **extra,
                    flagging_mode="never",
                    save_history=True,  # kept in the browser: a reload lists past conversations to reopen
                    fill_height=False,
                )
                new = gr.Button("New conversation", variant="secondary", elem_id="new-conversation")
                feedback_row = gr.State(-1)
                feedback_note = gr.Markdown("", elem_id="feedback-note")
                comment = gr.Textbox(label="What was wrong? (optional)", visible=False, elem_id="feedback-comment",
                                     submit_btn="Send")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources.render()
        new.click(lambda: ([], [], sources_html(None)), None, [chat.chatbot, chat.chatbot_state, sources],
                  api_visibility="undocumented", queue=False)
        chat.chatbot.like(app.on_like, [chat.chatbot], [feedback_row, feedback_note, comment],
                          api_visibility="undocumented", queue=False)
        comment.submit(app.on_comment, [feedback_row, comment], [feedback_note, comment],
                       api_visibility="undocumented", queue=False)
        gr.api(app.api_feedback, api_name="feedback")
    return demo


def serve(settings: Settings) -> int:
    app = ChatApp(settings)
    t0 = time.perf_counter()
    app.base.warm_up()
    log.info("model, embeddings and index loaded in %.1fs", time.perf_counter() - t0)
    demo = build_ui(app)
    demo.queue(default_concurrency_limit=settings.ui_concurrency)
    auth = None
    if settings.ui_auth:
        user, _, password = settings.ui_auth.partition(":")
        auth = (user, password)
    if settings.ui_host not in {"127.0.0.1", "localhost"} and auth is None:
        log.warning("serving on %s without a login (set ASSISTANT_UI_AUTH=user:password)", settings.ui_host)
    # Files: Gradio serves only its own assets and files it created (tests/test_faults.py tries the
    # traversals). Its upload route is always mounted although the chat has no file input, so uploads are
    # capped at 1 KB: a visitor cannot fill the disk through it.
    demo.launch(
        server_name=settings.ui_host, server_port=settings.ui_port, auth=auth, share=False,
        show_error=False, css=CSS, theme=gr.themes.Soft(), ssr_mode=False, max_file_size="1kb",
    )
    return 0
