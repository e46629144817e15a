"""ingest.py end to end on the real corpus and the packaged embedding model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.ingestion import ingest
from assistant.settings import PROJECT_ROOT, Settings
from assistant.store import Store, StoreError
from tests.conftest import ARTICLE


def _run(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTANT_STORE__CORPUS_DIR": str(settings.store.corpus_dir)}
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "ingest.py"), "--no-progress", "--store", str(settings.store.dir), *args],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=600,
    )


def test_cold_then_idempotent_reingest(tmp_settings: Settings) -> None:
    first = ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    assert first.added == ["anastrozole-male-fertility.md"] and not first.failed
    n = first.total_chunks
    assert n == first.embedded and 50 <= n <= 80
    second = ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    assert second.embedded == 0 and second.added == [] and second.updated == []
    assert second.unchanged == ["anastrozole-male-fertility.md"]
    assert second.total_chunks == n


def test_store_chunks_are_slices_with_metadata(ingested_settings: Settings, article_text: str) -> None:
    chunks = Store.from_settings(ingested_settings).all_chunks()
    assert chunks
    for c in chunks:
        assert c.source == "anastrozole-male-fertility.md"
        assert article_text[c.start : c.end] == c.text
    assert sum(c.kind == "reference" for c in chunks) == 10
    assert any("lundy2023" in c.ref_keys and c.kind == "text" for c in chunks)


def test_changed_file_is_replaced_without_duplicates(tmp_settings: Settings) -> None:
    ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    store = Store.from_settings(tmp_settings)
    before = {c.id: c for c in store.all_chunks()}
    path = tmp_settings.store.corpus_dir / ARTICLE.name
    text = path.read_text(encoding="utf-8")
    old = "Testosterone, while vital, does not operate in isolation."
    path.write_text(text.replace(old, "Testosterone, while essential, never operates alone."), encoding="utf-8")
    report = ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    assert report.updated == [ARTICLE.name]
    assert report.embedded == 1  # only the edited chunk is embedded again
    after = store.all_chunks()
    assert len(after) == len(before) == len({c.id for c in after})
    assert not any(old in c.text for c in after)
    new_text = path.read_text(encoding="utf-8")
    assert all(new_text[c.start : c.end] == c.text for c in after)


def test_prune_removes_deleted_files(tmp_settings: Settings) -> None:
    extra = tmp_settings.store.corpus_dir / "notes.txt"
    extra.write_text("Letrozole is another aromatase inhibitor mentioned in the meta-analysis.\n", encoding="utf-8")
    ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    store = Store.from_settings(tmp_settings)
    assert store.ids_for("notes.txt")
    extra.unlink()
    kept = ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    assert kept.removed == [] and store.ids_for("notes.txt")  # without --prune nothing is removed
    pruned = ingest([tmp_settings.store.corpus_dir], tmp_settings, prune=True, progress=False)
    assert pruned.removed == ["notes.txt"] and not store.ids_for("notes.txt")
    assert store.ids_for(ARTICLE.name)


def test_reset_empties_first(tmp_settings: Settings) -> None:
    first = ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    again = ingest([tmp_settings.store.corpus_dir], tmp_settings, reset=True, progress=False)
    assert again.added == [ARTICLE.name] and again.total_chunks == first.total_chunks


def test_interrupted_file_is_redone(tmp_settings: Settings) -> None:
    """A file whose chunks are only partly stored (a killed ingest) is ingested again."""
    ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    store = Store.from_settings(tmp_settings)
    ids = store.ids_for(ARTICLE.name)
    store.collection.delete(ids=ids[:5])
    report = ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    assert report.updated == [ARTICLE.name] and report.embedded == 5
    assert sorted(store.ids_for(ARTICLE.name)) == sorted(ids)


# Unreadable files of every kind (non-UTF-8, binary, corrupt PDF, ...) are in tests/test_bad_files.py.


def test_unreadable_and_missing_paths(tmp_settings: Settings) -> None:
    locked = tmp_settings.store.corpus_dir / "locked.md"
    locked.write_text("secret", encoding="utf-8")
    locked.chmod(0)
    folder = tmp_settings.store.corpus_dir / "folder.md"  # a path that is not a readable file, even for root
    folder.mkdir()
    (folder / "inner.bin").write_bytes(b"x")
    missing = tmp_settings.store.corpus_dir / "nope.md"
    args = [str(locked), str(missing), str(tmp_settings.store.corpus_dir / ARTICLE.name)]
    proc = _run([*args, str(folder / "inner.bin")], tmp_settings)
    locked.chmod(0o644)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "nope.md: no such file or directory" in proc.stderr
    assert "inner.bin: unsupported file type .bin" in proc.stderr
    if os.geteuid() != 0:  # root reads a mode-000 file anyway
        assert "locked.md: permission denied" in proc.stderr
        assert "1 added" in proc.stdout
    else:
        assert "2 added" in proc.stdout
    assert Store.from_settings(tmp_settings).ids_for(ARTICLE.name)


def test_summary_line_and_missing_store_created(tmp_settings: Settings) -> None:
    assert not Path(tmp_settings.store.dir).exists()
    proc = _run([], tmp_settings)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("ingest: 1 added, 0 updated, 0 unchanged, 0 removed, 0 failed;")
    assert "chunks in store" in last


def test_store_that_cannot_be_opened(tmp_path: Path, corpus_copy: Path) -> None:
    bad = tmp_path / "store"
    bad.write_text("a file where the store folder should be", encoding="utf-8")
    settings = Settings(store={"dir": bad, "corpus_dir": corpus_copy})
    proc = _run([], settings)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "store" in proc.stderr.lower()
    with pytest.raises(StoreError):
        ingest([corpus_copy], settings, progress=False)


def test_missing_store_for_queries(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"run `python ingest\.py` first"):
        Store.from_settings(Settings(store={"dir": tmp_path / "absent"}))


def test_each_file_gets_its_own_vectors(tmp_path: Path) -> None:
    """Every stored vector is its own chunk's, across several new files (a mix-up between files or batches
    would pass every count check and wreck retrieval)."""
    import numpy as np

    from assistant.embeddings import LocalEmbeddings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    topics = ["Leydig cells make testosterone.", "Sertoli cells nourish sperm.", "Aromatase makes estradiol.",
              "The pituitary releases LH and FSH.", "Clomiphene blocks estrogen receptors."]
    for i, topic in enumerate(topics):
        paragraphs = [f"{topic} Paragraph {j} of file {i} says so again in other words." for j in range(i + 1)]
        (corpus / f"doc{i}.md").write_text(f"# File {i}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    settings = Settings(store={"dir": tmp_path / "store", "corpus_dir": corpus})
    report = ingest([corpus], settings, progress=False)
    assert report.added == [f"doc{i}.md" for i in range(len(topics))] and not report.failed
    store = Store.from_settings(settings)
    got = store.collection.get(include=["embeddings", "metadatas"])
    chunks = {c.id: c for c in store.all_chunks()}
    expected = np.array(LocalEmbeddings.from_settings(settings).embed([chunks[i].embed_text() for i in got["ids"]]))
    assert np.allclose(np.array(got["embeddings"]), expected, atol=1e-5)
    assert {m["source"] for m in got["metadatas"]} == {f"doc{i}.md" for i in range(len(topics))}
