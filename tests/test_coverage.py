"""The side of a comparison whose claims were all removed comes back in the sources' words (parser, no model)."""

from __future__ import annotations

from assistant.coverage import restore, statements
from assistant.verify import verify

HEADLINE = "How does anastrozole differ from clomiphene?"
QUOTE = ("Unlike Anastrozole, which blocks estrogen production, Clomiphene works by competitively binding to "
         "estrogen receptors in the hypothalamus and pituitary.")
# the local model's real draft for the headline question: anastrozole's half swapped, clomiphene's verbatim
DRAFT = ("Anastrozole works by competitively binding to estrogen receptors in the hypothalamus and pituitary, "
         "while Clomiphene directly stimulates LH and FSH production [1][3].")


def test_statements_are_main_clauses_about_a_name_and_relative_clauses_on_one(retriever) -> None:
    att = retriever.attributor()
    # the main clause from its subject on (the contrast before it is about the other drug), then the relative one
    assert statements(QUOTE, att) == [("clomiphene", QUOTE[QUOTE.index("Clomiphene"):]),
                                      ("anastrozole", "Anastrozole blocks estrogen production")]
    # a list item's label is left out; "This medication" is no name to open a sentence with
    item = "Clomiphene Citrate (Clomid) ∞ This medication is a Selective Estrogen Receptor Modulator (SERM)."
    assert statements(item, att) == []


def test_the_headline_answer_gets_anastrozoles_side_back_from_the_quote(retriever) -> None:
    att = retriever.attributor()
    passages = [r.chunk.prompt_text() for r in retriever.retrieve_covering(HEADLINE, att.named_in(HEADLINE))]
    got = verify(DRAFT, passages, att, att.first_named(HEADLINE), question=HEADLINE)
    assert got.prose.startswith("Clomiphene directly stimulates LH and FSH production")
    back = restore(HEADLINE, got.checks, [(1, QUOTE)], att)
    assert [(c.claim, c.how, n) for c, n in back] == [("Anastrozole blocks estrogen production", "restored", 1)]
    # what it restores passes the checks it replaces
    assert not verify(back[0][0].claim, passages, att, "anastrozole", question=HEADLINE).removed
    # a question about one thing, or a draft whose claims about a named thing stand, gets nothing added
    assert restore("How does anastrozole work?", got.checks, [(1, QUOTE)], att) == []
    right = verify("Anastrozole blocks estrogen production, while Clomiphene directly stimulates LH and FSH "
                   "production.", passages, att, "anastrozole", question=HEADLINE)
    assert restore(HEADLINE, right.checks, [(1, QUOTE)], att) == []
