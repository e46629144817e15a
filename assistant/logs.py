"""Logging set-up shared by the entry points (library code only logs)."""

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "urllib3", "gradio", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # pypdf warns about every flaw it works around; a file it cannot read is reported once, by ingest
    logging.getLogger("pypdf").setLevel(logging.ERROR)
