"""What the sources liken to what: read from the parse, and a claim pairing the wrong things removed."""

from __future__ import annotations

import pytest

from assistant.likeness import likenesses, misliken
from assistant.verify import verify
from tests.conftest import ARTICLE


@pytest.fixture(scope="module")
def stated():
    return likenesses(ARTICLE.read_text(encoding="utf-8"))


def _pairs(found) -> set[tuple[str, str, bool]]:
    return {(x.one_text, x.other_text, x.alike) for x in found}


def test_the_article_s_likenesses_and_contrasts_are_read(stated) -> None:
    pairs = _pairs(stated)
    assert ("Tamoxifen", "Clomiphene", True) in pairs  # "acts similarly to"
    assert ("Gonadotropin hCG", "LH", True) in pairs  # "Human Chorionic Gonadotropin (hCG) acts like LH"
    assert ("Clomiphene", "Anastrozole", False) in pairs  # "Unlike Anastrozole, ..., Clomiphene works ..."
    # "SERMs like Tamoxifen and Clomid" gives examples of a kind: no likeness of SERMs with either
    assert not any("SERM" in one for one, _, _ in pairs)
    assert _pairs(likenesses("Tamoxifen acts more like clomiphene than anastrozole.")) == {
        ("Tamoxifen", "clomiphene", True), ("Tamoxifen", "anastrozole", False)}


@pytest.mark.parametrize(
    ("claim", "why"),
    [
        ("Tamoxifen acts like anastrozole and like clomiphene.", "liken it to Clomiphene, and never to anastrozole"),
        ("hCG acts like FSH.", "liken it to LH, and never to FSH"),
        ("Clomiphene works like anastrozole.", "which the sources contrast with it"),
        ("Tamoxifen acts like clomiphene.", ""),
        ("Clomiphene acts similarly to tamoxifen.", ""),  # either way round
        ("Letrozole acts like anastrozole.", ""),  # the sources liken letrozole to nothing: no opinion
        ("hCG acts like a hormone.", ""),  # "a hormone" names no term of the sources
    ],
)
def test_a_claim_likening_the_wrong_pair_is_named(stated, claim: str, why: str) -> None:
    named = {"tamoxifen", "anastrozole", "clomiphene", "hcg", "fsh", "lh", "letrozole", "gonadotropin hcg"}
    got = misliken(claim, stated, lambda text: text.lower() in named)
    assert (why in got) if why else got == "", got


def test_verify_removes_a_mislikened_claim_on_the_retrieved_passages(retriever) -> None:
    question = "Does tamoxifen act like anastrozole or like clomiphene?"
    att = retriever.attributor()
    passages = [r.chunk.prompt_text() for r in retriever.retrieve_covering(question, att.named_in(question))]
    wrong = verify("Tamoxifen acts like anastrozole and like clomiphene [1].", passages, att, question=question)
    assert [(c.kept, c.how) for c in wrong.checks] == [(False, "likeness")] and wrong.fell_back
    right = verify("Tamoxifen acts similarly to Clomiphene [1].", passages, att, question=question)
    assert right.prose and all(c.kept for c in right.checks), right.checks
