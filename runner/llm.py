"""LLM access through litellm: one call, its tokens, its cost, its time, and our retry policy.

The engine depends on the `ChatModel` protocol only, so tests and benchmarks can pass anything
that answers; production passes `LiteLLMChat`, which reaches any provider litellm knows
(including a local OpenAI-compatible server through `api_base`).

Retries are ours, not litellm's or the OpenAI client's (both are switched off), so there is one
policy, run by tenacity: transient failures (429, 5xx, timeouts, dropped connections) are retried
with exponential backoff, honouring `retry-after` when the provider sends one; anything else, or a
provider still failing after the retries, raises `ModelError` and the engine falls back to the next
model pair.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.errors import ModelError
from runner.ports import Completion, Message

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

FALLBACK_PRICE_PER_TOKEN = (15e-6, 75e-6)
"""Input and output USD per token for models without a known price: the top of today's list prices."""
_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
_TRANSIENT_NAMES = {"RateLimitError", "Timeout", "APIConnectionError", "InternalServerError",
                    "ServiceUnavailableError", "BadGatewayError", "MidStreamFallbackError", "APITimeoutError"}


@dataclass(frozen=True)
class RetryPolicy:
    tries: int = 4
    """Calls per model before giving up on it (1 = no retry)."""
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0
    """A provider asking us to wait longer than this is treated as down: better to fall back."""


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    status = _status(exc)
    if status is not None:
        return status in _TRANSIENT_STATUS
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait, from `retry-after` (or `retry-after-ms`), if any."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not isinstance(headers, Mapping) and not hasattr(headers, "get"):
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers.get("retry-after-ms")) / 1000
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date; rare from model providers: fall back to our backoff


def retrying(policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """The policy as a tenacity controller: which failures to retry, how long to wait, when to stop.

    A transient failure is retried unless the provider asks for a wait above `max_retry_after_s`
    (it is down for a while: the engine does better falling back to the next model pair now).
    The wait is the provider's `retry-after` when it sends one, else exponential backoff with
    "equal jitter": half of `base_delay_s * 2**(n-1)` (capped at `max_delay_s`) fixed, half random,
    so workers hitting one limit spread out yet none retries at once. The last failure is re-raised
    as it was (`reraise`), for the caller to word.
    """
    # Imported here: tenacity brings asyncio (~70 ms), which the face and every repo-map helper process
    # would otherwise pay at import for a model call they may never make.
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random_exponential

    half_base, half_cap = policy.base_delay_s / 2, policy.max_delay_s / 2
    backoff = wait_exponential(multiplier=half_base, max=half_cap) + \
        wait_random_exponential(multiplier=half_base, max=half_cap)

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after(failure) if failure is not None else None
        return asked if asked is not None else backoff(state)

    return Retrying(
        retry=retry_if_exception(lambda exc: is_transient(exc) and not _asks_too_long(exc, policy)),
        wait=wait,
        stop=stop_after_attempt(policy.tries),
        sleep=lambda seconds: sleep(float(seconds)),
        reraise=True,
    )


def _asks_too_long(exc: BaseException, policy: RetryPolicy) -> bool:
    asked = retry_after(exc)
    return asked is not None and asked > policy.max_retry_after_s


class LiteLLMChat:
    """litellm's `completion` with our timeout and retry policy.

    `api_base` (or the provider's usual environment variables, which litellm reads itself)
    points every call at one endpoint: a self-hosted gateway, or the test double.
    """

    def __init__(self, api_base: str | None = None, timeout_s: float = 300.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.policy = policy or RetryPolicy()
        self.sleep = sleep

    def complete(self, model: str, messages: Sequence[Message]) -> Completion:
        import litellm  # imported lazily: it takes seconds, and only workers need it

        litellm.suppress_debug_info = True
        kwargs: dict[str, Any] = {"model": model, "messages": list(messages), "timeout": self.timeout_s,
                                  "num_retries": 0, "max_retries": 0}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        started = time.monotonic()
        controller = retrying(self.policy, self.sleep)
        try:
            response = controller(litellm.completion, **kwargs)
        except Exception as exc:  # litellm maps every provider error to its own classes
            kind = "kept failing" if is_transient(exc) else "refused the request"
            raise ModelError(
                f"the model {model} {kind} ({type(exc).__name__}, after {_calls(controller)} call(s)): {exc}"[:800],
                hint="check the provider's key and status, `AI_FIX_LLM_API_BASE`, or retry with another "
                     "model") from exc
        return _completion(litellm, response, model, time.monotonic() - started, _calls(controller) - 1)


def _calls(controller: Retrying) -> int:
    """Calls the controller's last run made (tenacity counts them, per thread, in its statistics)."""
    return int(controller.statistics["attempt_number"])


def _completion(litellm: Any, response: Any, model: str, elapsed: float, retries: int) -> Completion:
    choice = response.choices[0]
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    estimated = False
    try:
        cost = float(litellm.completion_cost(completion_response=response))
    except Exception:  # a model litellm has no price for (a local server, a new model): estimate high, say so
        cost = prompt_tokens * FALLBACK_PRICE_PER_TOKEN[0] + completion_tokens * FALLBACK_PRICE_PER_TOKEN[1]
        estimated = True
    return Completion(
        text=choice.message.content or "",
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost,
        cost_estimated=estimated,
        duration_s=elapsed,
        finish_reason=str(choice.finish_reason or "stop"),
        retries=retries,
    )
