"""``python -m assistant ask|chat|serve``.

User errors (empty store, missing model, bad question) print one line and
exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from assistant.offline import go_offline

go_offline()

from assistant.logs import setup_logging  # noqa: E402
from assistant.settings import Settings, load_settings  # noqa: E402

log = logging.getLogger("assistant")


def format_answer(answer, show_timings: bool = True) -> str:
    """Plain-text rendering: the answer, then each numbered quote with its source."""
    from assistant.verify import FALLBACK_LEAD

    lines = [answer.answer if answer.abstained else (answer.prose or FALLBACK_LEAD)]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            where = f"{c.source} § {c.section}" if c.section else c.source
            refs = f" — cites {'; '.join(c.references)}" if c.references else ""
            if c.quote and c.verified:
                lines.append(f"  [{c.n}] “{c.quote}” ({where}, chars {c.start}-{c.end}){refs}")
            elif c.quote:
                lines.append(f"  [{c.n}] (unverified quote, not shown as a quote) ({where}){refs}")
            else:
                lines.append(f"  [{c.n}] {where}{refs}")
    removed = [c for c in answer.checks if not c.kept]
    if removed:
        lines.append("")
        lines.append("Set aside from the model's draft, and why:")
        lines += [f"  - {c.claim} ({c.reason})" for c in removed]
        lines += [f"  + put back: {c.claim} ({c.reason})" for c in answer.checks if c.kept and c.how == "restored"]
    if show_timings:
        t = answer.timings
        first = f", first token {t.first_token_s:.1f}s" if t.first_token_s is not None else ""
        lines.append(f"\n(retrieval {t.retrieval_s * 1000:.0f} ms{first}, total {t.total_s:.1f}s)")
    return "\n".join(lines)


def _chain(settings: Settings):
    from assistant.chain import build_chain

    return build_chain(settings)



def _user_errors() -> tuple[type[Exception], ...]:
    from assistant.llm import ModelError
    from assistant.prompts import PromptError
    from assistant.schema import QuestionError
    from assistant.store import StoreError

    return (StoreError, ModelError, QuestionError, PromptError)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.chain import ask, check_question
    from assistant.schema import QuestionError, Turn

    problems = []
    for question in args.questions:  # check every question before loading anything
        try:
            check_question(question, settings)
        except QuestionError as exc:
            problems.append((question, str(exc)))
    if problems:
        for question, message in problems:
            if args.json:
                # backslash-escape undecodable bytes so echoing the question cannot itself fail
                shown = question[:200].encode("utf-8", "backslashreplace").decode("utf-8")
                print(json.dumps({"question": shown, "error": message}, ensure_ascii=False))
            else:
                print(f"error: {message}", file=sys.stderr)
        return 2
    chain = _chain(settings)
    chain.warm_up()
    history: list[Turn] = []
    for question in args.questions:
        answer = ask(chain, question, history)
        history.append(Turn(question=answer.question, answer=answer.answer))
        if args.json:
            print(json.dumps(answer.public(), ensure_ascii=False), flush=True)
        else:
            if len(args.questions) > 1:
                print(f"Q: {answer.question}")
            print(format_answer(answer))
            print()
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.llm import ModelError
    from assistant.schema import Answer, QuestionError, Turn
    from assistant.store import StoreError

    chain = _chain(settings)
    chain.warm_up()
    history: list[Turn] = []
    print("Ask about male-fertility medicines (answers come only from the corpus; not medical advice).")
    print("Empty line or Ctrl-D to quit; /new starts a new conversation.")
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        except UnicodeDecodeError:
            print("error: that line is not valid text (UTF-8); please retype it")
            continue
        if not question:
            return 0
        if question == "/new":
            history.clear()
            print("(new conversation)")
            continue
        try:
            final: Answer | None = None
            for event in chain.runnable.stream({"question": question, "history": history}):
                if isinstance(event, Answer):
                    final = event
                else:
                    print(event, end="", flush=True)
        except QuestionError as exc:
            print(f"error: {exc}")
            continue
        except (StoreError, ModelError) as exc:  # a server went away: it may be back for the next question
            print(f"\nerror: {exc}")
            continue
        assert final is not None
        print("\n\n" + format_answer(final))
        history.append(Turn(question=final.question, answer=final.answer))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.ui import serve

    return serve(settings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant", description="Source-grounded assistant.")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--prompt", help="prompt version (file in assistant/prompts/)")
    common.add_argument("--store", help="store folder")
    common.add_argument("--top-k", type=int, help="passages sent to the model")
    p_ask = sub.add_parser("ask", parents=[common], help="answer questions (several = one conversation)")
    p_ask.add_argument("--json", action="store_true", help="one JSON object per question per line")
    p_ask.add_argument("questions", nargs="+")
    sub.add_parser("chat", parents=[common], help="interactive conversation")
    p_serve = sub.add_parser("serve", parents=[common], help="start the web UI")
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    p_serve.add_argument("--maintainer", action="store_true",
                         help="show the maintainer settings (127.0.0.1 only; with ASSISTANT_UI__AUTH, after login)")
    args = parser.parse_args(argv)

    from pydantic import ValidationError

    try:
        settings = load_settings(
            answer={"prompt": args.prompt}, store={"dir": args.store}, retrieval={"top_k": args.top_k},
            ui={"host": getattr(args, "host", None), "port": getattr(args, "port", None),
                "maintainer": getattr(args, "maintainer", None) or None},
        )
    except ValidationError as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    if settings.log_level != "DEBUG":
        logging.getLogger("assistant").setLevel(logging.WARNING if args.command != "serve" else logging.INFO)
    handlers = {"ask": cmd_ask, "chat": cmd_chat, "serve": cmd_serve}
    try:
        return handlers[args.command](args, settings)
    except _user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
