"""The answer-time claim check (parser only, no model): it must reject the swapped headline answer and keep
the correct one, on the passages retrieval really returns for the headline question."""

from __future__ import annotations

import pytest

from assistant.terms import aliases_from, named_terms
from assistant.verify import FALLBACK_LEAD, assemble, clauses, verify
from tests.conftest import ARTICLE

HEADLINE = "How does anastrozole differ from clomiphene?"
SWAPPED = ("Anastrozole works by competitively binding to estrogen receptors in the hypothalamus and pituitary, "
           "while Clomiphene works by blocking estrogen production [1].")
CORRECT = ("Anastrozole blocks estrogen production [2], while Clomiphene works by competitively binding to "
           "estrogen receptors in the hypothalamus and pituitary [1].")


def _passages(retriever, question: str) -> list[str]:
    att = retriever.attributor()
    return [r.chunk.prompt_text() for r in retriever.retrieve_covering(question, att.named_in(question))]


def test_headline_swap_is_removed_and_the_correct_answer_kept(retriever) -> None:
    att = retriever.attributor()
    passages = _passages(retriever, HEADLINE)
    assert any("Unlike Anastrozole, which blocks estrogen production" in p for p in passages)
    quotes = [(1, "Unlike Anastrozole, which blocks estrogen production, Clomiphene works by competitively binding "
                  "to estrogen receptors in the hypothalamus and pituitary.")]

    swapped = verify(SWAPPED, passages, att, att.first_named(HEADLINE))
    assert [c.kept for c in swapped.checks] == [False, False], swapped.checks
    assert all(c.how == "attribution" for c in swapped.checks)
    assert "of clomiphene, not of anastrozole" in swapped.checks[0].reason
    assert "of anastrozole, not of clomiphene" in swapped.checks[1].reason
    assert swapped.fell_back and swapped.prose == ""
    shown = assemble(swapped.prose, quotes)
    assert shown.startswith(FALLBACK_LEAD) and quotes[0][1] in shown

    correct = verify(CORRECT, passages, att, att.first_named(HEADLINE))
    assert all(c.kept for c in correct.checks), correct.checks
    assert not correct.fell_back and correct.prose == CORRECT
    assert assemble(correct.prose, quotes).startswith(CORRECT + "\n\nIn the sources' words:\n[1] “Unlike")


@pytest.mark.parametrize(
    ("question", "wrong", "right"),
    [
        ("Which testicular cells do LH and FSH act on?",
         "LH stimulates the Sertoli cells to produce testosterone.",
         "LH stimulates the Leydig cells to produce testosterone."),
        # the table's "Primary Hormonal Target" header is the column's framing, not a word of hCG's row
        ("Which cells in the testes does FSH target, and which does LH target?",
         "FSH targets Sertoli cells, and LH targets Sertoli cells.",
         "FSH targets Sertoli cells, and LH targets Leydig cells."),
        ("How do tamoxifen and anastrozole lower estrogen's effect?",
         "Tamoxifen works by selectively inhibiting the aromatase enzyme.",
         "Anastrozole works by selectively inhibiting the aromatase enzyme."),
        # the sources' verb ("to produce testosterone") in the model's noun ("the production of")
        ("Which testicular cells make testosterone?",
         "Sertoli cells are responsible for the production of testosterone.",
         "Leydig cells are responsible for the production of testosterone."),
    ],
)
def test_other_swaps_on_retrieved_passages(retriever, question: str, wrong: str, right: str) -> None:
    att = retriever.attributor()
    passages = _passages(retriever, question)
    bad = verify(wrong, passages, att, att.first_named(question))
    good = verify(right, passages, att, att.first_named(question))
    assert bad.removed, (passages, bad.checks)
    assert not good.removed, (passages, good.checks)


def test_a_pronoun_claim_is_read_as_the_question_subject(retriever) -> None:
    att = retriever.attributor()
    passages = _passages(retriever, HEADLINE)
    result = verify("It binds to estrogen receptors in the hypothalamus.", passages, att, "anastrozole")
    assert result.removed and "not of anastrozole" in result.removed[0].reason


