"""The runner's entry point: repository URL + opaque git credentials + issue in, `Outcome` out.

Knows nothing of GitHub or HTTP. The order of work follows DESIGN.md: workspace, repository
config, baseline, attempts (alternating model pairs, each in a fresh worktree, stopping at the
first plausible one), then commit and push of the best attempt by aider's order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner import context, repo_config, workspace
from runner.checks import CheckPlan, Sandboxes
from runner.engine import AttemptContext, AttemptRunner, EngineSettings, Pattern
from runner.errors import Cancelled, GitError, LimitReached, ModelError, RunnerError
from runner.limits import Budget
from runner.models import DEFAULT_ALIASES, ModelPair, resolve
from runner.outcome import Attempt, Outcome, Verdict
from runner.ports import ChatModel, Issue, MapFactory, SandboxFactory, SetupRunner
from runner.repo_config import RepoConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Overrides:
    """What a person running `ai-fix solve` (or a command) sets over the repository's config."""

    pattern: Pattern | None = None
    test_command: str | None = None
    lint_command: str | None = None
    attempts: int | None = None
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class SolveRequest:
    clone_url: str
    git_env: Mapping[str, str] = field(repr=False)
    base_branch: str
    branch: str
    issue: Issue
    default_models: ModelPair
    model_override: ModelPair | None = None
    alternates: tuple[ModelPair, ...] = ()
    """Pairs used by later attempts (alternating) and as fallbacks when a provider is down."""
    author: tuple[str, str] = ("ai-fix[bot]", "ai-fix[bot]@users.noreply.github.com")
    push: bool = True
    push_env: Callable[[], Mapping[str, str]] | None = field(default=None, repr=False)
    """Fresh credentials for the push (installation tokens expire after an hour); default `git_env`."""
    job_id: str = "local"
    overrides: Overrides = Overrides()


@dataclass
class SolveDeps:
    workspace: workspace.Workspace
    chat: ChatModel
    sandbox: SandboxFactory
    aliases: Mapping[str, ModelPair] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    should_stop: Callable[[], bool] = lambda: False
    progress: Callable[[str], None] = lambda message: None
    repo_map: MapFactory = context.simple_map
    setup: SetupRunner | None = None
    clock: Callable[[], float] = time.monotonic
    """What the time limit (`timeout_minutes`) is measured on."""


def guess_test_command(files: list[str]) -> str | None:
    """A default when the repository says nothing: pytest if it has Python tests."""
    for path in files:
        name = path.rsplit("/", 1)[-1]
        if name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))):
            return "python3 -m pytest -q -p no:cacheprovider"
    return None


def rank(attempt: Attempt, test_command: str | None) -> tuple[int, int]:
    """aider's order, refined with tests: lower is better; ties go to fewer new failures."""
    edit_ok, lint_ok = attempt.edit_ok, attempt.lint_ok
    tests_ok = attempt.tests_ok if test_command else True
    if edit_ok and lint_ok and tests_ok:
        tier = 0
    elif edit_ok and lint_ok:
        tier = 1
    elif attempt.edits_applied and lint_ok:
        tier = 2
    elif edit_ok:
        tier = 3
    elif attempt.edits_applied:
        tier = 4
    else:
        tier = 5
    return tier, len(attempt.new_failures)


def as_good_as_it_gets(attempt: Attempt, test_command: str | None) -> bool:
    """Every available check passed: further attempts cannot do better, so stop."""
    return rank(attempt, test_command)[0] == 0


def plausible(attempt: Attempt, test_command: str | None) -> bool:
    """Edits applied, no new lint error, and tests ran with no new failure. Without a test command a
    change is unverified, never plausible: the PR says so and opens as a draft."""
    return test_command is not None and as_good_as_it_gets(attempt, test_command)


def _chosen_pair(request: SolveRequest, config: RepoConfig, aliases: Mapping[str, ModelPair]) -> ModelPair:
    if request.model_override:
        return request.model_override
    if config.models.senior:
        senior = resolve(config.models.senior, aliases)
        junior = resolve(config.models.junior, aliases).junior if config.models.junior else senior.junior
        return ModelPair(senior.senior, junior)
    return request.default_models


def pair_order(first: ModelPair, alternates: Sequence[ModelPair]) -> list[ModelPair]:
    return list(dict.fromkeys([first, *alternates]))


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


@dataclass
class _Best:
    rank: tuple[int, int]
    attempt: Attempt
    contents: dict[str, str | None]
    tree: workspace.Worktree


