"""The Gradio chat page: streaming answers, a sources panel with highlighted quotes.

History lives in each browser session's chat state (and in each gradio_client
session), never in the server process, so two users never share a
conversation. The model is loaded once at start-up.
"""

from __future__ import annotations

import logging
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


def history_turns(history: list[dict]) -> list[Turn]:
    """Rebuild (question, answer) turns from Gradio's messages-format history."""
    turns: list[Turn] = []
    for msg in history or []:
        content = msg.get("content")
        text = content if isinstance(content, str) else ""
        if msg.get("role") == "user":
            turns.append(Turn(question=text))
        elif msg.get("role") == "assistant" and turns and not turns[-1].answer:
            turns[-1] = Turn(question=turns[-1].question, answer=text.split("\n> ")[0])
    return [t for t in turns if t.answer]


class ChatApp:
    """Keeps one chain per (prompt, top_k) so maintainers can switch prompts live."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._chains: dict[tuple[str, int], AnswerChain] = {}
        self.base = self.chain(settings.prompt, settings.top_k)

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

    def respond(self, message: str, history: list[dict], prompt: str, top_k: float) -> Iterator[tuple[str, str]]:
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


def build_ui(app: ChatApp) -> gr.Blocks:
    s = app.settings
    with gr.Blocks(title="Male-fertility pharmacology assistant") as demo:
        gr.Markdown("## Male-fertility pharmacology assistant\nAnswers come only from the curated article and its "
                    "references, with the passages quoted.")
        gr.Markdown(NOTICE, elem_classes=["notice"])
        with gr.Row():
            with gr.Column(scale=3):
                sources = gr.HTML(sources_html(None), render=False, elem_id="sources")
                prompt = gr.Dropdown(available(), value=s.prompt, label="Prompt version", render=False)
                top_k = gr.Slider(1, 8, value=s.top_k, step=1, label="Passages sent to the model", render=False)
                chat = gr.ChatInterface(
                    app.respond,
                    api_name="chat",
                    additional_inputs=[prompt, top_k],
                    additional_inputs_accordion=gr.Accordion(label="Maintainer settings", open=False, render=False),
                    additional_outputs=[sources],
                    examples=[[q, None, None] for q in EXAMPLES],  # None: shown in the empty chat
                    flagging_mode="never",
                    save_history=False,
                    fill_height=False,
                )
                new = gr.Button("New conversation", variant="secondary", elem_id="new-conversation")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources.render()
        new.click(lambda: ([], [], sources_html(None)), None, [chat.chatbot, chat.chatbot_state, sources],
                  api_visibility="undocumented", queue=False)
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
