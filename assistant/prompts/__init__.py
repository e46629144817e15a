"""Prompt versions are data: ``assistant/prompts/<name>.yaml``.

A new prompt needs no code change; it is validated at load so a typo in a
template variable fails loudly instead of silently sending "{pasages}".
"""

from __future__ import annotations

import hashlib
import string
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

PROMPTS_DIR = Path(__file__).resolve().parent

# template field -> (allowed variables, required variables)
VARIABLES: dict[str, tuple[set[str], set[str]]] = {
    "system": ({"refusal"}, set()),
    "user": ({"passages", "question", "history", "refusal"}, {"passages", "question"}),
    "passage": ({"n", "section", "text", "cites"}, {"n", "text"}),
    "history_turn": ({"question", "answer"}, {"question"}),
    "corpus_pointer": ({"numbers"}, {"numbers"}),
}


class PromptError(ValueError):
    pass


def template_variables(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise PromptError(f"malformed template: {exc}") from None


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    refusal: str
    system: str
    user: str
    passage: str = "[{n}] {text}"
    history_turn: str = "Earlier question: {question}\n"
    #: corpus mode: the line after the question that points the model at the passages retrieval chose
    corpus_pointer: str = "The passages about this question: {numbers}."
    grammar: bool = False  # constrain quotes to passage sentences (local model only)

    @model_validator(mode="after")
    def _check_variables(self) -> Prompt:
        for field, (allowed, required) in VARIABLES.items():
            used = template_variables(getattr(self, field))
            unknown = used - allowed
            if unknown:
                raise PromptError(f"prompt '{self.name}': {field} uses unknown variables {sorted(unknown)}")
            missing = required - used
            if missing:
                raise PromptError(f"prompt '{self.name}': {field} lacks required variables {sorted(missing)}")
        if not self.refusal.strip():
            raise PromptError(f"prompt '{self.name}': refusal must not be empty")
        return self

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def system_text(self) -> str:
        return self.system.format(refusal=self.refusal).strip()


def available() -> list[str]:
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))


@lru_cache(maxsize=16)
def load_prompt(name: str) -> Prompt:
    path = PROMPTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise PromptError(f"no prompt named '{name}' (available: {', '.join(available())})")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise PromptError(f"{path.name}: expected a mapping")
    data.setdefault("name", name)
    try:
        return Prompt.model_validate(data)
    except PromptError:
        raise
    except ValueError as exc:
        raise PromptError(f"{path.name}: {exc}") from None
