"""Yes/no questions about a question, answered by a logistic regression on its sentence embedding.

Why one small linear model per question, not a word list: each gate was first a
regular expression fitted to the evaluation's own questions, and failed on
paraphrases written afterwards. The embedding is the packaged MiniLM the
retriever already runs on every question (one ~10 ms encode, shared), and the
weights are a JSON file, so using a gate needs no scikit-learn. Each gate is
trained and measured by ``python -m eval gate NAME [--train]`` on the ``dev``
and ``test`` splits of its own paraphrase set (figures in the README).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class LinearModel:
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5

    def probability(self, vector: Sequence[float]) -> float:
        z = self.intercept + sum(c * v for c, v in zip(self.coef, vector, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=8)
def load_model(path: Path) -> LinearModel:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return LinearModel(tuple(data["coef"]), float(data["intercept"]), float(data.get("threshold", 0.5)))


class QuestionGate:
    """``probability(question)`` that the question is of the gate's kind; ``asks`` at the model's threshold.

    A gate is a subclass naming its ``model_file``. ``*_of(vector)`` take the question's embedding, so that
    several gates (and retrieval) read one encode of the same question.
    """

    model_file: Path

    def __init__(self, embed_query: Callable[[str], Sequence[float]], model: LinearModel | None = None) -> None:
        self._embed = embed_query
        self.model = model or load_model(self.model_file)

    def probability_of(self, vector: Sequence[float]) -> float:
        return self.model.probability(vector)

    def asks_of(self, vector: Sequence[float]) -> bool:
        return self.probability_of(vector) >= self.model.threshold

    def probability(self, question: str) -> float:
        return self.probability_of(self._embed(question))

    def asks(self, question: str) -> bool:
        return self.asks_of(self._embed(question))
