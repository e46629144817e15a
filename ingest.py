"""Ingest documents into the assistant's Chroma store.

    python ingest.py [PATH ...] [--store DIR] [--reset] [--prune]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from assistant.offline import go_offline

go_offline()

from assistant.logs import setup_logging  # noqa: E402
from assistant.settings import load_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: corpus/)")
    parser.add_argument("--store", type=Path, help="store folder (default: setting store_dir)")
    parser.add_argument("--reset", action="store_true", help="empty the collection first")
    parser.add_argument("--prune", action="store_true", help="remove chunks of files that no longer exist")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from pydantic import ValidationError

    try:
        settings = load_settings(store={"dir": args.store})
    except ValidationError as exc:
        print(f"ingest: invalid settings: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    log = logging.getLogger("ingest")

    from assistant.ingestion import ingest
    from assistant.store import StoreError

    paths = args.paths or [settings.store.corpus_dir]
    try:
        report = ingest(paths, settings, reset=args.reset, prune=args.prune, progress=not args.no_progress,
                        workers=True)
    except StoreError as exc:
        log.error("ingest: %s", exc)
        return 2
    for path, reason in report.failed:
        log.error("failed: %s: %s", path, reason)
    print(f"ingest: {report.summary()}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
