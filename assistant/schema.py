"""Typed results shared by the chain, the CLI, the UI and the evaluation."""

from __future__ import annotations

from pydantic import BaseModel, Field


class QuestionError(ValueError):
    """A question the assistant will not process (empty, too long); message meant for the user."""


class Turn(BaseModel):
    question: str
    answer: str = ""


class Context(BaseModel):
    n: int
    chunk_id: str
    source: str
    section: str
    text: str
    start: int
    end: int
    score: float
    dense: float | None = None
    bm25: float | None = None
    ref_keys: list[str] = Field(default_factory=list)
    shown: str = ""  # what the model read: the table header and the sentences kept by context pruning


class Citation(BaseModel):
    n: int
    chunk_id: str
    source: str
    section: str
    quote: str | None
    verified: bool
    start: int | None = None
    end: int | None = None
    references: list[str] = Field(default_factory=list)  # 'Lundy et al., 2023: “title”' labels
    chosen_by: str = "model"  # "model": quoted in the answer; "retrieval": the passage's unit nearest the question
    label: str = ""  # for a table cell: "<row label>, <column header>"


class ClaimCheck(BaseModel):
    """One clause of the model's answer and what the answer-time check made of it."""

    claim: str
    kept: bool
    how: str  # "verbatim", "attribution", "echo", "polarity", "direction", "premise", "model", "unchecked",
    # or "restored" (kept: the sources' own statement put back for a side of a comparison, assistant.coverage)
    reason: str = ""


class Timings(BaseModel):
    retrieval_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0


class Answer(BaseModel):
    question: str
    query: str  # what was retrieved with (the resolved follow-up)
    answer: str  # as read: the checked prose, then the verified quotes (or the quotes alone, or the refusal)
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    contexts: list[Context] = Field(default_factory=list)
    timings: Timings = Field(default_factory=Timings)
    prompt: str = ""
    unverified_quotes: int = 0
    raw: str = ""  # the model's full output, for debugging and evaluation
    refused_by: str = ""  # why the answer is the refusal: relevance gate, advice, the model itself, or a guard
    prose: str = ""  # the model's own sentences that survived the checks ("" when it fell back to the quotes)
    checks: list[ClaimCheck] = Field(default_factory=list)  # every clause checked; kept=False ones were removed
    drafted: str = ""  # the model's prose before the check removed anything ("" when nothing was removed)
    fell_back: bool = False  # nothing the model wrote survived the check: the answer is the quotes themselves

    def public(self) -> dict:
        """The CLI's --json shape."""
        return self.model_dump(include={"question", "query", "answer", "abstained", "citations", "contexts",
                                        "timings", "prose", "checks", "drafted", "fell_back"})
