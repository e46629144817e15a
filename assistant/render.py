"""Turn an :class:`Answer` into what people read: chat Markdown and the sources panel.

Only verified quotes are ever highlighted or shown in quotation marks; a quote
the model did not copy verbatim is labelled as such.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from assistant.quotes import CITATION, parse_answer
from assistant.schema import Answer
from assistant.verify import FALLBACK_LEAD

NOTICE = (
    "This assistant explains what its sources say about male-fertility medicines. "
    "It is **not medical advice**: ask a clinician about your own treatment."
)


def streaming_view(raw: str) -> str:
    """What to show while tokens arrive: the answer part once it starts, the quotes before."""
    parsed = parse_answer(raw)
    if "Answer:" in raw or ("Quotes:" in raw and raw.index("Quotes:") > 0):
        return parsed.answer or "…"
    if raw.lstrip().startswith("Quotes:"):
        n = len(parsed.quotes)
        return f"_Reading the sources… ({n} quote{'s' if n != 1 else ''} found)_"
    return raw


_CITED = re.compile(CITATION.pattern + r"(?!\]|\()")  # not one already made a link
_LINKED = re.compile(r"\[\[(\d+)\]\]\(#source-\d+(?: \"[^\"]*\")?\)")


def link_citations(text: str, titles: dict[int, str]) -> str:
    """Each [n] as a link to passage n in the sources panel; hovering shows the sentence quoted from it.

    Why links: a reader checks a claim by going from its [n] to the passage, not by scanning a list. The
    page's script (:data:`HEAD`) scrolls the panel to the passage and flashes it instead of following the link.
    """
    def one(n: int) -> str:
        title = titles.get(n, "").replace('"', "'").replace("\n", " ")
        hover = f' "{title}"' if title else ""
        return f"[[{n}]](#source-{n}{hover})"

    def sub(m: re.Match[str]) -> str:
        return "".join(one(int(x)) for x in m.group(1).split(","))

    return _CITED.sub(sub, text)


def plain(markdown: str) -> str:
    """The chat Markdown with citation links back to plain [n]: for an export or a feedback row, which are read
    outside the page, and for a conversation reopened from the browser, which only has its messages."""
    return _LINKED.sub(lambda m: f"[{m.group(1)}]", markdown)


def chat_prose(answer: Answer) -> str:
    """The answer's own words as the chat shows them, without its quote lines: what a follow-up is asked with.

    Why not ``answer.prose``: follow-ups have always been asked with the words the reader saw (grouped
    citations split as the chat links them, "[2, 1]" read as "[2][1]"; a quotes-only answer under its lead-in;
    the notes on removed claims when no quote follows), and the earlier answer's first sentence is in the
    model's prompt: the same words keep the same answers.
    """
    if answer.abstained:
        return answer.answer.strip()
    notes = [] if any(c.quote for c in answer.citations) else removed_notes(answer)
    text = "\n".join([answer.prose or FALLBACK_LEAD, *notes])
    return _CITED.sub(lambda m: "".join(f"[{int(x)}]" for x in m.group(1).split(",")), text).strip()


def quote_line(c) -> str:
    """One quote as the chat shows it: its passage number, the table cell it is from, the words, where, and
    the reference the passage cites (so an exported conversation keeps its sources)."""
    label = f"{c.label}: " if c.label else ""
    where = f" — {c.section or c.source}, characters {c.start}–{c.end}" if c.start is not None else ""
    cites = "; ".join(r.split(": “")[0] for r in c.references)  # 'Lundy et al., 2023' of its reference label
    if where and cites:
        where += f"; cites {cites}"
    return f"> [{c.n}] {label}“{c.quote}”{where}"


def chat_markdown(answer: Answer) -> str:
    if answer.abstained:
        return answer.answer
    lines = [answer.prose or FALLBACK_LEAD]
    quotes = [c for c in answer.citations if c.quote]
    if quotes:
        lines.append("")
        for c in quotes:
            if c.verified:
                lines.append(quote_line(c))
            else:
                lines.append(f"> [{c.n}] _(the model's quote did not match the source and is not shown)_")
    lines += removed_notes(answer)
    titles: dict[int, str] = {}
    for c in quotes:
        if c.verified and c.n not in titles:
            titles[c.n] = c.quote or ""
    return link_citations("\n".join(lines), titles)


def export_markdown(turns: Sequence[tuple[str, str]], when: str) -> str:
    """A conversation as a Markdown file: each question, its answer with the quotes and where they are from."""
    out = ["# Conversation with the male-fertility pharmacology assistant", "",
           f"Exported {when}. Answers come only from the curated article and its references; not medical advice.",
           ""]
    for i, (question, answer) in enumerate(turns, 1):
        out += [f"## {i}. {question.strip()}", "", plain(answer).strip(), ""]
    return "\n".join(out)


def removed_notes(answer: Answer) -> list[str]:
    """What the answer-time check took out of the model's draft, and why: the reader may want to know."""
    removed = [c for c in answer.checks if not c.kept]
    if not removed:
        return []
    head = ("_None of the model's own wording held up against its sources, so the answer above is the sources' "
            "words. Set aside, and why:_" if answer.fell_back else "_Set aside from the model's draft, and why:_")
    restored = [f"- put back: {c.claim} — {c.reason}" for c in answer.checks if c.kept and c.how == "restored"]
    return ["", head, *[f"- ~~{c.claim}~~ — {c.reason}" for c in removed], *restored]