def _solve(request: SolveRequest, deps: SolveDeps, outcome: Outcome) -> None:
    deps.progress("Fetching the repository")
    mirror = deps.workspace.fetch(request.clone_url, request.git_env)
    # The probe checkout is never mounted in a sandbox: the config, the file list and the repo map are read from
    # it, so nothing sandboxed code plants in an attempt's worktree can reach them (or host git, via a .git).
    probe = deps.workspace.checkout(mirror, request.base_branch)
    try:
        _solve_from(request, deps, outcome, mirror, probe)
    finally:
        deps.workspace.remove(probe)


def _solve_from(request: SolveRequest, deps: SolveDeps, outcome: Outcome, mirror: Path,
                probe: workspace.Worktree) -> None:
    config = repo_config.load(probe.path)
    files = probe.tracked_files()
    outcome.base_sha = probe.base_sha
    repo_map = deps.repo_map(probe.path, files)
    over = request.overrides
    test_command = (over.test_command if over.test_command is not None
                    else config.test or guess_test_command(files)) or None  # "" means: run no tests
    lint_command = over.lint_command or config.lint
    outcome.test_command, outcome.lint_command, outcome.always_draft = test_command, lint_command, config.draft
    unknown = [f for f in over.files if f not in set(files)]
    if unknown:
        raise RunnerError(f"not tracked in the repository: {', '.join(unknown)}", hint="check the --files paths")
    pairs = pair_order(_chosen_pair(request, config, deps.aliases), request.alternates)
    budget = Budget(max_cost_usd=config.max_cost_usd, deadline=deps.clock() + config.timeout_minutes * 60,
                    should_stop=deps.should_stop, clock=deps.clock)
    settings = EngineSettings(pattern=over.pattern or config.pattern, deny=tuple(config.paths.deny),
                              test_timeout_s=min(600.0, config.timeout_minutes * 60 / 2), preselected=over.files)

    def original(path: str) -> str | None:
        try:
            return workspace.git(["show", f"{probe.base_sha}:{path}"], git_dir=mirror)
        except GitError:
            return None

    ctx = AttemptContext(chat=deps.chat, budget=budget, files=files, issue=request.issue, settings=settings,
                         original=original, repo_map=repo_map)
    sandboxes = Sandboxes(CheckPlan(test_command, lint_command, config.setup, config.image, request.clone_url,
                                    request.job_id, settings.test_timeout_s), deps.sandbox, deps.setup, budget,
                          deps.progress)
    best: _Best | None = None
    stopped: LimitReached | ModelError | None = None
    try:
        for number in range(1, (over.attempts or config.attempts) + 1):
            order = pairs[(number - 1) % len(pairs):] + pairs[:(number - 1) % len(pairs)]
            tree = deps.workspace.checkout(mirror, request.base_branch)
            keep = False
            try:
                try:
                    with sandboxes.open(tree) as checks:
                        deps.progress(f"Attempt {number}: {order[0].senior} + {order[0].junior} ({settings.pattern})")
                        runner = AttemptRunner(ctx, tree, checks, number, order)
                        outcome.attempts.append(runner.attempt)
                        result = runner.run()
                finally:
                    outcome.setup = sandboxes.setup
                    outcome.baseline = sandboxes.baseline[0] if sandboxes.baseline else None
                stopped = result.stop
                score = rank(result.attempt, test_command)
                if result.contents and (best is None or score < best.rank):
                    if best is not None:
                        deps.workspace.remove(best.tree)
                    best, keep = _Best(score, result.attempt, dict(result.contents), tree), True
                if as_good_as_it_gets(result.attempt, test_command) or stopped:
                    break
            finally:
                if not keep:
                    deps.workspace.remove(tree)
        if best is not None:
            if deps.should_stop():
                raise Cancelled("the job was cancelled before its patch was pushed")
            _finish(request, outcome, best, test_command)
        elif outcome.attempts:
            outcome.verdict = Verdict.ERROR if isinstance(stopped, ModelError) else Verdict.NO_EDIT
        if stopped:
            outcome.error, outcome.hint = stopped.message, stopped.hint
    finally:
        if best is not None:
            deps.workspace.remove(best.tree)


def _finish(request: SolveRequest, outcome: Outcome, best: _Best, test_command: str | None) -> None:
    attempt = best.attempt
    outcome.verdict = Verdict.PLAUSIBLE if plausible(attempt, test_command) else Verdict.NOT_PLAUSIBLE
    outcome.chosen = attempt.number
    outcome.changed_files = sorted(best.contents)
    message = f"Fix #{request.issue.number}: {request.issue.title}"[:200] + \
        f"\n\nProposed by ai-fix (attempt {attempt.number}, {attempt.senior} + {attempt.junior})."
    commit = workspace.commit_contents(best.tree, best.contents, message, request.author)
    outcome.diff = workspace.diff(best.tree, commit)
    if request.push:
        env = request.push_env() if request.push_env else request.git_env
        workspace.push(best.tree, request.clone_url, env, commit, request.branch)
    outcome.head_sha = commit
