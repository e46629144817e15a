"""The Gradio chat page: streaming answers, a sources panel with highlighted quotes, the Library and
Evaluations tabs. What the page's events do is :mod:`assistant.chat_app`; a chat's turns as data,
:mod:`assistant.chat_turns`.
"""

from __future__ import annotations

import logging
import time

import gradio as gr

from assistant.chat_app import ChatApp
from assistant.library import COLUMNS
from assistant.prompts import available
from assistant.render import CSS, HEAD, NOTICE, sources_html
from assistant.settings import Settings

log = logging.getLogger(__name__)

EXAMPLES = [
    "How does anastrozole differ from clomiphene?",
    "Which men are most likely to respond to anastrozole?",
    "What does hCG do in male infertility treatment?",
    "What is in a typical post-TRT protocol?",
]


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
