import pytest

from assistant.prompts import Prompt, PromptError, available, load_prompt


def test_every_shipped_prompt_loads() -> None:
    names = available()
    assert "v1" in names
    for name in names:
        p = load_prompt(name)
        assert p.refusal in p.system_text()
        assert len(p.sha256) == 64


def _prompt(**kw: str) -> Prompt:
    base = {"name": "t", "refusal": "No.", "system": "Say {refusal}", "user": "{passages}\n{question}"}
    base.update(kw)
    return Prompt(**base)


def test_unknown_variable_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown variables \\['pasages'\\]"):
        _prompt(user="{pasages}\n{question}")


def test_missing_required_variable_is_rejected() -> None:
    with pytest.raises(ValueError, match="lacks required variables \\['question'\\]"):
        _prompt(user="{passages}")


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValueError, match="extra"):
        Prompt(name="t", refusal="No.", system="s", user="{passages}{question}", temperature="0")


def test_unknown_prompt_name() -> None:
    with pytest.raises(PromptError, match="no prompt named 'nope'"):
        load_prompt("nope")
