"""LLM access through litellm: one call, its tokens, its cost, its time, and our retry policy.

The engine depends on the `ChatModel` protocol only, so tests and benchmarks can pass anything
that answers; production passes `LiteLLMChat`, which reaches any provider litellm knows
(including a local OpenAI-compatible server through `api_base`).

Retries are ours, not litellm's or the OpenAI client's (both are switched off), so there is one
policy, run by tenacity: transient failures (429, 5xx, timeouts, dropped connections) are retried
with exponential backoff, honouring `retry-after` when the provider sends one; anything else, or a
provider still failing after the retries, raises `ModelError` and the engine falls back to the next
model pair.

Each call is priced by `runner.prices` (the operator's table, litellm's list, zero on a local server, else
a high estimate marked as such). litellm takes seconds to import, so `warm_up` imports it on a thread
while the caller prepares the repository; the first call waits only for what is left of that import.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from runner import prices
from runner.errors import ModelError
from runner.ports import Completion, Message
from runner.prices import Price

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

log = logging.getLogger(__name__)
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


_LITELLM_FIRST_CALL_IMPORTS = ("openai.resources", "litellm.proxy._types", "httpcore", "h2.connection")
"""What litellm (1.80) imports lazily inside its first call to an OpenAI-compatible model (a local server's
kind too): about 500 modules, 1-2 s, which `warm_up` imports as well. Best effort: a name that is gone in
another litellm version costs nothing, and the call imports what it needs itself."""


class BackgroundImport:
    """A module imported on a thread while the caller does other work; `get` waits for what is left.

    A failed import is kept and raised again by `get`, in the caller's thread: it shows where the module
    is needed, never as the traceback of a thread nobody watches. `then`: modules the first use would
    import lazily, imported after it on the same thread, if they can be (their failure is nobody's concern).

    The thread runs at the lowest CPU priority (nice 19, Linux; elsewhere as it is): it then takes only the
    CPU the caller's work leaves idle (git and Docker calls mostly wait), so that work is not slowed, and the
    import ends about as soon as at full priority. Measured on the 2-core reference machine, preparing a
    sympy checkout (checkouts, sandbox start) took 3.3-5.7 s with the import at nice 19, 3.8-4.5 s with no
    import running, 6.0-9.3 s with it at full priority; the import ended at 13-14 s either way.

    Not a daemon thread: a process that ends while the import runs (a job stopped before its first call)
    waits for it at exit. A daemon thread is stopped wherever it stands when the interpreter finalises,
    holding whatever import locks it held, and finalisation can then wait on one of them forever (seen:
    a process hung at exit, its one remaining thread on a futex).
    """

    def __init__(self, name: str, then: Sequence[str] = ()) -> None:
        self.name = name
        self.then = tuple(then)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Begin the import (once); returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"import-{self.name}", daemon=False)
                self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        began = time.monotonic()
        try:  # on Linux a thread has its own nice value; this thread starts none, so it passes it to nothing
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):  # not Linux: the import runs at the caller's priority
            pass
        try:
            importlib.import_module(self.name)
        except BaseException as exc:  # kept for `get`: nothing may escape a thread as a bare traceback
            self._error = exc
            return
        for name in self.then:
            try:
                importlib.import_module(name)
            except BaseException as exc:  # an optional head start only: log it, never fail
                log.debug("could not import %s in the background: %s", name, exc)
        log.info("%s imported in the background in %.2f s", self.name, time.monotonic() - began)

    def get(self) -> tuple[ModuleType, float]:
        """The module, and the seconds this call waited for it (the whole import when none was started)."""
        began = time.monotonic()
        thread = self._thread
        if thread is not None:
            thread.join()
            if self._error is not None:
                raise self._error
        return importlib.import_module(self.name), time.monotonic() - began


class LiteLLMChat:
    """litellm's `completion` with our timeout, retry policy and prices.

    `api_base` (or the provider's usual environment variables, which litellm reads itself)
    points every call at one endpoint: a self-hosted gateway, a local server, or the test double.
    `prices` is the operator's table (`runner.prices.from_table`): model string or glob to `Price`.
    """

    def __init__(self, api_base: str | None = None, timeout_s: float = 300.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, prices: Mapping[str, Price] | None = None) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.prices = dict(prices or {})
        self._library = BackgroundImport("litellm", then=_LITELLM_FIRST_CALL_IMPORTS)
        self._called = False
        self._priced: set[str] = set()
        """Models whose pricing was logged (once each)."""

    def warm_up(self) -> None:
        """Import litellm on a background thread now (it takes 5-15 s), so that the first call need not wait."""
        self._library.start()

    def complete(self, model: str, messages: Sequence[Message]) -> Completion:
        litellm = self._litellm()
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
        return self._completion(litellm, response, model, time.monotonic() - started, _calls(controller) - 1)

    def _litellm(self) -> Any:
        """litellm, imported (or its background import waited for); an import failure becomes a `ModelError`."""
        try:
            module, waited = self._library.get()
        except Exception as exc:
            raise ModelError(f"the LLM library litellm could not be imported ({type(exc).__name__}: {exc})"[:800],
                             hint="reinstall ai-fix's dependencies (requirements.lock)") from exc
        litellm: Any = module
        if not self._called:
            self._called = True
            litellm.suppress_debug_info = True
            logging.getLogger("LiteLLM").setLevel(logging.WARNING)  # its per-call INFO lines, printed twice
            how = "after its background import" if self._library.started else "importing it now"
            log.info("first model call: waited %.2f s for litellm (%s)", waited, how)
        return litellm

    def _completion(self, litellm: Any, response: Any, model: str, elapsed: float, retries: int) -> Completion:
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        cost, estimated = self._cost(litellm, response, model, prompt_tokens, completion_tokens)
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

    def _cost(self, litellm: Any, response: Any, model: str, prompt_tokens: int,
              completion_tokens: int) -> tuple[float, bool]:
        """USD for one call, and whether it is an estimate: in `runner.prices`' order."""
        listed = prices.from_table(self.prices, model)
        if listed is not None:
            self._log_pricing(model, f"priced by the operator's table (AI_FIX_MODEL_PRICES): {prices.describe(listed)}")
            return listed.cost(prompt_tokens, completion_tokens), False
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:  # litellm has no price for the model (a local server, a new model)
            pass
        else:
            self._log_pricing(model, "priced by litellm's price list")
            return cost, False
        base = prices.effective_base(model, self.api_base)
        if prices.is_local(base):
            self._log_pricing(model, f"free: no known price, and served on a local address ({base})")
            return 0.0, False
        self._log_pricing(model, f"estimated: no known price, so {prices.describe(prices.FALLBACK)}")
        return prices.FALLBACK.cost(prompt_tokens, completion_tokens), True

    def _log_pricing(self, model: str, how: str) -> None:
        if model not in self._priced:
            self._priced.add(model)
            log.info("calls to %s are %s", model, how)


def _calls(controller: Retrying) -> int:
    """Calls the controller's last run made (tenacity counts them, per thread, in its statistics)."""
    return int(controller.statistics["attempt_number"])