def test_clauses_split_contrasts_and_drop_citations_and_yes() -> None:
    assert clauses("Yes, hCG acts like LH [1], while rFSH acts on Sertoli cells [2].") == [
        "hCG acts like LH", "rFSH acts on Sertoli cells"]
    assert clauses("No.") == []


def test_aliases_and_names_come_from_the_corpus(article_text) -> None:
    att_terms = {"anastrozole", "clomiphene", "clomid", "citrate", "gonadotropin", "chorionic", "luteinizing",
                 "follicle", "estrogen", "aromatase", "modulator", "menopausal", "intratesticular", "leydig"}
    aliases = aliases_from([article_text], lambda w: w.lower().strip("’'") in att_terms or w.isupper()
                           or (len(w) > 2 and w[0].islower() and any(c.isupper() for c in w)))
    assert aliases["human chorionic gonadotropin"] == "hcg"
    assert aliases["luteinizing hormone"] == "lh"
    assert aliases.get("clomid") == aliases.get("clomiphene", "clomiphene") or aliases.get("clomiphene") == "clomid"
    assert "estrogen" not in aliases and "anastrozole" not in aliases  # SERM is not estrogen; (Optional) no name
    named = named_terms([ARTICLE.read_text(encoding="utf-8")])
    assert {"anastrozole", "clomiphene", "sertoli", "leydig", "lh", "hcg"} <= named
    assert "estrogen" not in named and "testosterone" not in named


def test_without_a_checker_nothing_is_removed() -> None:
    result = verify(SWAPPED, ["Unlike Anastrozole, which blocks estrogen production, ..."], None)
    assert not result.removed and result.prose == SWAPPED.strip()
    assert [c.how for c in result.checks] == ["unchecked", "unchecked"]


def test_a_claim_the_table_denies_is_removed(retriever) -> None:
    """ "No direct impact on ITT" in rFSH's table row contradicts "rFSH boosts intratesticular testosterone". """
    att = retriever.attributor()
    question = "Does rFSH boost intratesticular testosterone the way hCG does?"
    passages = _passages(retriever, question)
    assert any("No direct impact on ITT" in p for p in passages)
    bad = verify("Yes, rFSH boosts intratesticular testosterone the way hCG does.", passages, att,
                 att.first_named(question))
    assert [c.how for c in bad.checks] == ["polarity", "attribution"] and not any(c.kept for c in bad.checks)
    assert "no such effect" in bad.checks[1].reason
    good = verify("rFSH directly stimulates Sertoli cells for germ cell support and maturation [1].", passages, att,
                  att.first_named(question))
    assert not good.removed, good.checks


def test_a_leading_yes_or_no_is_never_kept() -> None:
    from assistant.polar import strip_polarity

    assert strip_polarity("Yes, high E2 is not necessary [1].") == ("High E2 is not necessary [1].", "Yes")
    assert strip_polarity("No. LH acts on Leydig cells.") == ("LH acts on Leydig cells.", "No")
    assert strip_polarity("Notably, LH acts on Leydig cells.") == ("Notably, LH acts on Leydig cells.", "")
    # "True or false: ...?" gets its verdict the same way
    assert strip_polarity("True. Clomiphene blocks receptors.") == ("Clomiphene blocks receptors.", "True")
    assert strip_polarity("That's not correct: it binds receptors.") == ("It binds receptors.", "That's not correct")
    assert strip_polarity("True hypogonadism is rare.") == ("True hypogonadism is rare.", "")  # no stop: no verdict
    result = verify("Yes.", ["LH then stimulates the Leydig cells."], None)
    assert result.prose == "" and result.fell_back


