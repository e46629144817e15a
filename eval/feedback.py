"""``python -m eval feedback export --out FILE.jsonl``: thumbs-down answers from the chat page as eval cases.

Each case replays the conversation up to the answer that was marked wrong, in the dataset format
``python -m eval run --dataset FILE.jsonl`` takes as it is; ``needs_review`` marks that a maintainer still has
to write its ``must``/``must_not`` (the user's comment and the answer they saw are kept under ``feedback``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from assistant.feedback import FeedbackStore, as_eval_case
    from assistant.settings import load_settings

    p = argparse.ArgumentParser(prog="python -m eval feedback", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write the thumbs-down answers as evaluation cases")
    ex.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    ex.add_argument("--db", type=Path, help="feedback database (default: the setting ui.feedback_db)")
    args = p.parse_args(argv)
    db = args.db or load_settings().feedback_path
    if not Path(db).is_file():
        print(f"error: no feedback database at {db}", file=sys.stderr)
        return 2
    rows = FeedbackStore(db).rows(rating=-1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(as_eval_case(row), ensure_ascii=False) + "\n")
    print(f"{len(rows)} thumbs-down answer(s) written to {args.out} (each needs its must/must_not reviewed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
