"""LiteLLMChat against the LLM double: real litellm calls over HTTP, our retry policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner.errors import ModelError
from runner.llm import LiteLLMChat, RetryPolicy, is_transient, retrying
from tests.doubles.llm.replies import Reply
from tests.doubles.llm.server import LLMDouble

MESSAGES = [{"role": "user", "content": "hello"}]


def _chat(llm: LLMDouble, waits: list[float], tries: int = 4) -> LiteLLMChat:
    return LiteLLMChat(api_base=llm.api_base, timeout_s=5, policy=RetryPolicy(tries=tries, base_delay_s=0.01),
                       sleep=waits.append)


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


def test_tokens_and_cost_are_reported(llm_double: LLMDouble) -> None:
    llm_double.script("hi there", model="openai/gpt-4o")
    done = _chat(llm_double, []).complete("openai/gpt-4o", MESSAGES)
    assert done.text == "hi there" and done.prompt_tokens > 0 and done.completion_tokens > 0
    assert done.cost_usd > 0 and done.retries == 0


def test_429_honours_retry_after_then_succeeds(llm_double: LLMDouble) -> None:
    llm_double.script(Reply.rate_limited(retry_after=7), "ok", model="anthropic/claude-sonnet-4-5")
    waits: list[float] = []
    done = _chat(llm_double, waits).complete("anthropic/claude-sonnet-4-5", MESSAGES)
    assert done.text == "ok" and done.retries == 1 and waits == [7.0]
    assert len(llm_double.requests) == 2


def test_5xx_backs_off_exponentially_then_gives_up(llm_double: LLMDouble) -> None:
    llm_double.script(*[Reply.error(503)] * 3, model="openai/gpt-4o")
    waits: list[float] = []
    with pytest.raises(ModelError, match=r"kept failing \(ServiceUnavailableError, after 3 call\(s\)\)"):
        _chat(llm_double, waits, tries=3).complete("openai/gpt-4o", MESSAGES)
    assert len(waits) == 2 and waits[0] < waits[1] * 1.01 + 0.01
    assert len(llm_double.requests) == 3  # no hidden retries inside litellm or the OpenAI client


def test_a_bad_request_is_not_retried(llm_double: LLMDouble) -> None:
    llm_double.script(Reply.error(400, "bad request"), model="openai/gpt-4o")
    with pytest.raises(ModelError, match="refused the request"):
        _chat(llm_double, []).complete("openai/gpt-4o", MESSAGES)
    assert len(llm_double.requests) == 1


def test_a_very_long_retry_after_means_fall_back_now(llm_double: LLMDouble) -> None:
    llm_double.script(Reply.rate_limited(retry_after=3600), model="openai/gpt-4o")
    waits: list[float] = []
    with pytest.raises(ModelError):
        _chat(llm_double, waits).complete("openai/gpt-4o", MESSAGES)
    assert waits == []


def test_a_model_without_a_known_price_gets_a_high_estimate_not_zero(llm_double: LLMDouble) -> None:
    llm_double.script("ok", model="openai/my-local-model")
    done = _chat(llm_double, []).complete("openai/my-local-model", MESSAGES)
    assert done.cost_estimated and done.cost_usd == pytest.approx(
        done.prompt_tokens * 15e-6 + done.completion_tokens * 75e-6)


class _ProviderError(Exception):
    """What litellm raises, as far as the retry policy looks: a status code and the response headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.litellm_response_headers = headers


def _failing(*failures: Exception) -> tuple[Callable[[], str], list[int]]:
    """A call that raises each failure in turn, then answers "ok"; and the count of calls made."""
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "ok"

    return call, calls


def test_backoff_doubles_with_equal_jitter_up_to_the_cap() -> None:
    waits: list[float] = []
    call, calls = _failing(*[_ProviderError(503)] * 5)
    assert retrying(RetryPolicy(tries=6, base_delay_s=1, max_delay_s=4), waits.append)(call) == "ok"
    assert len(calls) == 6 and len(waits) == 5
    for wait, full in zip(waits, [1, 2, 4, 4, 4], strict=True):
        assert full / 2 <= wait <= full  # half fixed, half random


def test_retry_after_ms_is_honoured_and_wins_over_the_backoff() -> None:
    waits: list[float] = []
    call, _ = _failing(_ProviderError(429, {"retry-after-ms": "1500"}), _ProviderError(429, {"retry-after": "2"}))
    assert retrying(RetryPolicy(base_delay_s=100), waits.append)(call) == "ok"
    assert waits == [1.5, 2.0] and all(type(w) is float for w in waits)


def test_giving_up_reraises_the_providers_own_error() -> None:
    waits: list[float] = []
    failure = _ProviderError(500)
    call, calls = _failing(*[failure] * 3)
    controller = retrying(RetryPolicy(tries=3, base_delay_s=0.01), waits.append)
    with pytest.raises(_ProviderError) as raised:
        controller(call)
    assert raised.value is failure and len(calls) == 3 and len(waits) == 2
    assert controller.statistics["attempt_number"] == 3


@pytest.mark.parametrize("failure", [_ProviderError(400), _ProviderError(401),
                                     _ProviderError(429, {"retry-after": "121"})])
def test_no_retry_for_a_refusal_or_a_provider_down_for_long(failure: Exception) -> None:
    waits: list[float] = []
    call, calls = _failing(failure)
    with pytest.raises(_ProviderError):
        retrying(RetryPolicy(max_retry_after_s=120), waits.append)(call)
    assert len(calls) == 1 and waits == []


def test_transient_by_name_when_there_is_no_status() -> None:
    class APIConnectionError(Exception):
        pass

    assert is_transient(APIConnectionError("reset")) and not is_transient(ValueError("bad"))
    assert is_transient(_ProviderError(529)) and not is_transient(_ProviderError(404))