def test_a_clause_that_only_restates_a_yes_no_question_is_removed() -> None:
    from assistant.polar import echoes, is_polar

    question = "Is the HPG axis the only hormone system that matters for making sperm?"
    answer = ("The HPG axis is the only hormone system that matters for making sperm. "
              "Thyroid hormones and cortisol from the adrenal glands also shape sperm production.")
    checked = verify(answer, ["Spermatogenesis requires precise coordination beyond just the HPG axis."],
                     question=question)
    assert [(c.how, c.kept) for c in checked.checks] == [("echo", False), ("unchecked", True)]
    assert checked.prose.startswith("Thyroid hormones") and "only hormone system" not in checked.prose
    # the negated restatement is the model's verdict too, and goes the same way
    assert echoes("The HPG axis is not the only hormone system that matters for making sperm", question)
    # a wh-question's answer restates it too, but the words it adds are the answer: kept
    which = "Which drugs are typically combined to restart fertility after a man comes off TRT?"
    assert not is_polar(which)
    assert not echoes("Gonadorelin and Clomid are typically combined to restart fertility after TRT", which)
    # a choice question ("A or B?") is not a yes/no question
    assert not is_polar("Is anastrozole an aromatase inhibitor or a SERM?")
    assert is_polar("Quick one: does rFSH raise intratesticular testosterone?")
    # a yes/no part of a coordinated question, and a question of degree, are answered by assert or deny too
    both = "What kind of drug is clomiphene, and is it approved for use in women?"
    assert is_polar(both) and echoes("Clomiphene is a drug, and it is approved for use in women", both)
    assert not echoes("Clomiphene is a selective estrogen receptor modulator", both)
    degree = "How rare are gynecomastia and acne on tamoxifen?"
    assert is_polar(degree) and echoes("Gynecomastia and acne on tamoxifen are rare", degree)
    assert not is_polar("How does tamoxifen raise LH?") and not is_polar("How to stop tamoxifen?")
    # a clause asserting the whole proposition asked about, however much it adds, is the verdict too
    severe = "Is clomiphene the first-line choice for severe hypogonadotropic hypogonadism?"
    assert echoes("Clomiphene is the first-line choice for severe hypogonadotropic hypogonadism when the central "
                  "drive is significantly lacking, as it avoids exogenous testosterone", severe)
    assert not echoes("Clomiphene is first-line for secondary hypogonadism with fertility desire", severe)
    # ... but a number the question does not have is the answer, not a restatement
    many = "How many men on clomiphene respond?"
    assert echoes("Many men on clomiphene respond", many) and not echoes("40% of men on clomiphene respond", many)
    # a follow-up's "it" is what it follows: the restatement is recognised through the resolved question
    follow = "Is it approved for men?"
    resolved = "How does anastrozole differ from clomiphene? Is it approved for men?"
    assert not echoes("Clomiphene is approved for men", follow)
    assert echoes("Clomiphene is approved for men", follow, resolved)
    # a restatement that is the passage's own sentence is a quote, not a verdict
    passage = "Anastrozole can improve sperm count even in men without elevated estrogen levels."
    kept = verify("Anastrozole can improve sperm count even in men without elevated estrogen levels.", [passage],
                  question="Can anastrozole improve sperm count even in men without elevated estrogen levels?")
    assert [c.how for c in kept.checks] == ["verbatim"] and kept.prose


def test_class_and_member_are_one_agent_but_two_members_are_not(retriever) -> None:
    """The corpus says Clomiphene "is a SERM", "SERMs like Tamoxifen and Clomid", "recombinant FSH (rFSH)": a
    claim about the class is not misattributed when the sources say it of a member, while the headline swap
    between two drugs of different classes is still caught (test above) and two members stay apart."""
    att = retriever.attributor()
    kin = att.kin | att.kinds([c.text for c in retriever.snapshot()[1]])  # defined names | the corpus's sentences
    assert frozenset(("fsh", "rfsh")) in att.kin
    assert {frozenset(("clomiphene", "serm")), frozenset(("serm", "tamoxifen"))} <= kin
    assert frozenset(("clomiphene", "tamoxifen")) not in kin
    assert frozenset(("anastrozole", "clomiphene")) not in kin
    # "Anastrozole, as an aromatase inhibitor": a kind of aromatase inhibitor, not of the enzyme it blocks
    assert frozenset(("anastrozole", "aromatase")) not in kin
    question = "What are post-TRT fertility protocols ultimately trying to achieve?"
    passages = _passages(retriever, question)
    claim = ("A SERM in the hypothalamus/pituitary helps to increase LH, FSH, and testosterone by blocking "
             "estrogen feedback.")
    assert not verify(claim, passages, att, att.first_named(question)).removed


