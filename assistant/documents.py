"""Read corpus files into text, with one clear reason when a file is unusable.

The text returned is what chunk offsets and quote spans refer to, so it is the
file's own characters (for .md/.txt exactly; for PDF and HTML the extracted
text), never a cleaned-up copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt", ".pdf", ".html", ".htm"}


class DocumentError(Exception):
    """A file that cannot be ingested; the message says why, for one log line."""


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the corpus root, with forward slashes
    path: Path
    text: str
    sha256: str
    kind: str  # "markdown", "text", "pdf", "html"


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def path_sha256(path: Path) -> str:
    """The SHA-256 of a file read in blocks: model files and KV caches are hundreds of megabytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError("UTF-16 text is not supported: save the file as UTF-8")
    if b"\x00" in data[:8192]:
        raise DocumentError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"corrupt or unreadable PDF ({exc})") from None
    return "\n\n".join(p.strip() for p in pages if p.strip())


def _html_text(raw: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "pre", "blockquote"]):
        if el.find(["p", "li", "h1", "h2", "h3", "h4", "table"]):
            continue  # a container; its children are collected on their own
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name and el.name[0] == "h" and el.name[1:].isdigit():
            text = "#" * int(el.name[1:]) + " " + text
        elif el.name == "li":
            text = "- " + text
        blocks.append(text)
    return "\n\n".join(blocks)


def load_document(path: Path, root: Path) -> Document:
    """Load one file; raise DocumentError with a human reason if it is unusable."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"unsupported file type {suffix or '(none)'}")
    try:  # the name becomes chunk ids and store metadata, which must be text
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise DocumentError("file name is not valid UTF-8: rename the file") from None
    try:
        data = path.read_bytes()
    except PermissionError:
        raise DocumentError("permission denied") from None
    except OSError as exc:
        raise DocumentError(f"cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise DocumentError("empty file")
    if suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise DocumentError("corrupt PDF (no %PDF header)")
        text, kind = _pdf_text(data), "pdf"
    elif suffix in {".html", ".htm"}:
        text, kind = _html_text(_decode(data)), "html"
    else:
        text, kind = _decode(data), ("markdown" if suffix in {".md", ".markdown"} else "text")
    if not text.strip():
        raise DocumentError("no text could be extracted")
    try:
        source = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        source = path.resolve().as_posix()
    return Document(source=source, path=path, text=text, sha256=file_sha256(data), kind=kind)


SIDECARS = {"references.yaml", "references.yml"}


def discover(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand folders into files to ingest, and list (path, reason) for paths that cannot be.

    Inside a folder, hidden files and the references sidecar are ignored; any
    other unsupported file is reported, so a dropped-in .docx is not silently lost.
    """
    found: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if not f.is_file() or any(part.startswith(".") for part in rel) or f.name in SIDECARS:
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(f)
                else:
                    problems.append((f, f"unsupported file type {f.suffix or '(none)'}"))
        elif p.exists():
            found.append(p)
        else:
            problems.append((p, "no such file or directory"))
    return found, problems
