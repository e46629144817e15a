"""Yes/no judges that return a probability, not a parsed string.

A 1.5B judge asked for JSON often breaks the schema or argues itself into
"supported". Asking one short yes/no question and reading the next-token
distribution avoids both: the output cannot be malformed (there is no output,
only logits), and the probability of "yes" is a graded score, so two answers
that both get "yes" are still ranked by how sure the judge is.

``LocalJudge`` reads the logits of the in-process llama.cpp model (the same
loaded model the assistant uses, so no second 2 GB copy); ``OpenAIJudge`` asks
any OpenAI-compatible endpoint for the top log-probabilities of one token.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.llm import LocalChatModel

log = logging.getLogger(__name__)

YES = ("yes", "Yes", "YES", " yes", " Yes")
NO = ("no", "No", "NO", " no", " No")


class JudgeError(RuntimeError):
    """The judge cannot be loaded or reached; message meant for the user."""


class Judge(Protocol):
    """Anything that can answer a yes/no question with P(yes)."""

    name: str

    def p_yes(self, system: str, user: str) -> float: ...


def _p_yes_from(logprobs: Iterable[tuple[str, float]]) -> float | None:
    """P(yes) renormalised over the yes/no tokens among the candidates; None if neither appears."""
    yes = no = 0.0
    for token, lp in logprobs:
        t = token.strip().lower()
        if t == "yes":
            yes += math.exp(lp)
        elif t == "no":
            no += math.exp(lp)
    if yes + no == 0:
        return None
    return yes / (yes + no)


class LocalJudge:
    """Scores yes/no prompts with the in-process llama.cpp model, reusing its cached prompt prefix."""

    def __init__(self, model: LocalChatModel, name: str = "local") -> None:
        self.model = model
        self.name = name
        vocab = [model.tokenize(w) for w in YES + NO]
        self._yes = sorted({t[0] for t, w in zip(vocab, YES + NO, strict=True) if w in YES and len(t) == 1})
        self._no = sorted({t[0] for t, w in zip(vocab, YES + NO, strict=True) if w in NO and len(t) == 1})
        if not self._yes or not self._no:
            raise JudgeError("the judge model has no single-token 'yes'/'no'")

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalJudge:
        from assistant.llm import LocalChatModel, chat_model

        model = chat_model(settings)
        if not isinstance(model, LocalChatModel):
            raise JudgeError("the local judge needs the in-process llama.cpp model (unset llm.base_url)")
        return cls(model, name=f"local:{settings.llm.model_path.name if settings.llm.model_path else 'default'}")

    def _prompt_tokens(self, system: str, user: str) -> list[int]:
        # ChatML, the template of the default model (Qwen2.5); the answer starts right after "assistant\n"
        text = (
            f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
        )
        return self.model.tokenize(text)

    def p_yes(self, system: str, user: str) -> float:
        # the longest cached prefix (the system prompt) is kept and only the rest evaluated
        logits = self.model.next_token_logits(self._prompt_tokens(system, user))
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        yes, no = float(probs[self._yes].sum()), float(probs[self._no].sum())
        if yes + no < 1e-6:
            log.debug("judge put almost no mass on yes/no (%.2g)", yes + no)
        return yes / (yes + no) if yes + no > 0 else 0.5


@dataclass
class OpenAIJudge:
    """Any OpenAI-compatible endpoint that returns top log-probabilities (OpenAI, vLLM, llama.cpp server)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 0
    name: str = "openai"

    def __post_init__(self) -> None:
        from openai import OpenAI

        self.name = f"openai:{self.model}@{self.base_url}"
        self._logprobs = True
        self._client = OpenAI(base_url=self.base_url, api_key=self.api_key or "not-needed",
                              timeout=self.timeout_s, max_retries=self.max_retries)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIJudge:
        url = settings.judge.base_url or settings.llm.base_url
        if not url:
            raise JudgeError("--judge openai needs ASSISTANT_JUDGE__BASE_URL (or ASSISTANT_LLM__BASE_URL) set")
        return cls(url, settings.judge.model_name or settings.llm.model_name,
                   settings.judge.api_key or settings.llm.api_key, settings.llm.timeout_s, settings.llm.max_retries)

    def p_yes(self, system: str, user: str) -> float:
        import openai

        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        r = None
        if self._logprobs:
            try:
                r = self._client.chat.completions.create(model=self.model, max_tokens=1, temperature=0,
                                                         logprobs=True, top_logprobs=10, messages=messages)
            except openai.APIStatusError as exc:
                # llama.cpp's server refuses log-probabilities unless started with --logits_all True
                log.warning("judge endpoint %s returned no log-probabilities (%s); using plain yes/no verdicts, "
                            "which rank answers less finely", self.base_url, exc.status_code)
                self._logprobs = False
            except openai.APIError as exc:
                raise JudgeError(f"the judge endpoint {self.base_url} failed: {exc}") from None
        if r is None:
            try:
                r = self._client.chat.completions.create(model=self.model, max_tokens=2, temperature=0,
                                                         messages=messages)
            except openai.APIError as exc:
                raise JudgeError(f"the judge endpoint {self.base_url} failed: {exc}") from None
        choice = r.choices[0]
        top = []
        if choice.logprobs and choice.logprobs.content:
            top = [(t.token, t.logprob) for t in choice.logprobs.content[0].top_logprobs]
        p = _p_yes_from(top)
        if p is None:  # no log-probabilities: the verdict's text
            text = (choice.message.content or "").strip().lower()
            p = 1.0 if text.startswith("yes") else 0.0 if text.startswith("no") else 0.5
        return p


def make_judge(kind: str, settings: Settings) -> Judge:
    if kind == "local":
        return LocalJudge.from_settings(settings.updated(llm={"base_url": None}))
    if kind == "openai":
        return OpenAIJudge.from_settings(settings)
    raise JudgeError(f"unknown judge {kind!r}: use 'local' or 'openai'")


def ragas_llm(kind: str, settings: Settings):
    """The judge as a ragas LLM for its standard metrics (LangChain wrapper, JSON parsed by ragas)."""
    from ragas.llms import LangchainLLMWrapper

    if kind == "local":
        from assistant.llm import chat_model

        # ragas' statement lists and verdicts need room; a shorter limit truncates the JSON (NaN)
        return LangchainLLMWrapper(chat_model(settings.updated(llm={"base_url": None, "max_tokens": 1024})))
    if kind == "openai":
        from langchain_openai import ChatOpenAI

        j = OpenAIJudge.from_settings(settings)
        return LangchainLLMWrapper(ChatOpenAI(base_url=j.base_url, api_key=j.api_key or "not-needed", model=j.model,
                                              temperature=0, timeout=settings.llm.timeout_s,
                                              max_retries=settings.llm.max_retries))
    raise JudgeError(f"unknown judge {kind!r}: use 'local' or 'openai'")