def test_conversions_are_read_in_their_direction() -> None:
    from assistant.relations import conversions

    assert conversions("the aromatase enzyme, which is responsible for converting androgens, including "
                       "testosterone, into estrogens.") == [(frozenset({"androgen", "testosteron"}),
                                                             frozenset({"estrogen"}))]
    assert conversions("A portion of circulating testosterone is naturally converted into estradiol by the "
                       "enzyme aromatase.") == [(frozenset({"testosteron"}), frozenset({"estradiol"}))]
    assert conversions("it blocks the testosterone-to-estrogen conversion") == [
        (frozenset({"testosteron"}), frozenset({"estrogen"}))]
    assert conversions("Aromatase inhibition, reducing estrogen conversion from testosterone.")[0][0] == {
        "testosteron"}
    assert conversions("Anastrozole lowers estrogen and raises testosterone.") == []


def test_a_conversion_turned_around_is_removed_even_when_the_passages_state_none(retriever) -> None:
    """The passages the model read said nothing of aromatase's conversion; the corpus does, the other way."""
    att = retriever.attributor()
    passages = ["A study from Cleveland Clinic and UCLA suggested that Anastrozole can improve sperm count "
                "even in men without elevated estrogen levels."]
    bad = verify("It targets aromatase, which is responsible for converting estrogen to testosterone.", passages,
                 att, "anastrozole")
    assert [c.how for c in bad.checks] == ["direction"] and "not the other way" in bad.checks[0].reason
    for good in ("It targets aromatase, which converts testosterone into estrogen.",
                 "It reduces the conversion of testosterone to estradiol."):
        assert not verify(good, passages, att, "anastrozole").removed, good


def test_a_claim_the_passages_are_silent_on_is_checked_against_the_whole_corpus(retriever) -> None:
    """Passages on the two SERMs never name aromatase, so they give the claim to no other agent; the article
    gives every word of it to anastrozole and never to a SERM. The corpus is read with a stricter bar (all of
    the claim's words, not half), so a claim sharing a few words with the article's main subject stays."""
    att = retriever.attributor()
    assert att.corpus is not None
    passages = [
        "Tamoxifen ∞ As another SERM, Tamoxifen acts similarly to Clomiphene by blocking estrogen receptors in "
        "the hypothalamus and pituitary, thereby increasing gonadotropin release.",
        "Clomiphene Citrate (Clomid) ∞ This medication is a Selective Estrogen Receptor Modulator (SERM).",
    ]
    bad = verify("Tamoxifen and Clomiphene both act on the aromatase enzyme.", passages, att, "tamoxifen")
    assert [c.how for c in bad.checks] == ["attribution"], bad.checks
    assert "of anastrozole" in bad.checks[0].reason and "whole corpus" in bad.checks[0].reason
    for good in ("Tamoxifen blocks estrogen receptors in the hypothalamus and pituitary.",
                 "GnRH comes from the hypothalamus, and LH comes from the pituitary gland.",
                 "Gonadorelin contributes to re-establishing the central drive for testicular function and helps "
                 "to reactivate the HPG axis and stimulate spermatogenesis."):
        assert not verify(good, passages, att, "tamoxifen").removed, good


def test_a_choice_question_answered_with_the_wrong_option_is_removed(retriever) -> None:
    question = "Does anastrozole stop estrogen from being made, or does it block the estrogen receptor?"
    att = retriever.attributor()
    passages = _passages(retriever, question)
    assert verify("Anastrozole blocks the estrogen receptor.", passages, att, "anastrozole").removed
    assert not verify("Anastrozole blocks estrogen production.", passages, att, "anastrozole").removed


