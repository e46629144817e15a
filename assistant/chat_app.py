"""The chat page's handlers: answering, thumbs and comments, export, and the maintainer's library actions.

History lives in each browser session's chat state (and in each gradio_client session), never in the server
process, so two users never share a conversation; the model is loaded once at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import gradio as gr

from assistant.chain import AnswerChain, build_chain
from assistant.chat_turns import ShownTurn, conversation, history_turns, rated_turn
from assistant.llm import ModelError
from assistant.prompts import PromptError
from assistant.render import export_markdown, sources_html, streaming_view
from assistant.schema import Answer, QuestionError
from assistant.settings import Settings
from assistant.store import StoreError

log = logging.getLogger(__name__)


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
            from assistant.model_file import model_fingerprint

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
                retriever = base.retriever.with_settings(s.retrieval)
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
