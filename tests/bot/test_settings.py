import pytest

from bot.settings import Settings, SettingsError
from runner.models import ModelPair


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
