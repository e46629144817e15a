"""The settings explained: the README's table of every variable, and where the variables of the versions
before the sections went (:class:`assistant.settings.Settings` refuses the old names with their new ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.settings import PROJECT_ROOT, SECTIONS, Settings

#: the flat names of the versions before the sections (ASSISTANT_<OLD NAME>) and where each field went
RENAMED = {
    "corpus_dir": "store.corpus_dir", "store_dir": "store.dir", "collection": "store.collection",
    "chroma_host": "store.chroma_host", "chroma_port": "store.chroma_port",
    "chroma_timeout_s": "store.chroma_timeout_s", "ingest_lock_timeout_s": "store.ingest_lock_timeout_s",
    "embedding_model": "embedding.model", "embedding_backend": "embedding.backend",
    "embedding_batch_size": "embedding.batch_size", "chunk_size": "chunking.size",
    "chunk_overlap": "chunking.overlap", "min_chunk_size": "chunking.min_size", "top_k": "retrieval.top_k",
    "candidate_k": "retrieval.candidate_k", "dense_weight": "retrieval.dense_weight",
    "bm25_weight": "retrieval.bm25_weight", "neighbour_weight": "retrieval.neighbour_weight",
    "max_score_gap": "retrieval.max_score_gap", "refresh_interval_s": "retrieval.refresh_interval_s",
    "min_relevance": "retrieval.min_relevance", "llm_base_url": "llm.base_url", "llm_model_name": "llm.model_name",
    "llm_endpoint_kind": "llm.endpoint_kind", "llm_api_key": "llm.api_key", "llm_timeout_s": "llm.timeout_s",
    "llm_max_retries": "llm.max_retries", "llm_model_path": "llm.model_path", "n_ctx": "llm.n_ctx",
    "n_threads": "llm.n_threads", "n_batch": "llm.n_batch", "max_tokens": "llm.max_tokens",
    "temperature": "llm.temperature", "decode_check_first": "llm.decode_check_first",
    "decode_fast_forward": "llm.decode_fast_forward", "flash_attn": "llm.flash_attn",
    "context_mode": "llm.context_mode", "prompt": "answer.prompt", "max_question_chars": "answer.max_question_chars",
    "history_turns": "answer.history_turns", "context_budget_chars": "answer.context_budget_chars",
    "related_quotes": "answer.related_quotes", "judge_base_url": "judge.base_url",
    "judge_model_name": "judge.model_name", "judge_api_key": "judge.api_key", "ui_host": "ui.host",
    "ui_port": "ui.port", "ui_auth": "ui.auth", "ui_concurrency": "ui.concurrency",
    "ui_upload_max_mb": "ui.upload_max_mb", "ui_eval_runs_dir": "ui.eval_runs_dir", "ui_maintainer": "ui.maintainer",
    "feedback_db": "ui.feedback_db",
}


def renamed_variables(environ: dict[str, str]) -> list[str]:
    """Variables of the flat scheme used before the sections (ASSISTANT_TOP_K...), with their new names."""
    found = []
    for old, new in RENAMED.items():
        if f"ASSISTANT_{old.upper()}" in environ:
            section, name = new.split(".")
            found.append(f"ASSISTANT_{old.upper()} -> ASSISTANT_{section.upper()}__{name.upper()}")
    return sorted(found)


def _shown_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path):
        try:
            return f"`{value.relative_to(PROJECT_ROOT)}`"
        except ValueError:
            return f"`{str(value).replace(str(Path.home()), '~')}`"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`"


def settings_table() -> str:
    """Every setting as a Markdown table (variable, default, meaning): the README's copy is tested against it."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for section, cls in SECTIONS.items():
        for name, info in cls.model_fields.items():
            default = info.get_default(call_default_factory=True)
            meaning = (info.description or "").replace("|", "\\|")
            rows.append(f"| `ASSISTANT_{section.upper()}__{name.upper()}` | {_shown_default(default)} | {meaning} |")
    for name, info in Settings.model_fields.items():
        if name not in SECTIONS:
            default = info.get_default(call_default_factory=True)
            rows.append(f"| `ASSISTANT_{name.upper()}` | {_shown_default(default)} | {info.description or ''} |")
    return "\n".join(rows)
