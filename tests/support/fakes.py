"""Stand-ins for the model."""

from __future__ import annotations


def no_llm() -> None:
    """A model factory for cases that must be settled before any model call."""
    raise AssertionError("the model must not be called")
