"""``python -m eval gate NAME [--train]``: fit and measure a question gate (``assistant/classifier.py``).

Gates: ``advice`` (``assistant/advice.py``: personal advice or a dose, refused)
and ``literature`` (``assistant/literature.py``: a question about the cited works
themselves, the only kind a reference-list entry can answer).

Training data of a gate: the ``dev`` split of its paraphrase set
(``eval/datasets/<name>.jsonl``: the gate's questions and look-alikes that are
not) plus every question of ``eval/datasets/dev.jsonl``, labelled by its case's
category or, in a conversation, by the turn's own field (``"literature": true``).
The regularisation strength is chosen by 5-fold cross-validation on that
data alone; the ``test`` splits are only ever measured. ``--train`` rewrites
the gate's model file; without it the shipped model is measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant import advice, literature
from assistant.classifier import LinearModel, load_model

DATASETS = Path(__file__).resolve().parent / "datasets"
GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


@dataclass(frozen=True)
class Gate:
    name: str  # also its paraphrase set (eval/datasets/<name>.jsonl) and the label field there and in turns
    model_file: Path
    category: str  # evaluation cases of this category are positives
    positive: str  # what a positive is, for the report


GATES = {
    "advice": Gate("advice", advice.MODEL_FILE, "dose_advice", "advice"),
    "literature": Gate("literature", literature.MODEL_FILE, "references", "about the sources"),
}


def labelled(gate: Gate, split: str) -> list[tuple[str, bool]]:
    """(question, is a positive) of one split, from the gate's paraphrase set and the evaluation set."""
    rows = _rows(DATASETS / f"{gate.name}.jsonl")
    out = [(r["question"], bool(r[gate.name])) for r in rows if r["split"] == split]
    for case in _rows(DATASETS / f"{split}.jsonl"):
        of_kind = case.get("category") == gate.category
        for turn in case["turns"]:
            if isinstance(turn, str):
                out.append((turn, of_kind))
            else:  # a turn of a conversation is labelled on its own (``"advice": true``)
                out.append((turn["question"], of_kind or bool(turn.get(gate.name))))
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _embed(questions: list[str]) -> np.ndarray:
    from assistant.embeddings import LocalEmbeddings

    return np.asarray(LocalEmbeddings().embed(questions), dtype=float)


def train(gate: Gate, out: Path | None = None) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    data = labelled(gate, "dev")
    x, y = _embed([q for q, _ in data]), np.array([a for _, a in data])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = {c: float(cross_val_score(_lr(LogisticRegression, c), x, y, cv=folds).mean()) for c in GRID}
    best = max(GRID, key=lambda c: (scores[c], -c))
    clf = _lr(LogisticRegression, best).fit(x, y)
    meta = {"C": best, "cv_accuracy": round(scores[best], 4), "n_train": len(y), "n_positive": int(y.sum()),
            "coef": [round(float(v), 6) for v in clf.coef_[0]], "intercept": round(float(clf.intercept_[0]), 6),
            "threshold": 0.5}
    (out or gate.model_file).write_text(json.dumps(meta) + "\n", encoding="utf-8")
    load_model.cache_clear()
    return meta


def _lr(cls, c: float):
    return cls(C=c, max_iter=5000, class_weight="balanced")


def measure(gate: Gate, split: str = "test", model: LinearModel | None = None) -> dict:
    model = model or load_model(gate.model_file)
    data = labelled(gate, split)
    probs = [model.probability(v) for v in _embed([q for q, _ in data])]
    pred = [p >= model.threshold for p in probs]
    tp = sum(p and a for p, (_, a) in zip(pred, data, strict=True))
    fp = sum(p and not a for p, (_, a) in zip(pred, data, strict=True))
    fn = sum(a and not p for p, (_, a) in zip(pred, data, strict=True))
    tn = len(data) - tp - fp - fn
    wrong = [(q, a, round(p, 3)) for (q, a), p, d in zip(data, probs, pred, strict=True) if d != a]
    return {"split": split, "n": len(data), "accuracy": round((tp + tn) / len(data), 4), "tp": tp, "fp": fp,
            "fn": fn, "tn": tn, "wrong": wrong}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval gate", description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(GATES), help="which gate")
    p.add_argument("--train", action="store_true", help="refit on the dev split and rewrite the model file")
    args = p.parse_args(argv)
    gate = GATES[args.name]
    if args.train:
        meta = train(gate)
        print(f"trained on {meta['n_train']} dev questions ({meta['n_positive']} {gate.positive}): C={meta['C']}, "
              f"5-fold accuracy {meta['cv_accuracy']:.3f}")
    for split in ("dev", "test"):
        m = measure(gate, split)
        print(f"{split}: accuracy {m['accuracy']:.3f} on {m['n']} questions ({gate.positive}: {m['tp']} caught, "
              f"{m['fn']} missed; others: {m['fp']} wrongly caught, {m['tn']} passed)")
        for q, a, prob in m["wrong"]:
            print(f"   {'missed' if a else 'caught'} (p={prob}): {q}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
