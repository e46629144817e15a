"""Shared fixtures. Everything runs offline against the real corpus and the
packaged embedding model; the ingested store is built once per session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
from assistant.offline import go_offline

go_offline()

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from assistant.settings import PROJECT_ROOT, Settings  # noqa: E402

CORPUS = PROJECT_ROOT / "corpus"
ARTICLE = CORPUS / "anastrozole-male-fertility.md"


@pytest.fixture(scope="session")
def article_text() -> str:
    return ARTICLE.read_text(encoding="utf-8")


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the corpus that a test may edit."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


@pytest.fixture
def tmp_settings(tmp_path: Path, corpus_copy: Path) -> Settings:
    return Settings(store={"dir": tmp_path / "store", "corpus_dir": corpus_copy})


@pytest.fixture(scope="session")
def ingested_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real corpus ingested once into a session store (read-only for tests)."""
    from assistant.ingestion import ingest

    settings = Settings(store={"dir": tmp_path_factory.mktemp("store") / "chroma", "corpus_dir": CORPUS})
    report = ingest([CORPUS], settings, progress=False)
    assert not report.failed, report.failed
    return settings


@pytest.fixture(scope="session")
def retriever(ingested_settings: Settings):
    from assistant.embeddings import LocalEmbeddings
    from assistant.retrieval import HybridRetriever
    from assistant.store import Store

    return HybridRetriever(
        store=Store.from_settings(ingested_settings), embeddings=LocalEmbeddings(), settings=ingested_settings.retrieval
    )
