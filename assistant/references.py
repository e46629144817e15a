"""The corpus's reference list as structured data (``corpus/references.yaml``)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

REFERENCES_FILE = "references.yaml"


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    authors: str
    title: str
    venue: str
    year: int
    volume: str | None = None
    pages: str | None = None
    date: str | None = None
    cues: list[str] = Field(default_factory=list)

    def first_author(self) -> str:
        return self.authors.split(",")[0].strip()

    def short(self) -> str:
        """'Lundy et al., 2023' style label for citations in the UI and CLI."""
        first = self.first_author()
        tail = " et al." if "et al" in self.authors or " and " in self.authors else ""
        return f"{first}{tail}, {self.year}"

    def full(self) -> str:
        parts = [self.authors, f"“{self.title}”", self.venue]
        if self.volume:
            parts.append(f"vol. {self.volume}")
        parts.append(str(self.year))
        if self.pages:
            parts.append(f"pp. {self.pages}")
        return ", ".join(parts)


def load_references(corpus_dir: Path) -> list[Reference]:
    """References of every ``references.yaml`` under the corpus folder (none is fine)."""
    refs: list[Reference] = []
    if not corpus_dir.is_dir():
        return refs
    for path in sorted(corpus_dir.rglob(REFERENCES_FILE)):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        refs.extend(Reference.model_validate(item) for item in data)
    keys = [r.key for r in refs]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise ValueError(f"duplicate reference keys in {REFERENCES_FILE}: {sorted(dupes)}")
    return refs
