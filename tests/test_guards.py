from assistant.guards import invented_amounts, presupposes, unknown_subjects

PASSAGE = "A study found a testosterone-luteinizing hormone ratio of 100 or greater predicted response."
VOCAB = {"for", "anastrozole", "infertility", "male", "approved", "women", "treatment", "dysfunction", "gonadotropin"}


def known(word: str) -> bool:
    return all(part in VOCAB for part in word.lower().split("-"))


def test_invented_amounts_flags_doses_and_percentages_not_in_sources() -> None:
    assert invented_amounts("Take 1 mg twice a week.", [PASSAGE]) == ["1 mg", "twice a week"]
    assert invented_amounts("It raised counts by 40%.", [PASSAGE]) == ["40%"]
    assert invented_amounts("Take it once a day.", [PASSAGE]) == ["once a day"]
    assert invented_amounts("A ratio of 100 or greater predicted response.", [PASSAGE]) == []


def test_unknown_subjects_are_question_words_the_answer_repeats() -> None:
    q = "Why is anastrozole FDA-approved for male infertility?"
    assert unknown_subjects(q, "Anastrozole is FDA-approved for male infertility because...", known) == ["fda"]
    assert unknown_subjects(q, "Its use in male infertility is off-label [1].", known) == []
    assert unknown_subjects("Is sildenafil a gonadotropin?", "Sildenafil is a gonadotropin.", known) == ["sildenafil"]


def test_an_answer_that_denies_the_premise_is_not_an_echo() -> None:
    q = "Why is anastrozole FDA-approved for male infertility?"
    assert unknown_subjects(q, "Anastrozole is not FDA-approved for male infertility; it is off-label.", known) == []
    assert unknown_subjects(q, "It isn't FDA approved for men [1].", known) == []
    # one denied mention does not excuse another that adopts the premise
    assert unknown_subjects(q, "It is not FDA-approved for women, but FDA approval covers men.", known) == ["fda"]


def test_everyday_words_the_corpus_lacks_are_not_subjects() -> None:
    def rare(word: str) -> bool:
        return word in {"sildenafil", "erectile"}

    q = "Which regimen predicts response to sildenafil?"
    a = "The regimen predicts response to sildenafil."
    assert unknown_subjects(q, a, known, rare) == ["sildenafil"]


def test_a_question_that_takes_a_proposition_as_given_presupposes_it() -> None:
    for q in ("Why is anastrozole FDA-approved for male infertility?", "how come hCG raises FSH?",
              "Since clomiphene is an aromatase inhibitor, how much does it cut estrogen?",
              "Given that TRT boosts sperm, why isn't it used?", "I read the article. Why does it bind receptors?"):
        assert presupposes(q), q
    for q in ("Is anastrozole FDA-approved for male infertility?", "What is the treatment for erectile dysfunction?",
              "Write me an anastrozole cycle for bodybuilding.", "Which study asked why men respond?"):
        assert not presupposes(q), q
