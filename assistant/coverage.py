"""Put back, in the sources' words, the side of a comparison whose every claim the checks removed.

Why: for "How does anastrozole differ from clomiphene?" the model writes "Anastrozole works by competitively
binding to estrogen receptors ..., while Clomiphene directly stimulates LH and FSH production". The checks
remove the swapped half and keep the other, so the answer read "Clomiphene directly stimulates LH and FSH
production." and said nothing of anastrozole above the quote that does ("Unlike Anastrozole, which blocks
estrogen production, ..."). A question naming a thing the draft tried to describe, and got wrong, is owed
what the sources say of it: the first statement about it in the model's own verified quotes, either a
sentence whose main subject it is (the quote itself) or a relative clause hanging on it, read as a
sentence ("Anastrozole blocks estrogen production"): the quote's words, with the name the clause hangs on as
its subject, which is how :mod:`assistant.reading` reads that clause for the attribution check too.

Only when something of the model's prose stands: with nothing left, the quotes are the answer already.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.relations import CITE_MARK
from assistant.schema import ClaimCheck
from assistant.syntax import RELATIVE, SUBJECT, contrasted, parse

RESTORED = "restored"


def statements(text: str, reader) -> list[tuple[str, str]]:
    """(agent key, statement in the text's words) for each named term the text makes a statement about."""
    out: list[tuple[str, str]] = []
    doc = parse(text)
    for sent in doc.sents:
        subjects = [c for c in sent.root.children if c.dep_ in SUBJECT]
        # a subject that is a name itself, not "This medication" or "it" (the reader resolves those, but as a
        # sentence of the answer they would point at nothing); the sentence from the subject on, without a
        # list item's label ("Anastrozole (Optional) ∞ ...")
        if subjects and not contrasted(subjects[0]) and any(reader.token_term(x) for x in subjects[0].subtree):
            key = reader.key(subjects[0], None)
            if key and reader.is_named(key):
                out.append((key, doc[subjects[0].left_edge.i : sent.end].text.strip()))
        for t in sent:
            pronoun = [c for c in t.children if c.dep_ in SUBJECT and c.lower_ in RELATIVE]
            if t.dep_ != "relcl" or not pronoun or pronoun[0].i != t.left_edge.i or not reader.token_term(t.head):
                continue
            key = reader.key(t.head, None)
            if not key or not reader.is_named(key):
                continue
            said = doc[pronoun[0].i + 1 : t.right_edge.i + 1].text.strip(" ,;")
            name = doc[t.head.left_edge.i : t.head.i + 1].text
            if name.lower().startswith(("unlike ", "like ")):  # "Unlike Anastrozole": the name alone
                name = t.head.text
            out.append((key, f"{name[0].upper()}{name[1:]} {said}"))
    return out


def restore(
    question: str, checks: Sequence[ClaimCheck], quotes: Sequence[tuple[int, str]], reader
) -> list[tuple[ClaimCheck, int]]:
    """For each of two or more things the question names whose every claim in the draft was removed: the sources' first
    statement about it in ``quotes`` ((passage number, verified quote) in the order shown), as a kept
    check, with the number of the passage it comes from."""
    def about(claim: str) -> set[str]:
        return {k for k in reader.read_claim(CITE_MARK.sub("", claim)).facts if reader.is_named(k)}

    out: list[tuple[ClaimCheck, int]] = []
    asked = reader.named_in(question)
    if len(asked) < 2:
        return out  # no comparison: the quotes under the answer say what the sources say of its one subject
    removed = set().union(*(about(c.claim) for c in checks if not c.kept)) if checks else set()
    kept = set().union(*(about(c.claim) for c in checks if c.kept)) if checks else set()
    for key, word in asked:
        if key not in removed or key in kept:
            continue
        found = next(((n, s) for n, q in quotes for k, s in statements(q, reader) if k == key), None)
        if found is not None:
            n, said = found
            out.append((ClaimCheck(claim=said, kept=True, how=RESTORED,
                                   reason=f"the sources' own statement about {word} (quote [{n}]), in place of the "
                                          f"draft's, which the checks removed"), n))
    return out