def test_a_cause_and_effect_the_sources_state_apart_is_the_models_link() -> None:
    from assistant.relations import invented_link

    fsh = ("FSH, on the other hand, directly stimulates Sertoli cells to proliferate and produce factors essential "
           "for germ cell development.")
    estrogen = ("This reduction in estrogen can, in turn, alleviate the negative feedback on the hypothalamus and "
                "pituitary, leading to an increase in endogenous LH and FSH, and subsequently, a rise in "
                "testosterone levels and improved sperm parameters.")
    joined = ("FSH directly stimulates Sertoli cells to proliferate and produce factors essential for germ cell "
              "development, which in turn leads to an increase in endogenous LH and FSH")
    assert "the link is the model's" in invented_link(joined, [fsh, estrogen])
    assert verify(joined + ".", [fsh, estrogen]).removed[0].how == "link"
    # one sentence holding both halves, or two adjacent ones ("This imbalance ..."), ground the link
    trt = ("TRT, while effective for symptoms of low testosterone, can suppress endogenous LH and FSH production, "
           "leading to reduced sperm count or even azoospermia.")
    assert invented_link("TRT suppresses endogenous LH and FSH production, which leads to reduced sperm count",
                         [trt, fsh]) == ""
    paradox = ("The paradox arises when estrogen levels become disproportionately high relative to testosterone. "
               "This imbalance, often seen in men with obesity due to increased aromatase activity in adipose "
               "tissue, can lead to a potent negative feedback on the HPG axis.")
    assert invented_link("Estrogen becomes disproportionately high relative to testosterone, which leads to a "
                         "potent negative feedback on the HPG axis", [paradox, fsh]) == ""
    # a half in the model's own words is not judged
    assert invented_link("FSH matters a lot, which is why doctors like it", [fsh, estrogen]) == ""


def test_a_number_neither_the_passages_nor_the_question_state_is_removed() -> None:
    from assistant.verify import invented_numbers

    passage = ("This research indicated that men most likely to respond had a testosterone-luteinizing hormone "
               "ratio of 100 or greater.")
    question = "How many men in the Cleveland Clinic study had side effects?"
    made_up = verify("2 men in the Cleveland Clinic study had side effects.", [passage], question=question)
    assert [(c.how, c.kept) for c in made_up.checks] == [("number", False)] and made_up.fell_back
    assert invented_numbers("Men with a ratio of 100 or greater [1] respond best", [passage]) == []
    assert invented_numbers("A ratio of 50 was enough", [passage], "Was a ratio of 50 enough?") == []
    assert invented_numbers("It came out on September 28, 2023.", ["Consult QD, 28 Sept. 2023."]) == []
    assert invented_numbers("Published in 2019, vol. 22", ["vol. 22, no. 1, 2020, pp. 1-10."]) == ["2019"]


def test_a_yes_no_question_about_something_the_corpus_never_names_gets_no_claim_about_it() -> None:
    from assistant.polar import unsourced_topics

    def known(word: str) -> bool:
        return word not in {"hair"}

    question = "Does anastrozole cause hair loss?"
    assert unsourced_topics(question, known) == ["hair"]
    assert unsourced_topics("Which cells nourish hair?", known) == []  # a wh-question: its nouns may be framing
    draft = ("It works by reducing estrogen levels, which can indirectly affect hair growth. "
             "By reducing estrogen levels, Anastrozole lessens the negative feedback signal.")
    checked = verify(draft, ["By reducing estrogen levels, Anastrozole effectively lessens the negative feedback "
                             "signal that estrogen exerts on the hypothalamus and pituitary gland."],
                     question=question, known=known)
    assert [(c.how, c.kept) for c in checked.checks] == [("unsourced", False), ("unchecked", True)]
    assert checked.prose.startswith("By reducing estrogen levels")


