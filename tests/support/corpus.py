"""Small corpora for tests that must not touch the real one: synthetic notes, one good file, a minimal PDF."""

from __future__ import annotations

import random
from pathlib import Path

from assistant.chunking import split_sentences
from tests.conftest import ARTICLE


def article_sentences() -> list[str]:
    """The article's prose sentences (no headings, tables or list items)."""
    text = ARTICLE.read_text(encoding="utf-8")
    paras = [p for p in text.split("\n\n") if p and not p.startswith(("#", "|", "-"))]
    return [p[s:e] for p in paras for s, e in split_sentences(p)]


def write_notes(folder: Path, n_files: int, n_paras: int, seed: int = 0, tag: str = "") -> list[Path]:
    """A synthetic corpus of unique ~300-450 character paragraphs (one chunk each) from the article's
    sentences, so chunking and embedding cost what they cost on the real corpus."""
    sentences = article_sentences()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(n_files):
        blocks = [f"# Note {f}"]
        for i in range(n_paras):
            body = " ".join(rng.sample(sentences, 2))[:380]
            blocks.append(f"Note {tag}{f}.{i}: {body}")
        path = folder / f"note{f:02d}.md"
        path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def make_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF whose page shows ``text`` (for the corrupt-PDF cases)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


GOOD_TEXT = (
    "# Good note\n\nAnastrozole is an aromatase inhibitor that lowers estradiol and so raises testosterone in men "
    "with a low testosterone to estradiol ratio; it is used off-label in male infertility.\n"
)


def small_corpus(folder: Path) -> Path:
    """One valid file, so every bad-file case can show that the valid file is still ingested."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.md").write_text(GOOD_TEXT, encoding="utf-8")
    return folder
