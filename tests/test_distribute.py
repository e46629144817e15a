"""Claims about several things at once, taken apart (no model, no parser): which names, which predicate."""

from __future__ import annotations

import pytest

from assistant.distribute import distribute

NAMES = {"anastrozole", "clomiphene", "tamoxifen", "lh", "fsh", "hcg", "rfsh"}


def named(word: str) -> bool:
    return word.lower() in NAMES


@pytest.mark.parametrize(
    ("claim", "asked", "parts"),
    [
        ("Anastrozole and Clomiphene both lower estrogen's effect by blocking the aromatase enzyme",
         ["anastrozole", "tamoxifen"],
         ["Anastrozole lowers estrogen's effect by blocking the aromatase enzyme",
          "Clomiphene lowers estrogen's effect by blocking the aromatase enzyme"]),
        ("Both anastrozole and clomiphene raise LH", [],
         ["Anastrozole raises LH", "Clomiphene raises LH"]),
        ("LH, FSH and hCG directly act on the testes", [],
         ["LH directly acts on the testes", "FSH directly acts on the testes", "hCG directly acts on the testes"]),
        ("Clomiphene and tamoxifen are both SERMs", [], ["Clomiphene is SERMs", "Tamoxifen is SERMs"]),
        # a plural reference means the question's two names the claim does not name itself
        ("Both drugs work by binding to estrogen receptors", ["anastrozole", "clomiphene"],
         ["Anastrozole works by binding to estrogen receptors", "Clomiphene works by binding to estrogen receptors"]),
        ("They both increase LH", ["anastrozole", "clomiphene", "LH"], ["Anastrozole increases LH",
                                                                        "Clomiphene increases LH"]),
        ("Each of them can raise testosterone", ["hCG", "rFSH"], ["hCG can raise testosterone",
                                                                  "rFSH can raise testosterone"]),
    ],
)
def test_a_claim_about_several_names_becomes_one_claim_about_each(claim: str, asked: list[str],
                                                                   parts: list[str]) -> None:
    assert [p for _, p in distribute(claim, asked, named)] == parts


@pytest.mark.parametrize(
    ("claim", "asked"),
    [
        ("Anastrozole blocks estrogen production", ["anastrozole", "clomiphene"]),
        ("Leydig cells and Sertoli cells sit in the testes", []),  # "cells" is no name: no list of names
        ("Both drugs work by binding to estrogen receptors", ["anastrozole", "clomiphene", "LH"]),  # which two?
        ("Both drugs work by binding to estrogen receptors", ["anastrozole"]),
        ("Anastrozole and clomiphene", []),  # no predicate
    ],
)
def test_a_claim_about_one_thing_or_an_unclear_plural_is_left_whole(claim: str, asked: list[str]) -> None:
    assert distribute(claim, asked, named) == []


def test_a_list_of_named_objects_becomes_one_claim_per_item() -> None:
    from assistant.distribute import each_object

    named_cells = lambda w: w.lower() in NAMES | {"leydig", "sertoli", "hmg"}  # noqa: E731
    got = each_object("rFSH directly stimulates Sertoli cells, Leydig cells, and testicular testosterone", named_cells)
    assert got == ["rFSH directly stimulates Sertoli cells", "rFSH directly stimulates Leydig cells",
                   "rFSH directly stimulates testicular testosterone"]
    assert each_object("hMG contains both FSH and LH activity", named_cells) == ["hMG contains FSH",
                                                                                 "hMG contains LH activity"]
    # a list naming nothing checked, or one a later verb may continue (an item's own clause), is left whole
    assert each_object("Side effects include changes in lipid profiles, bone mineral density, and mood",
                       named_cells) == []
    assert each_object("hCG stimulates Leydig cells to produce testosterone and FSH to stimulate Sertoli cells",
                       named_cells) == []
