"""The App's settings, from the environment and `.env`: one object, built once at start-up.

Secrets are `SecretStr`, so printing the settings (or an exception holding them) never shows them.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runner import DEFAULT_ALIASES, ModelPair, Price


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the environment variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      populate_by_name=True)

    github_app_id: int | None = Field(default=None, validation_alias="GITHUB_APP_ID")
    github_private_key: SecretStr | None = Field(default=None, validation_alias="GITHUB_PRIVATE_KEY")
    github_private_key_path: Path | None = Field(default=None, validation_alias="GITHUB_PRIVATE_KEY_PATH")
    github_webhook_secret: SecretStr | None = Field(default=None, validation_alias="GITHUB_WEBHOOK_SECRET")
    github_api_url: str = Field(default="https://api.github.com", validation_alias="GITHUB_API_URL")

    data_dir: Path = Field(default=Path("data"), validation_alias="AI_FIX_DATA_DIR")
    """Where the database, mirrors and worktrees live."""
    database_url: str | None = Field(default=None, validation_alias="AI_FIX_DATABASE_URL")
    """The jobs' database (DBOS's tables): `sqlite:///path` (default `sqlite:///<data_dir>/ai-fix.db`) or
    `postgresql://user:password@host:port/db` to share the jobs between many machines."""
    executor_id_override: str | None = Field(default=None, validation_alias="AI_FIX_EXECUTOR_ID")
    """This worker's stable name (default: the host name): a restarted worker resumes the jobs it left."""
    worker_concurrency_override: int | None = Field(default=None, ge=1, validation_alias="AI_FIX_WORKER_CONCURRENCY")
    """Jobs one worker runs at once (default: from its cores and memory)."""
    global_concurrency: int | None = Field(default=None, ge=1, validation_alias="AI_FIX_GLOBAL_CONCURRENCY")
    """Jobs all workers together run at once (default: no limit beyond each worker's)."""
    trigger_label: str = Field(default="ai-fix", validation_alias="AI_FIX_LABEL")

    default_model: str = Field(default="sonnet", validation_alias="AI_FIX_MODEL")
    """Alias or litellm model string used when neither the command nor the repository names one."""
    alternate_models: str = Field(default="", validation_alias="AI_FIX_ALTERNATE_MODELS")
    """Comma-separated aliases or model strings: later attempts alternate with them, and a pair whose
    provider stays down falls back to the next. Empty: every attempt uses the chosen pair."""
    model_aliases_json: str | None = Field(default=None, validation_alias="AI_FIX_MODEL_ALIASES")
    """JSON object `{"alias": {"senior": "...", "junior": "..."}}`, merged over the built-in aliases."""
    llm_api_base: str | None = Field(default=None,
                                     validation_alias=AliasChoices("AI_FIX_LLM_API_BASE", "OPENAI_API_BASE"))
    llm_timeout_s: float = Field(default=300.0, validation_alias="AI_FIX_LLM_TIMEOUT")
    model_prices_json: str | None = Field(default=None, validation_alias="AI_FIX_MODEL_PRICES")
    """JSON object `{"model-or-glob": {"input": USD per 1M tokens, "output": USD per 1M tokens}}`: the price of
    models litellm does not know (a local server, a gateway's own names), or a price that overrides its list."""

    sandbox_image: str = Field(default="ai-fix-sandbox:latest", validation_alias="AI_FIX_SANDBOX_IMAGE")
    allowed_images: str = Field(default="", validation_alias="AI_FIX_ALLOWED_IMAGES")
    """Comma-separated image patterns a repository's `image:` may name (none by default)."""
    mirror_budget_gb: float = Field(default=20.0, validation_alias="AI_FIX_MIRROR_BUDGET_GB")
    """Disk for repository mirrors; the least recently used are evicted after each job."""
    worker_poll_s: float = Field(default=1.0, gt=0, validation_alias="AI_FIX_WORKER_POLL")
    """How often a worker looks for queued jobs, in seconds."""

    @field_validator("github_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def system_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.data_dir / 'ai-fix.db'}"
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")):
            raise SettingsError(f"AI_FIX_DATABASE_URL={url.split('@')[-1]!r}: use sqlite:///PATH or "
                                "postgresql://USER:PASSWORD@HOST:PORT/DB")
        return url

    def prepare_database_dir(self) -> None:
        """SQLite creates the file, not its folder."""
        url = self.system_database_url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    @property
    def executor_id(self) -> str:
        return self.executor_id_override or socket.gethostname()

    def worker_concurrency(self) -> int:
        """One job per core, and 2 GB of memory per job (a sandbox's tests plus the workspace); at least one."""
        if self.worker_concurrency_override is not None:
            return self.worker_concurrency_override
        cores = os.cpu_count() or 1
        try:
            memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1024**3
        except (ValueError, OSError):
            memory_gb = 2.0
        return max(1, min(cores, int(memory_gb // 2)))

    def private_key(self) -> str:
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value().replace("\\n", "\n")
        if self.github_private_key_path is not None:
            try:
                return self.github_private_key_path.read_text()
            except OSError as exc:
                raise SettingsError(f"GITHUB_PRIVATE_KEY_PATH: cannot read {self.github_private_key_path}: "
                                    f"{exc.strerror}") from exc
        raise SettingsError("set GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH (the App's .pem from its settings "
                            "page)")

    def webhook_secret(self) -> bytes:
        if self.github_webhook_secret is None or not self.github_webhook_secret.get_secret_value():
            raise SettingsError("set GITHUB_WEBHOOK_SECRET: without it no delivery can be verified")
        return self.github_webhook_secret.get_secret_value().encode()

    def app_id(self) -> int:
        if self.github_app_id is None:
            raise SettingsError("set GITHUB_APP_ID (shown on the App's settings page)")
        return self.github_app_id

    def alternates(self) -> tuple[ModelPair, ...]:
        from runner import UnknownModel, resolve

        aliases = self.model_aliases()
        try:
            return tuple(resolve(name, aliases) for name in self.alternate_models.split(",") if name.strip())
        except UnknownModel as exc:
            raise SettingsError(f"AI_FIX_ALTERNATE_MODELS names an unknown model: {exc}") from exc

    def model_aliases(self) -> dict[str, ModelPair]:
        aliases = dict(DEFAULT_ALIASES)
        if not self.model_aliases_json:
            return aliases
        try:
            raw: Any = json.loads(self.model_aliases_json)
            for name, pair in raw.items():
                aliases[str(name).lower()] = ModelPair(str(pair["senior"]), str(pair.get("junior", pair["senior"])))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SettingsError('AI_FIX_MODEL_ALIASES must be JSON like {"fast": {"senior": "openai/gpt-4o", '
                                f'"junior": "openai/gpt-4o-mini"}}: {exc}') from exc
        return aliases

    def model_prices(self) -> dict[str, Price]:
        """The operator's price table, validated: every entry names a model (or glob) and two prices >= 0."""
        if not self.model_prices_json:
            return {}
        example = '{"ollama/*": {"input": 0, "output": 0}, "openai/my-model": {"input": 2.5, "output": 10}}'
        try:
            raw: Any = json.loads(self.model_prices_json)
        except ValueError as exc:
            raise SettingsError(f"AI_FIX_MODEL_PRICES is not valid JSON ({exc}); write it like {example}") from exc
        if not isinstance(raw, dict):
            raise SettingsError(f"AI_FIX_MODEL_PRICES must be a JSON object like {example}")
        return {str(model): _price(str(model), entry, example) for model, entry in raw.items()}


def _price(model: str, entry: Any, example: str) -> Price:
    """One entry of AI_FIX_MODEL_PRICES: exactly `input` and `output`, in USD per million tokens."""
    where = f"AI_FIX_MODEL_PRICES[{model!r}]"
    if not model.strip():
        raise SettingsError(f"AI_FIX_MODEL_PRICES has an empty model name; write it like {example}")
    if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
        raise SettingsError(f'{where} must be {{"input": USD per 1M tokens, "output": USD per 1M tokens}}, '
                            f"not {json.dumps(entry)}")
    values = [entry["input"], entry["output"]]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < float("inf") for v in values):
        raise SettingsError(f"{where}: prices must be numbers of USD per 1M tokens, 0 or more, not "
                            f"{json.dumps(entry)}")
    return Price(input=float(values[0]), output=float(values[1]))