def test_the_nouns_the_note_names_are_topics_in_any_form_not_framing() -> None:
    from assistant.polar import unsourced_topics

    corpus = {"men", "estrogen", "anastrozol", "rfsh", "testosteron", "hcg", "letrozol", "drug", "ratio", "target",
              "semen", "improv"}

    def known(word: str) -> bool:
        from assistant.lexicon import tokenize

        return all(t in corpus for t in tokenize(word))

    # the corpus says "men": "a man's estrogen" is no new topic (the parser's irregular forms)
    assert unsourced_topics("Can anastrozole still help if a man's estrogen isn't high?", known) == []
    assert unsourced_topics("Does rFSH boost testosterone the way hCG does?", known) == []  # a manner
    assert unsourced_topics("Is there a drug that targets that specific problem?", known) == []  # points back
    assert unsourced_topics("Is letrozole mentioned anywhere in the material?", known) == []  # where, not what
    assert unsourced_topics("Does the article say letrozole is a drug?", known) == []  # who says, not what
    # a do-question the parser read with no verb ("push" a noun): its nouns are not trusted
    assert unsourced_topics("Does rFSH on its own push up testosterone inside the testes?", known) == []
    # the sources themselves are no topic; what is asked of them is
    assert unsourced_topics("Does the article recommend a specific dose of anastrozole?", known) == ["dose"]
    assert unsourced_topics("Does anastrozole improve semen quality?", known) == []  # an aspect of semen
    # named as the user wrote it (the note quotes it), not as a stem
    assert unsourced_topics("Is anastrozole safe during pregnancy?", known) == ["pregnancy"]


def test_a_two_word_proposition_restated_whole_is_an_echo_but_not_a_two_word_head() -> None:
    from assistant.polar import echoes

    assert echoes("Gonadorelin is a SERM", "Is gonadorelin a SERM?")
    # "This can affect fertility" heads a sentence whose "by ..." part is the sources' reason: it stays
    assert not echoes("This can affect fertility by reducing the production of these hormones, which are "
                      "essential for sperm production", "Does that affect fertility?")


def test_a_statement_put_as_a_question_is_a_yes_no_question() -> None:
    from assistant.polar import is_polar

    for q in ["Anastrozole raises estrogen, right?", "So clomiphene blocks aromatase?", "hCG works like LH?",
              "Gonadorelin is given in pulses, isn't it?", "Clomiphene is a SERM - true?"]:
        assert is_polar(q), q
    for q in ["Tell me about hCG?", "Anastrozole vs clomiphene?", "What does hMG contain?",
              "In plain English, what does an aromatase inhibitor do?", "Is it a hormone, or a receptor blocker?"]:
        assert not is_polar(q), q


def test_a_claim_moving_an_amount_the_other_way_from_the_sources_is_removed() -> None:
    from assistant.relations import changes, reversed_change

    passage = ("By reducing estrogen levels, Anastrozole effectively lessens the negative feedback signal that "
               "estrogen exerts on the hypothalamus and pituitary gland.")
    other = ("TRT, while effective for symptoms of low testosterone, can suppress endogenous LH and FSH "
             "production, leading to reduced sperm count or even azoospermia.")
    checked = verify("Anastrozole raises estrogen. By reducing estrogen levels, Anastrozole lessens the feedback.",
                     [passage, other])
    assert (checked.checks[0].how, checked.checks[0].kept) == ("direction", False)
    assert "lowers estrogen" in checked.checks[0].reason
    stated = changes(passage) + changes(other)
    assert reversed_change("Anastrozole increases estrogen levels", stated)
    assert reversed_change("TRT boosts FSH production", stated)
    assert not reversed_change("Anastrozole lowers estrogen", stated)  # the sources' own direction
    assert not reversed_change("Anastrozole does not raise estrogen", stated)  # a negation turns it around
    assert not reversed_change("Clomiphene increases estrogen", stated)  # another doer: no opinion
    assert not reversed_change("Anastrozole increases estrogen receptors", stated)  # another thing


