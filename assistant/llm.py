"""The chat model: llama.cpp in-process by default, or any OpenAI-compatible endpoint.

The in-process model (its file: :mod:`assistant.model_file`) is loaded once per
process and reused, so llama.cpp can reuse the cached prefix (the static system
prompt) across turns.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel

from assistant.model_file import ModelError, model_path
from assistant.settings import Settings

log = logging.getLogger(__name__)

_models: dict[tuple, BaseChatModel] = {}
_models_lock = threading.Lock()


def _key(settings: Settings) -> tuple:
    return (settings.llm.model_dump_json(),)  # every field of the model's section, and only those


def sampling(settings: Settings) -> dict[str, Any]:
    """llama.cpp sampling parameters beyond temperature, the same in-process and on a llama.cpp server.

    Why explicit: llama.cpp's defaults differ between the two (the server
    applies repeat_penalty 1.1, which penalises copying passage sentences), so
    the same question would get different answers locally and remotely.
    """
    return {"repeat_penalty": 1.0, "top_p": 1.0, "top_k": 1 if settings.llm.temperature == 0 else 40}


def sends_grammar(settings: Settings) -> bool:
    """Whether the model accepts a GBNF grammar: in-process llama.cpp, or a llama.cpp server."""
    return not settings.llm.base_url or settings.llm.endpoint_kind == "llama.cpp"


def grammar_kwargs(settings: Settings, grammar: str, forced=None) -> dict[str, Any]:
    """Keyword arguments of ``stream`` that constrain the answer to the GBNF ``grammar``.

    In-process the grammar is compiled here; a llama.cpp server takes its text
    in the request body (``grammar``, a llama.cpp extension of the OpenAI API),
    next to the sampling parameters, since a per-call ``extra_body`` replaces
    the model's own. Other OpenAI-compatible endpoints get nothing extra.
    """
    if not settings.llm.base_url:
        return {"grammar": grammar, "forced": forced}
    if settings.llm.endpoint_kind == "llama.cpp":
        return {"extra_body": {**sampling(settings), "grammar": grammar}}
    return {}


def _root_cause(exc: BaseException) -> str:
    """The innermost error's message ("[Errno 111] Connection refused"), not the wrappers' "Connection error."."""
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return str(exc) or type(exc).__name__


@contextmanager
def endpoint_errors(settings: Settings) -> Iterator[None]:
    """Turn failures of a remote endpoint into a ModelError naming it, instead of an openai/httpx traceback.

    Covers a refused or dropped connection, a timeout (before the reply, or
    between streamed pieces, which httpx raises unwrapped), and an HTTP error
    status (wrong API key, unknown model name, a server error).
    """
    if not settings.llm.base_url:
        yield
        return
    import httpx
    import openai

    url = settings.llm.base_url
    waited = f"no reply within {settings.llm.timeout_s:g}s, setting llm.timeout_s"
    try:
        yield
    except openai.APITimeoutError:
        raise ModelError(f"the LLM endpoint at {url} did not answer ({waited})") from None
    except openai.APIConnectionError as exc:
        reason = _root_cause(exc)
        raise ModelError(
            f"cannot reach the LLM endpoint at {url} ({reason}); check that the server is running "
            "and the setting llm.base_url"
        ) from None
    except openai.APIStatusError as exc:
        hint = {401: "; check the setting llm.api_key", 404: "; check llm.base_url and llm.model_name"}
        raise ModelError(
            f"the LLM endpoint at {url} refused the request (HTTP {exc.status_code}: {exc.message})"
            f"{hint.get(exc.status_code, '')}"
        ) from None
    except httpx.TimeoutException:
        raise ModelError(f"the LLM endpoint at {url} stopped answering ({waited})") from None
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise ModelError(f"the connection to the LLM endpoint at {url} broke off ({reason})") from None


def chat_model(settings: Settings) -> BaseChatModel:
    """The process-wide chat model for these settings (created on first use)."""
    key = _key(settings)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _remote(settings) if settings.llm.base_url else _local(settings)
            _models[key] = model
        return model


def _remote(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=settings.llm.base_url,
        api_key=settings.llm.api_key or "not-needed",
        model=settings.llm.model_name,
        temperature=settings.llm.temperature,
        max_tokens=settings.llm.max_tokens,
        timeout=settings.llm.timeout_s,
        # the openai client retries twice by default: a dead endpoint would cost three timeouts
        max_retries=settings.llm.max_retries,
        streaming=True,
        extra_body=sampling(settings) if settings.llm.endpoint_kind == "llama.cpp" else None,
    )


def _local(settings: Settings) -> BaseChatModel:
    from llama_cpp import Llama

    from assistant.engine import LlamaEngine

    path = model_path(settings)
    t0 = time.perf_counter()
    try:
        llama = Llama(
            model_path=str(path),
            n_ctx=settings.llm.context_tokens,
            n_batch=settings.llm.n_batch,
            n_threads=settings.llm.n_threads or os.cpu_count() or 2,
            # take rope parameters from the GGUF: LangChain's ChatLlamaCpp defaults made this model invent text
            rope_freq_base=0.0,
            rope_freq_scale=0.0,
            flash_attn=settings.llm.flash_attn,
            logits_all=False,
            verbose=False,
        )
    except Exception as exc:
        raise ModelError(f"cannot load the model {path}: {exc}") from None
    log.info("model %s loaded in %.1fs", path.name, time.perf_counter() - t0)
    return LocalChatModel(engine=LlamaEngine(llama), max_tokens=settings.llm.max_tokens,
                          temperature=settings.llm.temperature, check_first=settings.llm.decode_check_first,
                          fast_forward=settings.llm.decode_fast_forward)


class LocalChatModel(BaseChatModel):
    """The in-process model as a LangChain chat model, decoding with :class:`assistant.engine.LlamaEngine`.

    ``stream(messages, grammar=..., forced=...)`` constrains the output to a GBNF
    grammar and fast-forwards through what it forces; ``client`` is the loaded
    ``llama_cpp.Llama`` (the benchmark's raw llama.cpp baseline calls it);
    :meth:`next_token_logits` is what the evaluation's yes/no judge reads.
    """

    engine: Any
    max_tokens: int = 320
    temperature: float = 0.0
    check_first: bool = True
    fast_forward: bool = True

    @property
    def client(self):
        return self.engine.llama

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-engine"

    def tokenize(self, text: str) -> list[int]:
        """``text`` as this model's tokens, special tokens (``<|im_start|>``) included, no BOS added."""
        return self.engine.tokenize(text)

    def next_token_logits(self, tokens: Sequence[int]) -> np.ndarray:
        """The logits of the token after ``tokens`` (a copy), the longest cached prefix of them reused.

        Why a method: the evaluation's judge scores yes/no by these logits with the one loaded model; reading
        them takes llama.cpp's private context, which only this module and the engine touch, and the engine's
        lock, so a judgement never interleaves with an answer being generated.
        """
        with self.engine.lock:
            self.engine.feed(tokens)
            return self.engine.logits().copy()

    def _pieces(self, messages, grammar: str | None = None, forced=None, max_tokens: int | None = None,
                prompt_tokens: list[int] | None = None):
        """``prompt_tokens`` (corpus mode) replaces the messages' own formatting."""
        from assistant.engine import chatml

        roles = {"system": "system", "human": "user", "ai": "assistant"}
        turns = [(roles.get(m.type, m.type), m.content if isinstance(m.content, str) else str(m.content))
                 for m in messages]
        with self.engine.lock:
            yield from self.engine.generate(
                prompt_tokens or self.engine.tokenize(chatml(turns)), max_tokens or self.max_tokens, grammar,
                forced if self.fast_forward else None, check_first=self.check_first,
                temperature=self.temperature,
            )

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        from langchain_core.messages import AIMessage
        from langchain_core.outputs import ChatGeneration, ChatResult

        text = "".join(self._pieces(messages, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        from langchain_core.messages import AIMessageChunk
        from langchain_core.outputs import ChatGenerationChunk

        for piece in self._pieces(messages, **kwargs):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
