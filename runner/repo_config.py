"""`.github/ai-fix.yml`: what a repository tells ai-fix about itself.

Validated strictly: a misspelt key is an error the maintainer sees in a comment, because a
silently ignored `tset:` would make the App report "no tests" with a straight face.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runner.errors import RepoConfigError
from runner.safe_read import read_bytes_inside

CONFIG_PATH = ".github/ai-fix.yml"
MAX_CONFIG_BYTES = 64 * 1024


class ModelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    senior: str | None = None
    """Alias or litellm model string for the Senior (plans and reviews)."""
    junior: str | None = None
    """Alias or litellm model string for the Junior (writes the edits)."""


class PathsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deny: list[str] = Field(default_factory=list)
    """Globs of paths the App must never edit (e.g. `vendor/**`, `*.lock`)."""


class RepoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    setup: list[str] = Field(default_factory=list)
    """Commands run once per dependency change, with network, without secrets."""
    test: str | None = None
    """Test command run in the sandbox; when absent a default is guessed from the tree."""
    lint: str | None = None
    """The repository's own lint command, run in the sandbox."""
    image: str | None = None
    """Docker image to run setup, lint and tests in, instead of the App's sandbox image."""
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    pattern: Literal["plan", "review", "plan+review"] = "plan"
    attempts: int = Field(default=3, ge=1, le=10)
    max_cost_usd: float = Field(default=2.0, gt=0, le=100)
    timeout_minutes: int = Field(default=30, ge=1, le=240)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    draft: bool = False
    """Always open draft pull requests, even for plausible patches."""
    label: str | None = None
    """Trigger label for this repository, instead of the App's default."""

    @field_validator("setup", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


def parse(text: str) -> RepoConfig:
    """Parse the YAML text; every problem becomes one `RepoConfigError` naming the bad keys."""
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise RepoConfigError(f"{CONFIG_PATH} is larger than {MAX_CONFIG_BYTES // 1024} KiB",
                              hint="keep the file short; it holds commands and settings only")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RepoConfigError(f"{CONFIG_PATH} is not valid YAML: {exc}",
                              hint="fix the syntax; `yamllint` shows the line") from exc
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise RepoConfigError(f"{CONFIG_PATH} must be a mapping of settings, not {type(data).__name__}")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in err['loc']) or '(top)'}`: {err['msg']}" for err in exc.errors()
        )
        raise RepoConfigError(f"{CONFIG_PATH} is invalid: {problems}",
                              hint="see the README's config section for the accepted keys") from exc


def load(worktree: Path) -> RepoConfig:
    """Read the config from a checkout of the default branch; no file means defaults.

    A config reached through a symlink (`.github -> /somewhere`) is refused rather than followed.
    """
    path = worktree / CONFIG_PATH
    data = read_bytes_inside(worktree, CONFIG_PATH, MAX_CONFIG_BYTES + 1)
    if data is None:
        if path.is_symlink() or path.parent.is_symlink():
            raise RepoConfigError(f"{CONFIG_PATH} is a symbolic link", hint="make it a regular file")
        if path.is_file():
            raise RepoConfigError(f"{CONFIG_PATH} is larger than {MAX_CONFIG_BYTES // 1024} KiB",
                                  hint="keep the file short; it holds commands and settings only")
        return RepoConfig()
    return parse(data.decode("utf-8", errors="replace"))
