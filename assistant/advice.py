"""Is this question asking for personal medical advice or a dose? A classifier, not a word list.

Why: the sources give no doses and no personal decisions, and a 1.5B model asked
"should I stop my TRT?" answers "Yes, you should". The first gate was a regular
expression fitted to the eight advice questions of the evaluation set; on 92
paraphrases written afterwards (``eval/datasets/advice.jsonl``) it was right on
40% of them: it refused "How much does estradiol drop on anastrozole?" and let
"Best anastrozole dose for a 35 year old guy with high E2?" through.

This is a logistic regression on the question's sentence embedding (the
packaged MiniLM the retriever already runs, so it costs one ~10 ms encode),
trained on the ``dev`` split of that paraphrase set plus every question of the
``dev`` evaluation split, and measured on the ``test`` splits it never saw
(figures in the README). ``python -m eval advice --train`` refits it and
rewrites ``advice_model.json``; no scikit-learn is needed to use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("advice_model.json")


@dataclass(frozen=True)
class AdviceModel:
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5

    def probability(self, vector: Sequence[float]) -> float:
        z = self.intercept + sum(c * v for c, v in zip(self.coef, vector, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> AdviceModel:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return AdviceModel(tuple(data["coef"]), float(data["intercept"]), float(data.get("threshold", 0.5)))


class AdviceGate:
    """``probability(question)``: how likely the question asks for personal advice or a dose for someone."""

    def __init__(self, embed_query: Callable[[str], Sequence[float]], model: AdviceModel | None = None) -> None:
        self._embed = embed_query
        self.model = model or load_model()

    def probability(self, question: str) -> float:
        return self.model.probability(self._embed(question))

    def asks(self, question: str) -> bool:
        return self.probability(question) >= self.model.threshold
