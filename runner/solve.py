"""The runner's entry point: repository URL + opaque git credentials + issue in, `Outcome` out.

Knows nothing of GitHub or HTTP. The order of work follows DESIGN.md: workspace, repository
config, baseline, attempts, commit and push of the most plausible attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from runner import repo_config, workspace
from runner.engine import AttemptRunner, Budget, CommandRunner, Issue, as_run
from runner.errors import Cancelled, CostLimitReached, RunnerError
from runner.llm import ChatModel
from runner.models import DEFAULT_ALIASES, ModelPair, resolve
from runner.outcome import Attempt, Outcome, Verdict
from runner.repo_config import RepoConfig

log = logging.getLogger(__name__)


class SandboxSession(CommandRunner, Protocol):
    def close(self) -> None: ...


class SandboxFactory(Protocol):
    """Starts a sandbox session with the worktree mounted; `image` overrides the default image."""

    def __call__(self, worktree: workspace.Worktree, image: str | None, job_id: str) -> SandboxSession: ...


@dataclass(frozen=True)
class SolveRequest:
    clone_url: str
    git_env: Mapping[str, str] = field(repr=False)
    base_branch: str
    branch: str
    issue: Issue
    default_models: ModelPair
    model_override: ModelPair | None = None
    author: tuple[str, str] = ("ai-fix[bot]", "ai-fix[bot]@users.noreply.github.com")
    push: bool = True
    job_id: str = "local"


@dataclass
class SolveDeps:
    workspace: workspace.Workspace
    chat: ChatModel
    sandbox: SandboxFactory
    aliases: Mapping[str, ModelPair] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    should_stop: Callable[[], bool] = lambda: False
    progress: Callable[[str], None] = lambda message: None


def guess_test_command(files: list[str]) -> str | None:
    """A default when the repository says nothing: pytest if it has Python tests."""
    for path in files:
        name = path.rsplit("/", 1)[-1]
        if name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))):
            return "python3 -m pytest -q -p no:cacheprovider"
    return None


def _rank(attempt: Attempt) -> tuple[int, int]:
    """aider's order: edit+tests ok, edit ok, partial edit, nothing (lower is better)."""
    tests_ok = attempt.test is None or attempt.test.passed
    if attempt.edit_ok and tests_ok:
        return (0, 0)
    if attempt.edit_ok:
        return (1, 0)
    if attempt.edits_applied:
        return (2, len(attempt.edit_errors))
    return (3, 0)


def _models(request: SolveRequest, config: RepoConfig, aliases: Mapping[str, ModelPair]) -> ModelPair:
    if request.model_override:
        return request.model_override
    if config.models.senior:
        senior = resolve(config.models.senior, aliases)
        junior = resolve(config.models.junior, aliases).junior if config.models.junior else senior.junior
        return ModelPair(senior.senior, junior)
    return request.default_models


def solve(request: SolveRequest, deps: SolveDeps) -> Outcome:
    started = time.monotonic()
    outcome = Outcome(verdict=Verdict.ERROR, issue_number=request.issue.number, branch=request.branch,
                      base_branch=request.base_branch)
    try:
        _solve(request, deps, outcome)
    except Cancelled as exc:
        outcome.verdict, outcome.error, outcome.hint = Verdict.ERROR, exc.message, exc.hint
    except RunnerError as exc:
        outcome.verdict, outcome.error, outcome.hint = Verdict.ERROR, exc.message, exc.hint
    outcome.duration_s = time.monotonic() - started
    return outcome


def _solve(request: SolveRequest, deps: SolveDeps, outcome: Outcome) -> None:
    deps.progress("Fetching the repository")
    mirror = deps.workspace.fetch(request.clone_url, request.git_env)
    probe = deps.workspace.checkout(mirror, request.base_branch)
    try:
        config = repo_config.load(probe.path)
        files = probe.tracked_files()
    finally:
        deps.workspace.remove(probe)
    outcome.base_sha = probe.base_sha
    pair = _models(request, config, deps.aliases)
    test_command = config.test or guess_test_command(files)
    outcome.test_command = test_command
    outcome.always_draft = config.draft
    budget = Budget(max_cost_usd=config.max_cost_usd, deadline=time.monotonic() + config.timeout_minutes * 60,
                    should_stop=deps.should_stop)
    test_timeout = min(600.0, config.timeout_minutes * 60 / 2)

    best: tuple[tuple[int, int], Attempt, dict[str, str], workspace.Worktree] | None = None
    stopped: CostLimitReached | None = None
    try:
        for number in range(1, config.attempts + 1):
            tree = deps.workspace.checkout(mirror, request.base_branch)
            keep = False
            session = deps.sandbox(tree, config.image, request.job_id) if test_command else None
            try:
                if session and test_command and outcome.baseline is None:
                    deps.progress("Running the tests on the untouched code (baseline)")
                    outcome.baseline = as_run(session.run(test_command, test_timeout))
                deps.progress(f"Attempt {number}: {pair.senior} plans, {pair.junior} edits")
                runner = AttemptRunner(deps.chat, budget, tree.path, files, request.issue, pair, number,
                                       config.paths.deny)
                outcome.attempts.append(runner.attempt)
                try:
                    runner.run(session, test_command, outcome.baseline, test_timeout)
                except CostLimitReached as exc:
                    stopped = exc
                rank = _rank(runner.attempt)
                if runner.attempt.edits_applied and (best is None or rank < best[0]):
                    if best is not None:
                        deps.workspace.remove(best[3])
                    best, keep = (rank, runner.attempt, dict(runner.contents), tree), True
                if rank == (0, 0) or stopped:
                    break
            finally:
                if session:
                    session.close()
                if not keep:
                    deps.workspace.remove(tree)
        if best is not None:
            _finish(request, outcome, best[1], best[2], best[3], test_command)
        elif outcome.attempts:
            outcome.verdict = Verdict.NO_EDIT
        if stopped:
            outcome.error, outcome.hint = stopped.message, stopped.hint
    finally:
        if best is not None:
            deps.workspace.remove(best[3])


def _finish(request: SolveRequest, outcome: Outcome, attempt: Attempt, contents: dict[str, str],
            tree: workspace.Worktree, test_command: str | None) -> None:
    plausible = attempt.edit_ok and (attempt.test is None or attempt.test.passed)
    if test_command and attempt.test is None:
        plausible = False
    outcome.verdict = Verdict.PLAUSIBLE if plausible else Verdict.NOT_PLAUSIBLE
    outcome.changed_files = sorted(contents)
    message = f"Fix #{request.issue.number}: {request.issue.title}"[:200] + \
        f"\n\nProposed by ai-fix (attempt {attempt.number}, {attempt.senior} + {attempt.junior})."
    commit = workspace.commit_contents(tree, contents, message, request.author)
    outcome.diff = workspace.diff(tree, commit)
    if request.push:
        workspace.push(tree, request.clone_url, request.git_env, commit, request.branch)
    outcome.head_sha = commit

