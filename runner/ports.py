"""The runner's seams: one protocol per seam, one record per concept, each declared here once.

Swappable parts are protocols (the model, the sandbox, the setup phase, the repo map), so jobs,
`ai-fix solve`, the benchmarks and the tests plug in what they have: LiteLLM or a scripted model,
Docker or a subprocess. The records are plain frozen data that cross those seams; the outcome a job
returns (`runner.outcome`) is built from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from runner.workspace import Worktree

Message = dict[str, str]
"""One chat message as the OpenAI format has it: `{"role": ..., "content": ...}`."""


@dataclass(frozen=True)
class Issue:
    """The task: an issue's number, title and body (untrusted text, shown to the models as data)."""

    number: int
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}"


# ---- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """One model call's reply, with what it cost."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float
    finish_reason: str = "stop"
    retries: int = 0
    cost_estimated: bool = False
    """litellm had no price for the model: `cost_usd` is a deliberately high estimate, so the cap still holds."""


class ChatModel(Protocol):
    """Answers a conversation; raises `ModelError` when the provider cannot (after its own retries)."""

    def complete(self, model: str, messages: Sequence[Message]) -> Completion: ...


# ---- commands in the sandbox -------------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    """What one command did in the sandbox (setup, lint or tests).

    `output` is stdout and stderr interleaved as they arrived, possibly shortened in the middle
    (`omitted_bytes` > 0, with a marker line in `output`). A timed-out command has `exit_code` 124.
    `oom_kills` and `forks_refused` count the kernel's enforcement of the memory and pids limits
    during the command (0 when they cannot be read).
    """

    command: str
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    omitted_bytes: int = 0
    oom_kills: int = 0
    forks_refused: int = 0
    report: str | None = None
    """The structured test report the command's test runner wrote (JUnit XML), read whole from a results
    directory outside the worktree after the command ended; None when it wrote none. `output` may be cut,
    the report is not: test results are compared on it."""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class SandboxSession(Protocol):
    """Commands against one worktree, isolated from the host. One command at a time."""

    def run(self, command: str, timeout_s: float) -> CommandResult: ...

    def close(self) -> None: ...


class SandboxFactory(Protocol):
    """Starts a sandbox session with the worktree mounted; `image` overrides the default image."""

    def __call__(self, worktree: Worktree, image: str | None, job_id: str) -> SandboxSession: ...


@dataclass(frozen=True)
class SetupResult:
    """The image a job's lint and tests run in, and what it took to get it.

    `status` is `none` (no setup commands: `image` is the base image), `hit` (a cached image) or
    `built` (setup ran; `output` has what it printed, `commands` each command's result).
    """

    image: str
    status: Literal["none", "hit", "built"]
    output: str
    duration_s: float
    key: str = ""
    commands: tuple[CommandResult, ...] = ()
    warnings: tuple[str, ...] = ()
    """What setup did that the tests will not see, and why (e.g. a venv made inside the worktree)."""
    generated: tuple[str, ...] = ()
    """Files setup created inside the source tree (a generated `_version.py`, an extension built in place),
    relative to it: kept in the image and laid over each run-phase worktree, never replacing a file the worktree
    has, never committed (the engine commits only the contents it recorded). What was not kept is in `warnings`."""

    @property
    def cache_hit(self) -> bool:
        return self.status == "hit"


class SetupRunner(Protocol):
    """Runs the repository's setup commands once (or finds them cached); returns the image to check in."""

    def __call__(self, worktree: Worktree, image: str | None, commands: Sequence[str], repo_key: str,
                 job_id: str, timeout_s: float) -> SetupResult: ...


# ---- the repo map ------------------------------------------------------------------------------

MapProvider = Callable[[str, int], tuple[list[str], str]]
"""(issue text, token budget) -> (ranked paths, rendered map)."""

MapFactory = Callable[[Path, list[str]], MapProvider]
"""(pristine checkout, tracked files) -> the map provider for one job."""
