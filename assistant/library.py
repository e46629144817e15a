"""What the assistant knows, and the maintainer's changes to it from the chat page.

Why a module of its own: the page's Library tab and its write actions must
behave exactly like ``ingest.py`` (same checks, same messages, the same lock),
so they call :func:`assistant.ingestion.ingest` and add only what a web upload
needs: a size limit, a safe file name, and a removal that keeps the file.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assistant.documents import DocumentError, load_document
from assistant.ingestion import IngestReport, ingest, source_path
from assistant.settings import Settings
from assistant.store import Store

log = logging.getLogger(__name__)

REMOVED_DIR = ".removed"  # inside the corpus folder; ingest skips hidden folders
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class LibraryError(ValueError):
    """A library action that cannot be done; the message is meant for the maintainer."""


@dataclass(frozen=True)
class Document:
    source: str
    kind: str  # the file format, from its name
    chunks: int
    passages: str  # e.g. "40 text, 25 table rows, 10 references"
    references: int  # distinct cited references
    ingested: str  # ISO time of the last ingest that wrote it ("" for stores from before this field)

    def row(self) -> list:
        return [self.source, self.kind, self.chunks, self.passages, self.references, self.ingested]


COLUMNS = ["File", "Kind", "Chunks", "Passages", "References cited", "Last ingested (UTC)"]
_KINDS = {".md": "Markdown", ".markdown": "Markdown", ".txt": "text", ".pdf": "PDF", ".html": "HTML", ".htm": "HTML"}
_PLURAL = {"text": "text", "table_row": "table rows", "reference": "references"}


def documents(store: Store) -> list[Document]:
    """The documents in the store, read from the chunks' metadata (the store is the truth, not the folder)."""
    per: dict[str, dict] = {}
    for meta in store.metadatas():
        d = per.setdefault(str(meta["source"]), {"kinds": Counter(), "refs": set(), "at": ""})
        d["kinds"][str(meta.get("kind", "text"))] += 1
        d["refs"].update(k for k in str(meta.get("ref_keys") or "").split(",") if k)
        d["at"] = max(d["at"], str(meta.get("ingested_at") or ""))
    out = []
    for source, d in sorted(per.items()):
        kinds = ", ".join(f"{n} {_PLURAL.get(k, k)}" for k, n in d["kinds"].most_common())
        out.append(Document(source, _KINDS.get(Path(source).suffix.lower(), "?"), sum(d["kinds"].values()), kinds,
                            len(d["refs"]), d["at"].replace("T", " ").replace("+00:00", "")))
    return out


def safe_name(name: str) -> str:
    """A file name that cannot leave the corpus folder or hide itself."""
    stem = _SAFE.sub("_", Path(name).stem).strip("._") or "document"
    return f"{stem[:80]}{Path(name).suffix.lower()}"


def add(settings: Settings, upload: Path, name: str | None = None) -> IngestReport:
    """Copy an uploaded file into the corpus folder and ingest it; a file of the same name is replaced."""
    upload = Path(upload)
    name = safe_name(name or upload.name)
    size = upload.stat().st_size
    limit = settings.ui.upload_max_mb * 1024 * 1024
    if size > limit:
        raise LibraryError(f"{name}: {size / 1e6:.1f} MB is over the {settings.ui.upload_max_mb} MB limit")
    corpus = Path(settings.store.corpus_dir)
    try:  # ingest's own reading (type, encoding, corruption): a bad file is refused before it replaces anything
        load_document(upload, upload.parent)
    except DocumentError as exc:
        raise LibraryError(f"{name}: {exc}") from None
    corpus.mkdir(parents=True, exist_ok=True)
    target = corpus / name
    staged = corpus / f".upload-{name}"
    shutil.copyfile(upload, staged)
    staged.replace(target)  # atomic: the corpus never holds half a file
    return ingest([target], settings, progress=False)


def remove(settings: Settings, source: str) -> str:
    """Take a document out of the store; its file moves to the corpus's ``.removed`` folder, never deleted."""
    n = Store.from_settings(settings).delete_source(source)
    if n == 0:
        raise LibraryError(f"{source} is not in the store")
    path = source_path(source, Path(settings.store.corpus_dir))
    where = ""
    if path.is_file():
        keep = Path(settings.store.corpus_dir) / REMOVED_DIR
        keep.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        dest = keep / f"{stamp}-{path.name}"
        shutil.move(str(path), dest)
        where = f"; the file is kept in {dest}"
    log.info("removed %s (%d chunks)%s", source, n, where)
    return f"Removed {source}: {n} chunks{where}."
