"""Every way a job can stop early, as typed errors carrying what a user needs to act.

The bot turns these into an issue comment, so each message is written for the maintainer who
labelled the issue, not for the developer of ai-fix.
"""

from __future__ import annotations


class RunnerError(Exception):
    """Base class: a job could not go on. `hint` says what the user can do about it."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class RepoConfigError(RunnerError):
    """`.github/ai-fix.yml` is not valid; the job stops before any model is called."""


class GitError(RunnerError):
    """A git command failed (clone, fetch, commit, push)."""


class ModelError(RunnerError):
    """The LLM provider could not be reached or refused every retry."""


class LimitReached(RunnerError):
    """A limit of the job (cost or time) was reached: the attempts stop and the best result so far is kept."""


class CostLimitReached(LimitReached):
    """The job's cost cap (`max_cost_usd`) was reached."""


class TimeLimitReached(LimitReached):
    """The job's time limit (`timeout_minutes`) was reached."""


class Cancelled(RunnerError):
    """A maintainer cancelled the job, or a newer trigger superseded it."""
