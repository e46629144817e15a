"""Settings: sections, the environment scheme, copies, the answer key and the README's table."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from assistant.settings import ANSWER_SECTIONS, PROJECT_ROOT, SECTIONS, Settings, load_settings
from assistant.settings_help import settings_table


def test_environment_sets_a_section_field_and_init_values_merge_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("ASSISTANT_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    s = Settings(retrieval={"candidate_k": 9})
    assert (s.retrieval.top_k, s.retrieval.candidate_k, s.llm.base_url) == (7, 9, "http://127.0.0.1:9/v1")
    assert load_settings(retrieval={"top_k": 4}, answer={"prompt": None}).retrieval.top_k == 4  # a flag beats env
    assert load_settings(answer={"prompt": None}).answer.prompt == "v4"  # None means "not given"


def test_old_flat_names_are_refused_with_their_new_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "5")
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", "http://x")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "ASSISTANT_TOP_K -> ASSISTANT_RETRIEVAL__TOP_K" in str(err.value)
    assert "ASSISTANT_LLM_BASE_URL -> ASSISTANT_LLM__BASE_URL" in str(err.value)


def test_unknown_fields_and_bad_values_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(retrieval={"top_kk": 3})
    with pytest.raises(ValidationError):
        Settings(chunking={"size": 300, "min_size": 400})
    with pytest.raises(ValidationError):
        Settings(ui={"auth": "no-colon"})


def test_updated_merges_into_a_section_validates_and_leaves_the_original() -> None:
    s = Settings()
    t = s.updated(retrieval={"top_k": 5}, log_level="DEBUG")
    assert (t.retrieval.top_k, t.retrieval.candidate_k, t.log_level) == (5, s.retrieval.candidate_k, "DEBUG")
    assert s.retrieval.top_k == 3
    with pytest.raises(ValidationError):
        s.updated(retrieval={"top_k": 0})


def test_answer_settings_cover_the_answer_sections_without_neutral_fields() -> None:
    s = Settings()
    key = s.answer_settings()
    assert set(key) == set(ANSWER_SECTIONS)
    assert "api_key" not in key["llm"] and "timeout_s" not in key["llm"]
    assert "refresh_interval_s" not in key["retrieval"]
    assert s.updated(retrieval={"top_k": 4}).answer_settings() != key
    assert s.updated(embedding={"backend": "torch"}).answer_settings() != key
    assert s.updated(llm={"timeout_s": 5.0}, ui={"port": 9999}, store={"dir": PROJECT_ROOT}).answer_settings() == key


def test_readme_table_is_the_code_s() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- settings-table -->\n(.*?)\n<!-- /settings-table -->", readme, re.S)
    assert table is not None and table.group(1) == settings_table()
    assert len(settings_table().splitlines()) == 2 + sum(len(c.model_fields) for c in SECTIONS.values()) + 2


def test_every_renamed_name_points_at_a_field_and_other_variables_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.settings_help import RENAMED

    for new in RENAMED.values():
        section, name = new.split(".")
        assert name in SECTIONS[section].model_fields, new
    monkeypatch.setenv("ASSISTANT_PORT", "1")  # never a setting: not mistaken for an old name
    assert Settings().ui.port == 7860