def _highlight(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for s, e in sorted(spans):
        if s < pos:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out)


def sources_html(answer: Answer | None) -> str:
    if answer is None:
        return "<div class='sources-empty'>Sources of the answer appear here.</div>"
    searched = f"<div class='query'>Searched for: {html.escape(answer.query)}</div>"
    if answer.abstained:
        return searched + "<div class='sources-empty'>No sources: the corpus does not answer this question.</div>"
    by_n = {c.n: c for c in answer.contexts}
    cards = []
    for n in sorted({c.n for c in answer.citations}):
        ctx = by_n.get(n)
        if ctx is None:
            continue
        cits = [c for c in answer.citations if c.n == n]
        spans = [(c.start - ctx.start, c.end - ctx.start) for c in cits if c.verified and c.start is not None]
        refs = sorted({r for c in cits for r in c.references})
        ref_html = "".join(f"<div class='ref'>Cites: {html.escape(r)}</div>" for r in refs)
        unverified = sum(1 for c in cits if c.quote and not c.verified)
        warn = (f"<div class='warn'>{unverified} quote(s) did not match this passage and are not highlighted.</div>"
                if unverified else "")
        cards.append(
            f"<div class='source' id='source-{n}' data-n='{n}'>"
            f"<div class='head'>[{n}] {html.escape(ctx.section or ctx.source)}</div>"
            f"<div class='file'>{html.escape(ctx.source)}, characters {ctx.start}–{ctx.end}</div>{ref_html}"
            f"<div class='passage'>{_highlight(ctx.text, spans)}</div>{warn}</div>"
        )
    if not cards:
        return searched + "<div class='sources-empty'>The answer cited no passage.</div>"
    return searched + "\n".join(cards)


CSS = """
.source {border:1px solid #ddd; border-radius:8px; padding:8px 10px; margin-bottom:8px;}
.source .head {font-weight:600;}
.source .file, .source .ref {font-size:0.85em; color:#666;}
.source mark {background:#ffe58a; padding:0 1px;}
.source .warn {font-size:0.85em; color:#a15c00;}
.sources-empty {color:#777; font-style:italic;}
.query {font-size:0.8em; color:#888; margin-bottom:6px;}
.notice {font-size:0.9em; color:#444; border-left:4px solid #e0a800; padding-left:8px;}
#sources {max-height: 78vh; overflow-y: auto;}
.source.flash {animation: flash 1.6s ease-out;}
@keyframes flash {0% {background:#ffe58a;} 100% {background:transparent;}}
.source .passage mark {transition: background 0.3s;}
"""

#: the page script: a click on a citation link scrolls the sources panel to that passage and flashes it
HEAD = """<script>
document.addEventListener("click", function (e) {
  const a = e.target.closest ? e.target.closest('a[href^="#source-"]') : null;
  if (!a) return;
  e.preventDefault();
  e.stopPropagation();
  const n = a.getAttribute("href").slice("#source-".length);
  const card = document.querySelector('#sources .source[data-n="' + n + '"]');
  if (!card) return;
  card.scrollIntoView({behavior: "smooth", block: "nearest"});
  card.classList.remove("flash");
  void card.offsetWidth;
  card.classList.add("flash");
}, true);
</script>"""
