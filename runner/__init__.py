"""The runner's face: everything bot/ (and anyone else driving a job) may use, and nothing more.

A job goes in as a `SolveRequest` with its `SolveDeps` (workspace, model, sandbox, setup, repo map),
and an `Outcome` comes back: plain data the bot renders for GitHub. The runner knows nothing of
GitHub or HTTP. Behind this face, by concern:

- `job` (`solve`), `attempts`, `engine`, `replies`: the order of work (workspace, config, setup and baseline,
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

Nothing behind the face is imported until it is used (`__getattr__` below), so `import runner.repomap`
stays light; the Docker SDK loads with the first sandbox, litellm at the first model call (or on a
background thread from `LiteLLMChat.warm_up`, as `ai-fix solve` does while it prepares the repository).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for the type checker; at run time each loads on first use
    from runner.context import simple_map, structured_map
    from runner.errors import Cancelled, CostLimitReached, GitError, ModelError, RepoConfigError, RunnerError
    from runner.file_kinds import is_test_path
    from runner.git import git as run_git
    from runner.job import Overrides, SolveDeps, SolveRequest, solve
    from runner.llm import LiteLLMChat, RetryPolicy
    from runner.models import DEFAULT_ALIASES, ModelPair, UnknownModel, resolve
    from runner.outcome import Attempt, LLMCall, Outcome, TestCounts, Verdict
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
    from runner.sandbox.factory import DockerFactory
    from runner.workspace import Workspace, Worktree

# name -> (module, attribute). Loaded lazily (PEP 562) because every `import runner.x` runs this file first: an
# eager face made the repo map's parse helpers and `ai-fix map` import the whole runner (pydantic, the engine),
# 1.4 s instead of 40 ms for `import runner.repomap.index`.
_EXPORTS: dict[str, tuple[str, str]] = {
    **{name: ("runner.context", name) for name in ("simple_map", "structured_map")},
    **{name: ("runner.errors", name) for name in (
        "Cancelled", "CostLimitReached", "GitError", "ModelError", "RepoConfigError", "RunnerError")},
    "is_test_path": ("runner.file_kinds", "is_test_path"),
    "run_git": ("runner.git", "git"),  # named apart so that `runner.git` stays the module
    **{name: ("runner.llm", name) for name in ("LiteLLMChat", "RetryPolicy")},
    **{name: ("runner.models", name) for name in ("DEFAULT_ALIASES", "ModelPair", "UnknownModel", "resolve")},
    **{name: ("runner.outcome", name) for name in ("Attempt", "LLMCall", "Outcome", "TestCounts", "Verdict")},
    **{name: ("runner.ports", name) for name in (
        "ChatModel", "CommandResult", "Completion", "Issue", "MapFactory", "Message", "SandboxFactory",
        "SandboxSession", "SetupResult", "SetupRunner")},
    "Price": ("runner.prices", "Price"),
    "DockerFactory": ("runner.sandbox.factory", "DockerFactory"),
    **{name: ("runner.job", name) for name in ("Overrides", "SolveDeps", "SolveRequest", "solve")},
    **{name: ("runner.workspace", name) for name in ("Workspace", "Worktree")},
}

__all__ = [  # every name of the face; _EXPORTS says where each lives (a test keeps the two in step)
    "Attempt", "Cancelled", "ChatModel", "CommandResult", "Completion", "CostLimitReached", "DEFAULT_ALIASES",
    "DockerFactory", "GitError", "Issue", "LLMCall", "LiteLLMChat", "MapFactory", "Message", "ModelError",
    "ModelPair", "Outcome", "Overrides", "Price", "RepoConfigError", "RetryPolicy", "RunnerError", "SandboxFactory",
    "SandboxSession", "SetupResult", "SetupRunner", "SolveDeps", "SolveRequest", "TestCounts", "UnknownModel",
    "Verdict", "Workspace", "Worktree", "add_cli_commands", "docker_sandbox_factory", "is_test_path",
    "reap_sandboxes", "resolve", "run_git", "simple_map", "solve", "structured_map",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'runner' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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

