"""Bad files in the corpus (empty, not UTF-8, binary, corrupt PDF, unsupported type, undecodable name): one
clear line each, and nothing lost: the valid file is ingested, the store stays consistent, nothing is stuck."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assistant.ingestion import ingest
from assistant.settings import PROJECT_ROOT, Settings
from tests.support.commands import assert_no_traceback, ingest_cmd, subprocess_env
from tests.support.corpus import GOOD_TEXT, make_pdf, small_corpus
from tests.support.stores import assert_consistent

PDF = make_pdf("Clomiphene raises gonadotropins in men with secondary hypogonadism.")
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "empty.md": (b"", "empty file"),
    "latin1.txt": ("Caf\u00e9 au lait, na\u00efve r\u00e9sum\u00e9".encode("latin-1"), "not valid UTF-8"),
    "utf16.txt": ("Anastrozole blocks aromatase.".encode("utf-16"), "UTF-16 text is not supported"),
    "blob.md": (bytes(range(256)) * 4, "binary file"),
    "fake.pdf": (b"this is not a pdf at all", "corrupt PDF"),
    "broken.pdf": (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>>\ngarbage without xref", "PDF"),
    "truncated.pdf": (PDF[: len(PDF) // 2], "corrupt or unreadable PDF"),
    "slides.docx": (b"PK\x03\x04 zip", "unsupported file type .docx"),
    "caf\udce9.md": (b"# Name\n\nA valid file whose name is not valid UTF-8 and cannot be a store key.\n",
                     "file name is not valid UTF-8"),
}


@pytest.mark.parametrize("name", list(BAD_FILES), ids=lambda n: n.encode("utf-8", "backslashreplace").decode())
def test_bad_file_is_reported_and_others_ingested(name: str, tmp_path: Path) -> None:
    """One line with the reason; the valid file is ingested; a file added later is still picked up (nothing
    is stuck on the bad one, which is reported again)."""
    corpus = small_corpus(tmp_path / "corpus")
    data, reason = BAD_FILES[name]
    bad = corpus / name
    bad.write_bytes(data)
    settings = Settings(store={"dir": tmp_path / "store", "corpus_dir": corpus})
    report = ingest([corpus], settings, progress=False)
    assert len(report.failed) == 1, report.failed
    path, why = report.failed[0]
    assert path == str(bad) and reason in why and len(why) < 200, why
    assert report.added == ["good.md"]
    view = assert_consistent(settings)
    assert view.sources == {"good.md"}

    fixed = corpus / "fixed.md"  # nothing is stuck: a good file added next to the bad one is picked up
    fixed.write_text(GOOD_TEXT.replace("Good note", "Fixed note"), encoding="utf-8")
    again = ingest([corpus], settings, progress=False)
    assert again.added == ["fixed.md"] and again.unchanged == ["good.md"] and len(again.failed) == 1
    assert assert_consistent(settings).sources == {"good.md", "fixed.md"}


def test_bad_files_through_ingest_py(tmp_path: Path) -> None:
    """All bad files at once through ``ingest.py``: one stderr line each, exit code 1, the good file stored."""
    corpus = small_corpus(tmp_path / "corpus")
    for name, (data, _) in BAD_FILES.items():
        (corpus / name).write_bytes(data)
    proc = subprocess.run(
        ingest_cmd(corpus, tmp_path / "store"), capture_output=True, cwd=PROJECT_ROOT, timeout=600,
        env=subprocess_env(ASSISTANT_STORE__CORPUS_DIR=str(corpus)),
    )
    out, err = proc.stdout.decode(), proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 1, err[-3000:]
    assert_no_traceback(out + err)
    for name, (_, reason) in BAD_FILES.items():
        shown = name.encode("utf-8", "backslashreplace").decode()  # how Python prints an undecodable name
        lines = [ln for ln in err.splitlines() if shown in ln]
        assert len(lines) == 1 and reason in lines[0], (name, err)
    assert "1 added" in out and f"{len(BAD_FILES)} failed" in out, out
    assert assert_consistent(Settings(store={"dir": tmp_path / "store", "corpus_dir": corpus})).sources == {"good.md"}
