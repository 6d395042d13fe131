import pytest

from bot.settings import Settings, SettingsError
from runner.models import ModelPair
from runner.prices import Price


def test_alternates_and_aliases_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_FIX_ALTERNATE_MODELS", "gpt-4o, fast")
    monkeypatch.setenv("AI_FIX_MODEL_ALIASES", '{"fast": {"senior": "openai/gpt-4o-mini"}}')
    settings = Settings(_env_file=None)
    assert settings.alternates() == (ModelPair("openai/gpt-4o", "openai/gpt-4o"),
                                     ModelPair("openai/gpt-4o-mini", "openai/gpt-4o-mini"))
    monkeypatch.setenv("AI_FIX_ALTERNATE_MODELS", "sonet")
    with pytest.raises(SettingsError, match="unknown model: sonet"):
        Settings(_env_file=None).alternates()


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "very-secret-value")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----\\nabc")
    settings = Settings(_env_file=None)
    assert "very-secret-value" not in repr(settings) and "BEGIN RSA" not in str(settings)
    assert settings.webhook_secret() == b"very-secret-value"
    assert settings.private_key() == "-----BEGIN RSA PRIVATE KEY-----\nabc"


def test_missing_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_APP_ID", "GITHUB_WEBHOOK_SECRET", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    with pytest.raises(SettingsError, match="GITHUB_APP_ID"):
        settings.app_id()
    with pytest.raises(SettingsError, match="GITHUB_WEBHOOK_SECRET"):
        settings.webhook_secret()
    with pytest.raises(SettingsError, match="GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH"):
        settings.private_key()


def test_model_prices_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AI_FIX_MODEL_PRICES", raising=False)
    assert Settings(_env_file=None).model_prices() == {}
    monkeypatch.setenv("AI_FIX_MODEL_PRICES", '{"ollama/*": {"input": 0, "output": 0}, '
                                              '"openai/my-model": {"input": 2.5, "output": 10}}')
    assert Settings(_env_file=None).model_prices() == {"ollama/*": Price(0.0, 0.0), "openai/my-model": Price(2.5, 10.0)}


@pytest.mark.parametrize(("value", "says"), [
    ("{ollama/*: 0}", r"AI_FIX_MODEL_PRICES is not valid JSON \(Expecting property name .*\); write it like "
                      r"\{\"ollama/\*\": \{\"input\": 0, \"output\": 0\}, "),
    ('[["ollama/*", 0, 0]]', r"^AI_FIX_MODEL_PRICES must be a JSON object like \{"),
    ('{"ollama/*": 0}', r"""^AI_FIX_MODEL_PRICES\['ollama/\*'\] must be \{"input": USD per 1M tokens, "output": USD """
                        r"per 1M tokens\}, not 0$"),
    ('{"m": {"input": 1}}', r"""^AI_FIX_MODEL_PRICES\['m'\] must be .*, not \{"input": 1\}$"""),
    ('{"m": {"input": 1, "output": 2, "cache": 0.1}}', r"""^AI_FIX_MODEL_PRICES\['m'\] must be \{"input": """),
    ('{"m": {"input": -1, "output": 2}}', r"^AI_FIX_MODEL_PRICES\['m'\]: prices must be numbers of USD per 1M "
                                          r"tokens, 0 or more, not \{\"input\": -1, \"output\": 2\}$"),
    ('{"m": {"input": "2.5", "output": 10}}', r"^AI_FIX_MODEL_PRICES\['m'\]: prices must be numbers"),
    ('{"m": {"input": true, "output": 10}}', r"^AI_FIX_MODEL_PRICES\['m'\]: prices must be numbers"),
    ('{"m": {"input": 1e999, "output": 10}}', r"^AI_FIX_MODEL_PRICES\['m'\]: prices must be numbers"),
    ('{" ": {"input": 1, "output": 10}}', r"^AI_FIX_MODEL_PRICES has an empty model name"),
])
def test_a_wrong_price_table_says_what_is_wrong(monkeypatch: pytest.MonkeyPatch, value: str, says: str) -> None:
    monkeypatch.setenv("AI_FIX_MODEL_PRICES", value)
    with pytest.raises(SettingsError, match=says):
        Settings(_env_file=None).model_prices()
