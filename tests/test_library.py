"""The Library tab's actions (add, remove, list) on a real store, and the Evaluations tab's run browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings

NOTE = """# Letrozole note

Letrozole is another aromatase inhibitor that some clinics use off-label in men.
"""


@pytest.fixture
def library(tmp_settings: Settings) -> Settings:
    from assistant.ingestion import ingest

    report = ingest([tmp_settings.store.corpus_dir], tmp_settings, progress=False)
    assert not report.failed
    return tmp_settings


def test_add_lists_and_remove_keeps_the_file(library: Settings, tmp_path: Path) -> None:
    from assistant.library import REMOVED_DIR, add, documents, remove
    from assistant.store import Store

    before = {d.source: d for d in documents(Store.from_settings(library))}
    main = before["anastrozole-male-fertility.md"]
    assert main.kind == "Markdown" and main.chunks > 50 and main.references >= 5 and main.ingested
    assert "table rows" in main.passages and "references" in main.passages

    upload = tmp_path / "upload" / "my note (v2).md"
    upload.parent.mkdir()
    upload.write_text(NOTE, encoding="utf-8")
    report = add(library, upload)
    assert not report.failed and report.added == ["my_note_v2.md"], report
    after = {d.source: d for d in documents(Store.from_settings(library))}
    assert set(after) == set(before) | {"my_note_v2.md"} and after["my_note_v2.md"].chunks >= 1
    assert (library.store.corpus_dir / "my_note_v2.md").read_text(encoding="utf-8") == NOTE

    note = remove(library, "my_note_v2.md")
    assert "Removed my_note_v2.md" in note
    assert set(d.source for d in documents(Store.from_settings(library))) == set(before)
    kept = list((library.store.corpus_dir / REMOVED_DIR).glob("*my_note_v2.md"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == NOTE
    # the next ingest of the corpus folder does not bring the removed file back (hidden folders are skipped)
    from assistant.ingestion import ingest

    ingest([library.store.corpus_dir], library, progress=False)
    assert "my_note_v2.md" not in {d.source for d in documents(Store.from_settings(library))}


def test_corrupt_or_oversized_uploads_change_nothing(library: Settings, tmp_path: Path) -> None:
    from assistant.library import LibraryError, add, documents
    from assistant.store import Store

    before = [d.row()[:5] for d in documents(Store.from_settings(library))]
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 this is not really a pdf")
    with pytest.raises(LibraryError, match=r"broken\.pdf"):
        add(library, bad)
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(LibraryError, match="unsupported file type"):
        add(library, exe)
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 300_000)
    with pytest.raises(LibraryError, match="over the 1 MB limit"):
        add(library.updated(ui={"upload_max_mb": 1}), big)
    assert [d.row()[:5] for d in documents(Store.from_settings(library))] == before
    corpus = library.store.corpus_dir
    assert not (corpus / "broken.pdf").exists() and not list(corpus.glob(".upload-*"))


def test_removing_an_unknown_document_is_refused(library: Settings) -> None:
    from assistant.library import LibraryError, remove

    with pytest.raises(LibraryError, match="not in the store"):
        remove(library, "../../etc/passwd")


def test_unsafe_upload_names_stay_in_the_corpus_folder() -> None:
    from assistant.library import safe_name

    assert safe_name("../../etc/passwd.md") == "passwd.md"
    assert safe_name(".hidden.md") == "hidden.md"
    assert safe_name("Résumé 2024.PDF") == "R_sum_2024.pdf"


def test_evaluation_runs_are_listed_shown_and_compared(tmp_path: Path) -> None:
    from eval import browse
    from tests.test_eval_compare import CASES_A, write_run

    runs = tmp_path / "runs"
    write_run(runs / "base", CASES_A, [])
    changed = [dict(c, scores={**c["scores"], "hit@3": 0.0}) for c in CASES_A]
    write_run(runs / "cand", changed, [])
    (runs / "not-a-run").mkdir()
    assert set(browse.runs(runs)) == {"base", "cand"}
    text, chart = browse.show("base", runs)
    assert '"id": "base"' in text and chart is None
    comparison = browse.compare_runs("base", "cand", runs)
    assert "# Run comparison: `base` (A) → `cand` (B)" in comparison and "hit@3" in comparison
    assert browse.show("../runs", tmp_path / "runs/base")[0].startswith("⚠️")
    assert browse.compare_runs("base", "", runs).startswith("Choose")
