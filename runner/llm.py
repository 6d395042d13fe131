"""LLM access through litellm: one call, its tokens, its cost, its time.

The engine depends on the `ChatModel` protocol only, so tests and benchmarks can pass anything
that answers; production passes `LiteLLMChat`, which reaches any provider litellm knows
(including a local OpenAI-compatible server through `api_base`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runner.errors import ModelError

Message = dict[str, str]


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float
    finish_reason: str = "stop"


class ChatModel(Protocol):
    def complete(self, model: str, messages: Sequence[Message]) -> Completion: ...


class LiteLLMChat:
    """litellm's `completion` with our timeout and retry policy.

    `api_base` (or the provider's usual environment variables, which litellm reads itself)
    points every call at one endpoint: a self-hosted gateway, or the test double.
    """

    def __init__(self, api_base: str | None = None, timeout_s: float = 300.0, num_retries: int = 2) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.num_retries = num_retries

    def complete(self, model: str, messages: Sequence[Message]) -> Completion:
        import litellm  # imported lazily: it takes seconds, and only workers need it

        kwargs: dict[str, Any] = {"model": model, "messages": list(messages), "timeout": self.timeout_s,
                                  "num_retries": self.num_retries}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        started = time.monotonic()
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:  # litellm maps every provider error to its own classes
            raise ModelError(f"the model {model} could not be reached: {type(exc).__name__}: {exc}"[:800],
                             hint="check the provider key and `AI_FIX_LLM_API_BASE`, or retry with another "
                                  "model") from exc
        elapsed = time.monotonic() - started
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:  # unknown model in the offline cost map: report tokens, cost unknown (0)
            cost = 0.0
        return Completion(
            text=choice.message.content or "",
            model=model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=cost,
            duration_s=elapsed,
            finish_reason=str(choice.finish_reason or "stop"),
        )
