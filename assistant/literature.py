"""Does this question ask about the cited literature itself (which paper, who wrote it, where, when)?

Why retrieval needs to know: a reference-list entry is a title, and a title
is the densest summary of a topic there is. "How does anastrozole work for
male fertility?" was closest, by embedding and by BM25, to the entry "Study
Suggests Broader Use of Anastrozole for Male Infertility", which took one of
the three passages the model reads and says nothing about how anything works.
An entry can answer only a question about the literature: who wrote it,
where and when it appeared, which paper covers what. For every other question
entries are left out of the passages (the prose that cites them is still
read, with its citations); for a literature question the best entry is sure
of a place.

A :class:`assistant.classifier.QuestionGate` trained on the ``dev`` split of
``eval/datasets/literature.jsonl`` (questions about the sources, and look-alike
questions about what studies found) plus the ``dev`` evaluation split (its
``references`` cases), measured on the ``test`` splits
(``python -m eval gate literature [--train]``).
"""

from __future__ import annotations

from pathlib import Path

from assistant.classifier import QuestionGate

MODEL_FILE = Path(__file__).with_name("literature_model.json")


class LiteratureGate(QuestionGate):
    """``asks(question)``: the question is about the cited works themselves, not what they found."""

    model_file = MODEL_FILE
