"""A chat's turns as data: what follow-ups, thumbs and the export read of a conversation.

Next to the chat's messages the session keeps each answered turn as data (:class:`ShownTurn`, a
``gr.State``): follow-ups and feedback rows are built from it, not read back out of the rendered Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from assistant.render import chat_markdown, chat_prose, plain
from assistant.schema import Answer, Turn


def message_text(content) -> str:
    """A message's text: Gradio hands content over as a string, a {"type": "text", "text": ...} part, or a
    list of parts, depending on the event (ChatInterface's history vs the Chatbot's own value in Gradio 6)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list | tuple):
        return "".join(message_text(part) for part in content)
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
    question = next((message_text(m.get("content")) for m in reversed(msgs[:i]) if m.get("role") == "user"), "")
    shown = message_text(msgs[i].get("content"))
    earlier = [(t.question, t.answer) for t in history_turns(msgs[:i], kept)]  # the question has no answer yet
    k = _kept(kept, question, shown)
    return Rated(question, plain(shown), earlier, k.citations if k else ())


def conversation(history: list[dict]) -> list[tuple[str, str]]:
    """(question, answer as shown) pairs of a chat, for export; an unanswered last question is left out."""
    pairs: list[tuple[str, str]] = []
    question = None
    for msg in history or []:
        text = message_text(msg.get("content"))
        if msg.get("role") == "user":
            question = text
        elif msg.get("role") == "assistant" and question is not None:
            pairs.append((question, text))
            question = None
    return pairs
