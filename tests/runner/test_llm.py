"""LiteLLMChat against the LLM double: real litellm calls over HTTP, our retry policy."""

from __future__ import annotations

import pytest

from runner.errors import ModelError
from runner.llm import LiteLLMChat, RetryPolicy
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
