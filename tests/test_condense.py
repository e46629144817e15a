"""Follow-up detection and the conversation context a follow-up carries (no model)."""

from __future__ import annotations

import pytest

from assistant.condense import gist, is_follow_up, standalone_query


@pytest.mark.parametrize("question", [
    "Which one is first-line for secondary hypogonadism?",   # referring words
    "And the second one?",                                   # elliptical, nothing of its own
    "What about hCG?",                                       # elliptical with a term of its own
    "What side effects does it have?",
    "Is there a drug that targets that specific problem?",
    "How long does treatment usually take?",                 # names nothing technical: about the last subject
])
def test_follow_ups_with_and_without_referring_words(retriever, question: str) -> None:
    assert is_follow_up(question, retriever.attributor().is_term)


@pytest.mark.parametrize("question", [
    "Does cortisol affect fertility hormones?",              # short, but names its own subject
    "Separate question: what does the thyroid have to do with sperm?",
    "Different topic: which journal published Rastrelli's review?",
    "What is gonadorelin?",
])
def test_short_standalone_questions_are_not_glued_to_the_conversation(retriever, question: str) -> None:
    is_term = retriever.attributor().is_term
    assert not is_follow_up(question, is_term)
    long_talk = ["How does anastrozole differ from clomiphene?", "Which one is first-line?", "Why is that?"]
    assert standalone_query(question, long_talk, is_term) == question


def test_a_follow_up_walks_back_to_the_question_that_stands_alone(retriever) -> None:
    is_term = retriever.attributor().is_term
    turns = ["What does hCG do?", "And which cells does it work on?"]
    assert standalone_query("What about rFSH then?", turns, is_term) == " ".join([*turns, "What about rFSH then?"])


def test_gist_is_the_first_sentence_of_the_answer() -> None:
    assert gist("Clomiphene binds estrogen receptors [1]. It raises LH.\n\nIn the sources' words: ...") == (
        "Clomiphene binds estrogen receptors [1].")
    assert len(gist("word " * 200)) <= 300