def test_a_removed_link_keeps_its_first_half_when_a_source_sentence_holds_it() -> None:
    hmg = ("Often, recombinant Follicle-Stimulating Hormone (rFSH) or human menopausal gonadotropin (hMG), which "
           "contains both FSH and LH activity, is added to directly stimulate the Sertoli cells and support sperm "
           "production.")
    row = "| rFSH (FSH-like) | Used in combination with hCG for complete spermatogenesis induction. |"
    checked = verify("hMG contains both FSH and LH activity, which is why it is used in combination with hCG for "
                     "complete spermatogenesis induction [1].", [hmg, row])
    assert [(c.how, c.kept) for c in checked.checks] == [("link", False), ("unchecked", True)]
    assert checked.prose == "hMG contains both FSH and LH activity [1]."
    # a first half of the model's own words goes with its link
    own = verify("Anastrozole is stronger than Clomiphene, which is why it is used in combination with hCG for "
                 "complete spermatogenesis induction.", [hmg, row, "Unlike Anastrozole, Clomiphene binds receptors."])
    assert own.fell_back and [c.how for c in own.checks] == ["link"]


def test_a_wrong_half_of_a_contrast_takes_only_itself_when_the_other_is_the_sources_words(retriever) -> None:
    att = retriever.attributor()
    passages = _passages(retriever, HEADLINE)
    # the local model's real draft for the headline question: a swapped half and a verbatim half
    draft = ("Anastrozole works by competitively binding to estrogen receptors in the hypothalamus and pituitary, "
             "while Clomiphene directly stimulates LH and FSH production [1][3].")
    got = verify(draft, passages, att, att.first_named(HEADLINE))
    assert [(c.kept, c.how) for c in got.checks] == [(False, "attribution"), (True, "verbatim")]
    assert got.prose == "Clomiphene directly stimulates LH and FSH production [1][3]." and not got.fell_back
    # a half with a pronoun pointing into the removed half, or one merely not contradicted, goes with it
    for half in ("it directly stimulates LH and FSH production", "Clomiphene directly stimulates Sertoli cells"):
        alone = verify(draft.replace("Clomiphene directly stimulates LH and FSH production", half), passages, att,
                       att.first_named(HEADLINE))
        assert alone.prose == "" and alone.fell_back, alone.checks


@pytest.mark.parametrize(
    ("question", "together", "alone"),
    [
        # the local model's drafts: anastrozole's mechanism given to a SERM as well, in one sentence
        ("Tell me how anastrozole and tamoxifen each lower estrogen's effect.",
         "Anastrozole and Clomiphene both lower estrogen's effect by blocking the aromatase enzyme.",
         "Anastrozole lowers estrogen's effect by blocking the aromatase enzyme."),
        ("Is anastrozole's mechanism the same as clomiphene's?",
         "Both drugs work by competitively binding to estrogen receptors in the hypothalamus and pituitary.",
         "Clomiphene works by competitively binding to estrogen receptors in the hypothalamus and pituitary."),
    ],
)
def test_a_claim_about_two_drugs_stands_only_if_it_holds_for_each(retriever, question: str, together: str,
                                                                  alone: str) -> None:
    att = retriever.attributor()
    passages = _passages(retriever, question)
    joint = verify(together, passages, att, att.first_named(question), question=question)
    assert joint.removed and "said of" in joint.removed[0].reason, joint.checks
    assert not verify(alone, passages, att, att.first_named(question), question=question).removed
    # the SERMs' shared mechanism, said of both, stands
    serms = "Clomiphene and tamoxifen both block estrogen receptors in the hypothalamus and pituitary."
    question = "How do clomiphene and tamoxifen work?"
    assert not verify(serms, _passages(retriever, question), att, att.first_named(question), question=question).removed


def test_a_claim_led_by_an_acronym_the_parser_misreads_is_still_read(retriever) -> None:
    # "FSH stimulates Leydig cells": the parser takes "FSH stimulates" for a modifier of "cells"
    att = retriever.attributor()
    assert att.read("LH stimulates Leydig cells").facts == {}
    assert att.read_claim("LH stimulates Leydig cells").facts == {"lh": {"stimulate", "leydig", "cell"}}
    question = "Which testicular cells do LH and FSH act on?"
    got = verify("FSH stimulates Leydig cells", _passages(retriever, question), att, att.first_named(question))
    assert got.removed, got.checks


