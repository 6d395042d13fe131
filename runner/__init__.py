"""The runner's face: everything bot/ (and anyone else driving a job) may use, and nothing more.

A job goes in as a `SolveRequest` with its `SolveDeps` (workspace, model, sandbox, setup, repo map),
and an `Outcome` comes back: plain data the bot renders for GitHub. The runner knows nothing of
GitHub or HTTP. Behind this face, by concern:

- `solve`, `attempts`, `engine`, `replies`: the order of work (workspace, config, setup and baseline,
  attempts, commit), the attempt loop keeping the best, and one attempt's conversation with the Senior
  and the Junior; `limits`: cost, time and cancel as typed stops;
- `checks/`: each attempt's sandbox, lint and test results, compared with the untouched tree;
- `ports`: the seams (model, sandbox session and factory, setup, repo map) and the records that
  cross them; `outcome`: what a job did; `errors`: every way a job stops;
- `edit/`: parsing the Junior's reply, matching and applying edits, the feedback it reads;
  `repomap/`: ranking files for an issue; `sandbox/`: running commands in Docker and the
  repository's setup phase; `file_kinds`: what a path is (language, text, test, skipped folder);
- `workspace` and `git` (mirrors, worktrees, commit, push; the one hardened way git runs), `llm`
  (litellm with tenacity's retries), `prices` (what a call costs), `models` (aliases), `repo_config`
  (`.github/ai-fix.yml`), `context` (files the models see), `prompts` (templates in prompts/), `safe_read`.

The Docker SDK and litellm are heavy to import; the face loads neither: the Docker pieces are
functions that import on call, and litellm is imported at the first model call (or on a background
thread from `LiteLLMChat.warm_up`, as `ai-fix solve` does while it prepares the repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runner.context import simple_map, structured_map
from runner.errors import Cancelled, CostLimitReached, GitError, ModelError, RepoConfigError, RunnerError
from runner.file_kinds import is_test_path
from runner.git import git as run_git  # named apart so that `runner.git` stays the module
from runner.llm import LiteLLMChat, RetryPolicy
from runner.models import DEFAULT_ALIASES, ModelPair, UnknownModel, resolve
from runner.outcome import Attempt, LLMCall, Outcome, Verdict
from runner.ports import (
    ChatModel,
    CommandResult,
    Completion,
    Issue,
    MapFactory,
    Message,
    SandboxFactory,
    SandboxSession,
    SetupResult,
    SetupRunner,
)
from runner.prices import Price
from runner.solve import Overrides, SolveDeps, SolveRequest, solve
from runner.workspace import Workspace, Worktree

if TYPE_CHECKING:
    from runner.sandbox.factory import DockerFactory

__all__ = [
    "DEFAULT_ALIASES", "Attempt", "Cancelled", "ChatModel", "CommandResult", "Completion", "CostLimitReached",
    "DockerFactory", "GitError", "Issue", "LLMCall", "LiteLLMChat", "MapFactory", "Message", "ModelError",
    "ModelPair", "Outcome", "Overrides", "Price", "RepoConfigError", "RetryPolicy", "RunnerError", "SandboxFactory",
    "SandboxSession", "SetupResult", "SetupRunner", "SolveDeps", "SolveRequest", "UnknownModel", "Verdict",
    "Workspace", "Worktree", "add_cli_commands", "docker_sandbox_factory", "reap_sandboxes", "resolve",
    "is_test_path", "run_git", "simple_map", "solve", "structured_map",
]


def docker_sandbox_factory(default_image: str, allowed_images: Sequence[str] = ()) -> DockerFactory:
    """The sandbox (and setup runner, `.prepare`) backed by the local Docker engine.

    The engine is contacted by the first session, not here, so a receiver starts while Docker is down.
    """
    from runner.sandbox.factory import DockerFactory

    return DockerFactory(default_image, allowed_images)


def reap_sandboxes() -> int:
    """Remove sandbox containers a crashed process left behind; the number removed."""
    from runner.sandbox.engine import docker_client_from_env
    from runner.sandbox.reap import reap

    return len(reap(docker_client_from_env()))


def add_cli_commands(subparsers: Any) -> None:
    """The runner's own commands: `ai-fix sandbox` and `ai-fix map` (a stable contract for outside tools)."""
    from runner.repomap import cli as map_cli
    from runner.sandbox import cli as sandbox_cli

    sandbox_cli.add_parser(subparsers)
    map_cli.add_parser(subparsers)

