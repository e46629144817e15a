"""``python -m eval advice [--train]``: fit and measure the personal-advice gate (``assistant/advice.py``).

Training data: the ``dev`` split of ``eval/datasets/advice.jsonl`` (paraphrased advice and look-alike
informational questions) plus every question of ``eval/datasets/dev.jsonl`` (advice: its dose/advice cases
and the turns marked ``"advice": true``). The regularisation strength is chosen by 5-fold cross-validation on
that data alone; the ``test`` splits are only ever measured. ``--train`` rewrites the model file; without it
the shipped model is measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from assistant.advice import MODEL_FILE, AdviceModel, load_model

DATASETS = Path(__file__).resolve().parent / "datasets"
GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def labelled(split: str) -> list[tuple[str, bool]]:
    """(question, asks for advice) of one split, from the advice set and the evaluation set."""
    out = [(r["question"], bool(r["advice"])) for r in _rows(DATASETS / "advice.jsonl") if r["split"] == split]
    for case in _rows(DATASETS / f"{split}.jsonl"):
        for turn in case["turns"]:
            if isinstance(turn, str):
                out.append((turn, case.get("category") == "dose_advice"))
            else:
                out.append((turn["question"], bool(turn.get("advice")) or case.get("category") == "dose_advice"))
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _embed(questions: list[str]) -> np.ndarray:
    from assistant.embeddings import LocalEmbeddings

    return np.asarray(LocalEmbeddings().embed(questions), dtype=float)


def train(out: Path = MODEL_FILE) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    data = labelled("dev")
    x, y = _embed([q for q, _ in data]), np.array([a for _, a in data])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = {c: float(cross_val_score(_lr(LogisticRegression, c), x, y, cv=folds).mean()) for c in GRID}
    best = max(GRID, key=lambda c: (scores[c], -c))
    clf = _lr(LogisticRegression, best).fit(x, y)
    meta = {"C": best, "cv_accuracy": round(scores[best], 4), "n_train": len(y), "n_advice": int(y.sum()),
            "coef": [round(float(v), 6) for v in clf.coef_[0]], "intercept": round(float(clf.intercept_[0]), 6),
            "threshold": 0.5}
    out.write_text(json.dumps(meta) + "\n", encoding="utf-8")
    load_model.cache_clear()
    return meta


def _lr(cls, c: float):
    return cls(C=c, max_iter=5000, class_weight="balanced")


def measure(split: str = "test", model: AdviceModel | None = None) -> dict:
    model = model or load_model()
    data = labelled(split)
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
    p = argparse.ArgumentParser(prog="python -m eval advice", description=__doc__.splitlines()[0])
    p.add_argument("--train", action="store_true", help="refit on the dev split and rewrite the model file")
    args = p.parse_args(argv)
    if args.train:
        meta = train()
        print(f"trained on {meta['n_train']} dev questions ({meta['n_advice']} advice): C={meta['C']}, "
              f"5-fold accuracy {meta['cv_accuracy']:.3f}")
    for split in ("dev", "test"):
        m = measure(split)
        print(f"{split}: accuracy {m['accuracy']:.3f} on {m['n']} questions (advice refused {m['tp']}, missed "
              f"{m['fn']}; informational refused {m['fp']}, answered {m['tn']})")
        for q, a, prob in m["wrong"]:
            print(f"   {'missed' if a else 'refused'} (p={prob}): {q}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