def test_a_term_a_table_cell_names_takes_part_in_its_clause(retriever) -> None:
    # "Indirectly enhances Leydig cell T production via increased LH; supports Sertoli cells via increased FSH"
    # (anastrozole's row): Leydig cells are named with production there, Sertoli cells are not
    att = retriever.attributor()
    question = "Leydig cells vs Sertoli cells: what job does each have?"
    passages = _passages(retriever, question)
    assert any("Indirectly enhances Leydig cell T production" in p for p in passages)
    assert not verify("Leydig cells produce testosterone", passages, att, None, question=question).removed
    assert verify("Sertoli cells are responsible for the production of testosterone", passages, att, None,
                  question=question).removed


@pytest.mark.parametrize(
    ("question", "draft", "note"),
    [
        ("Does LH work directly on the Sertoli cells?", "Yes, LH works directly on the Sertoli cells.",
         "The sources do not support that LH works directly on the Sertoli cells."),
        ("Does the article say Tamoxifen is an aromatase inhibitor?",
         "Yes, the article says that Tamoxifen is an aromatase inhibitor.",
         "The sources do not support that Tamoxifen is an aromatase inhibitor."),
        # what both drugs are said to do, the sources say of one (the proposition taken apart, for each)
        ("Do anastrozole and clomiphene both block the aromatase enzyme?",
         "Yes, anastrozole and clomiphene both block the aromatase enzyme.",
         "The sources do not support that Anastrozole and clomiphene both block the aromatase enzyme."),
        ("Does hCG stimulate the Leydig cells?", "Yes, hCG stimulates the Leydig cells.", ""),
    ],
)
def test_a_yes_no_answer_restating_a_proposition_the_sources_contradict_says_so(retriever, question: str,
                                                                                draft: str, note: str) -> None:
    att = retriever.attributor()
    got = verify(draft, _passages(retriever, question), att, att.first_named(question), question=question)
    assert any(c.how == "echo" for c in got.removed), got.checks  # the restatement itself never stands
    assert got.note == note


def test_one_wrong_item_of_a_list_takes_the_claim_with_it(retriever) -> None:
    att = retriever.attributor()
    question = "Which cells does rFSH act on?"
    passages = _passages(retriever, question)
    listed = verify("rFSH directly stimulates Sertoli cells, Leydig cells, and testicular testosterone.", passages,
                    att, att.first_named(question), question=question)
    assert listed.removed and "each item of its list" in listed.removed[0].reason, listed.checks
    assert not verify("rFSH directly stimulates Sertoli cells.", passages, att, att.first_named(question),
                      question=question).removed


def test_a_claim_taken_from_a_passage_that_never_names_its_subject_is_removed(retriever) -> None:
    # the side effects the article gives for anastrozole's off-label use, given to clomiphene
    att = retriever.attributor()
    question = "What are the side effects of clomiphene?"
    passages = _passages(retriever, question)
    side = "can cause changes in lipid profiles, bone mineral density, and mood alterations"
    wrong = verify(f"Clomiphene {side}.", passages, att, att.first_named(question), question=question)
    assert wrong.removed and "never names clomiphene" in wrong.removed[0].reason, wrong.checks
    assert not verify(f"Anastrozole {side}.", passages, att, "anastrozole", question=question).removed


def test_a_drug_combined_or_compared_with_itself_is_removed() -> None:
    from assistant.relations import self_related

    names = {"hcg": "hcg", "rfsh": "rfsh", "clomid": "clomiphene", "clomiphene": "clomiphene"}

    def key(word: str) -> str | None:
        return names.get(word.lower())

    assert self_related("hCG is given alongside hCG to get full sperm production going", key)
    assert self_related("Clomid works like clomiphene [2]", key)  # one drug under two names
    assert not self_related("hCG is given alongside rFSH to get full sperm production going", key)
    assert not self_related("hCG raises testosterone, with hCG doses varying", key)  # "with" is no relation here
