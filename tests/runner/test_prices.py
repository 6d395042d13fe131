"""Which addresses are local, which price the operator's table gives, where a local provider's calls go."""

from __future__ import annotations

import pytest

from runner.prices import FALLBACK, Price, describe, effective_base, from_table, is_local


@pytest.mark.parametrize("base", [
    "http://localhost:11434", "http://LOCALHOST:8000/v1", "http://gpu.localhost/v1", "localhost:1234",
    "http://127.0.0.1:8000/v1", "http://127.1.2.3", "http://[::1]:8000/v1", "http://[::ffff:192.168.1.5]/v1",
    "http://10.0.0.7:8000", "http://172.17.0.1:11434", "http://192.168.1.20/v1", "http://100.101.102.103:11434",
    "http://169.254.10.1", "http://[fd12:3456::1]/v1", "http://0.0.0.0:8080",
    "http://ollama:11434", "http://vllm/v1", "http://host.docker.internal:11434", "http://gpu-box.local:8000",
    "http://llm.default.svc.cluster.local/v1", "http://inference.home.arpa", "http://box.lan:8080/v1",
    "http://localhost.:11434",
])
def test_local_addresses(base: str) -> None:
    assert is_local(base)


@pytest.mark.parametrize("base", [
    None, "", "https://api.openai.com/v1", "https://my-gateway.example.com", "http://8.8.8.8/v1",
    "http://[2001:4860:4860::8888]/v1", "https://openrouter.ai/api/v1", "http://localhost.evil.com/v1",
    "http://[::1", "http://10.0.0.7.nip.io/v1", "http:///v1",
])
def test_remote_or_unknown_addresses(base: str | None) -> None:
    assert not is_local(base)


def test_a_local_providers_calls_go_to_its_own_default_unless_the_app_names_a_base(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_API_BASE", raising=False)
    assert effective_base("ollama/qwen2.5-coder:7b", None) == "http://localhost:11434"
    assert effective_base("ollama_chat/llama3", None) == "http://localhost:11434"
    assert effective_base("llamafile/mistral", None) == "http://127.0.0.1:8080/v1"
    monkeypatch.setenv("OLLAMA_API_BASE", "https://ollama.example.com")
    assert not is_local(effective_base("ollama/qwen2.5-coder:7b", None))
    assert effective_base("ollama/qwen2.5-coder:7b", "http://10.1.1.1") == "http://10.1.1.1"
    assert effective_base("openai/gpt-4o", None) is None and effective_base("hosted_vllm/x", None) is None


def test_the_table_exact_name_first_then_the_first_matching_glob_in_its_order() -> None:
    table = {"ollama/*": Price(0, 0), "openai/my-*": Price(1, 2), "openai/my-big": Price(3, 4), "*": Price(9, 9)}
    assert from_table(table, "openai/my-big") == Price(3, 4)
    assert from_table(table, "openai/my-small") == Price(1, 2)
    assert from_table(table, "ollama/qwen2.5-coder:7b") == Price(0, 0)
    assert from_table(table, "anthropic/claude-sonnet-4-5") == Price(9, 9)
    assert from_table({"openai/my-*": Price(1, 2)}, "OpenAI/My-Model") is None  # model strings are case-sensitive
    assert from_table({}, "openai/gpt-4o") is None


def test_prices_are_per_million_tokens() -> None:
    assert Price(2.5, 10).cost(1_000_000, 0) == 2.5
    assert Price(2.5, 10).cost(2000, 500) == pytest.approx(0.005 + 0.005)
    assert FALLBACK.cost(1000, 100) == pytest.approx(0.015 + 0.0075)
    assert describe(FALLBACK) == "$15/$75 per million input/output tokens"
