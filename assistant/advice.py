"""Is this question asking for personal medical advice or a dose? A classifier, not a word list.

Why: the sources give no doses and no personal decisions, and a 1.5B model asked
"should I stop my TRT?" answers "Yes, you should". The first gate was a regular
expression fitted to the eight advice questions of the evaluation set; on 92
paraphrases written afterwards (``eval/datasets/advice.jsonl``) it was right on
40% of them: it refused "How much does estradiol drop on anastrozole?" and let
"Best anastrozole dose for a 35 year old guy with high E2?" through.

A :class:`assistant.classifier.QuestionGate` trained on the ``dev`` split of
that paraphrase set plus every question of the ``dev`` evaluation split, and
measured on the ``test`` splits it never saw (figures in the README).
``python -m eval gate advice --train`` refits it and rewrites ``advice_model.json``.
"""

from __future__ import annotations

from pathlib import Path

from assistant.classifier import QuestionGate

MODEL_FILE = Path(__file__).with_name("advice_model.json")


class AdviceGate(QuestionGate):
    """``probability(question)``: how likely the question asks for personal advice or a dose for someone."""

    model_file = MODEL_FILE
