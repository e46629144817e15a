"""Index terms: stopwords dropped, British spelling made American, word forms stemmed together, codes kept whole."""

from assistant.lexicon import STOPWORDS, american_spelling, tokenize, word_forms


def test_tokenize_drops_stopwords_and_plural() -> None:
    # Snowball (Porter2) stems: "inhibitors" and "inhibitor" meet; "aromatase" keeps its stem "aromatas"
    assert tokenize("What are the inhibitors of the aromatase?") == tokenize("inhibitor aromatase") == [
        "inhibitor", "aromatas"]
    assert tokenize("What is it and how does it do that?") == []
    assert {"the", "what", "which", "about"} <= STOPWORDS


def test_tokenize_stems_so_word_forms_meet() -> None:
    assert tokenize("combined restoring") == tokenize("combination restored")
    assert tokenize("FDA-approved") == ["fda-approved", "fda", *tokenize("approved")]  # parts stem alike
    assert tokenize("T:E2 post-TRT") == ["t:e2", "post-trt", "post", "trt"]  # codes are left whole
    assert tokenize("5mg e2s") == ["5mg", "e2s"]  # anything with a digit is not stemmed


def test_tokenize_reads_british_spelling_and_curly_apostrophes_as_the_corpus_does() -> None:
    assert tokenize("Oestrogen levels") == tokenize("estrogen level") == ["estrogen", "level"]
    assert tokenize("favoured tumours") == tokenize("favored tumors")
    assert tokenize("men’s") == tokenize("men's") == ["men", "s"]


def test_british_spellings_become_american() -> None:
    british = ["oestrogen", "oestradiol", "haemoglobin", "anaemia", "paediatric", "favour", "behaviour", "tumour",
               "recognise", "organisation", "litre", "centres", "fibre"]
    assert [american_spelling(w) for w in british] == [
        "estrogen", "estradiol", "hemoglobin", "anemia", "pediatric", "favor", "behavior", "tumor",
        "recognize", "organization", "liter", "centers", "fiber"]


def test_words_that_merely_look_british_are_left_alone() -> None:
    assert [american_spelling(w) for w in ("hour", "your", "praise", "course")] == ["hour", "your", "praise", "course"]


def test_word_forms_share_a_stem_and_keep_the_word() -> None:
    forms = word_forms("prescribing")
    assert {"prescribing", "prescribe", "prescribed", "prescribes"} <= forms
    assert word_forms("act") == {"act"}  # too short a stem to strip anything from


def test_a_word_family_joins_derivations_the_stemmer_keeps_apart() -> None:
    from assistant.lexicon import _stem, family

    for a, b in (("production", "produce"), ("testicles", "testicular"), ("conversion", "converting"),
                 ("stimulation", "stimulates"), ("oestrogenic", "estrogen")):
        assert family(a) == family(b), (a, b)
    assert _stem("production") != _stem("produce")  # what the family adds to the stem
    for a, b in (("testes", "testosterone"), ("support", "suppress"), ("estradiol", "estrogen")):
        assert family(a) != family(b), (a, b)
