"""The runner's entry point: repository URL + opaque git credentials + issue in, `Outcome` out.

Knows nothing of GitHub or HTTP. The order of work follows DESIGN.md: workspace, repository
config, baseline (`runner.checks.sandboxes`), attempts (`runner.attempts`: alternating model pairs, each in a
fresh worktree, stopping at the first plausible one), then commit and push of the best attempt by
aider's order. However the job ends, its `Outcome` is built once, from what it got to.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from runner import context, repo_config, workspace
from runner.attempts import Plan, Worktrees, attempt_loop, pair_order, plausible
from runner.checks.sandboxes import CheckPlan, Sandboxes
from runner.engine import AttemptContext, AttemptResult, EngineSettings, Pattern
from runner.errors import Cancelled, GitError, LimitReached, ModelError, RunnerError
from runner.file_kinds import is_pytest_file, is_test_path
from runner.git import git
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
    if any(is_pytest_file(path) for path in files):
        return "python3 -m pytest -q -p no:cacheprovider"
    return None


_TESTS = r"\b(?:tests?|test suite|test modules?|test files?|pytest|unittest)\b"
# "tests fail to import", "pytest cannot collect", "import error in the tests", "no tests ran", "exit code 4".
_TESTS_BROKEN = tuple(re.compile(p, re.I) for p in (
    _TESTS + r"[^\n.]{0,60}\b(?:fail\w*|error\w*|broken|cannot|can't|does not|doesn't|won't|unable)\b[^\n.]{0,30}"
             r"\b(?:import\w*|collect\w*|discover\w*|run|start|load)\b",
    r"\b(?:import ?errors?|modulenotfounderror|collection errors?)\b[^\n.]{0,60}" + _TESTS,
    _TESTS + r"[^\n.]{0,60}\b(?:import ?errors?|modulenotfounderror|collection errors?)\b",
    r"\bno tests? (?:ran|run|collected)\b|\bcollected 0 items\b",
    _TESTS + r"[^\n.]{0,60}\bexit(?:s|ed)? (?:with )?(?:code |status )?[45]\b"))


def about_the_tests(issue_text: str, test_command: str | None, files: Sequence[str]) -> bool:
    """The issue is about the test command itself, so a test command that does not work at baseline is the task,
    not a reason to stop: the issue names the test command, a test file, or says the tests fail to import,
    to be collected or to run. A simple rule on purpose; a false yes only costs the attempts it spends."""
    if test_command and test_command.strip() in issue_text:
        return True
    words = {word.rstrip(".") for word in re.findall(r"[\w./-]+", issue_text)}
    names = {path.rsplit("/", 1)[-1] for path in files if is_test_path(path.rsplit("/", 1)[-1])}  # test_x.py
    if any(is_test_path(path) and path in words for path in files) or names & words:
        return True
    return any(pattern.search(issue_text) for pattern in _TESTS_BROKEN)


def _chosen_pair(request: SolveRequest, config: RepoConfig, aliases: Mapping[str, ModelPair]) -> ModelPair:
    if request.model_override:
        return request.model_override
    if config.models.senior:
        senior = resolve(config.models.senior, aliases)
        junior = resolve(config.models.junior, aliases).junior if config.models.junior else senior.junior
        return ModelPair(senior.senior, junior)
    return request.default_models


def solve(request: SolveRequest, deps: SolveDeps) -> Outcome:
    """Run the job. Every way it can stop (config, git, setup, a cancel...) is a `RunnerError`: its message
    and hint land in the outcome, with whatever the job did before it."""
    started = time.monotonic()
    journal = _Journal()
    error: RunnerError | None = None
    try:
        _solve(request, deps, journal)
    except RunnerError as exc:
        error = exc
    return _outcome(request, journal, error, time.monotonic() - started)


@dataclass(frozen=True)
class _Job:
    """The repository as read once, from the probe checkout, with the request's overrides applied."""

    config: RepoConfig
    files: list[str]
    base_sha: str
    test_command: str | None
    lint_command: str | None
    settings: EngineSettings


@dataclass
class _Journal:
    """What the job got to, each fact written once, as it happens (by `_solve`; the loop appends each attempt's
    record as it starts): the outcome is built from it whether the job finished or stopped."""

    job: _Job | None = None
    sandboxes: Sandboxes | None = None
    attempts: list[Attempt] = field(default_factory=list)
    stop: LimitReached | ModelError | None = None
    """The provider, cost or time stop that ended the attempts early."""
    chosen: AttemptResult | None = None
    """The result being committed."""
    diff: str = ""
    head_sha: str = ""


def _solve(request: SolveRequest, deps: SolveDeps, journal: _Journal) -> None:
    deps.progress("Fetching the repository")
    mirror = deps.workspace.fetch(request.clone_url, request.git_env)
    # The probe checkout is never mounted in a sandbox: the config, the file list and the repo map are read from
    # it, so nothing sandboxed code plants in an attempt's worktree can reach them (or host git, via a .git).
    with _checkout(deps.workspace, mirror, request.base_branch) as probe:
        job = journal.job = _read_job(request, probe)
        repo_map = deps.repo_map(probe.path, job.files)
        unknown = [f for f in request.overrides.files if f not in set(job.files)]
        if unknown:
            raise RunnerError(f"not tracked in the repository: {', '.join(unknown)}", hint="check the --files paths")
        config = job.config
        plan = Plan(request.overrides.attempts or config.attempts,
                    pair_order(_chosen_pair(request, config, deps.aliases), request.alternates), job.test_command)
        budget = Budget(max_cost_usd=config.max_cost_usd, deadline=deps.clock() + config.timeout_minutes * 60,
                        should_stop=deps.should_stop, clock=deps.clock)
        ctx = AttemptContext(chat=deps.chat, budget=budget, files=job.files, issue=request.issue,
                             settings=job.settings, original=_original(mirror, job.base_sha), repo_map=repo_map)
        sandboxes = journal.sandboxes = Sandboxes(
            CheckPlan(job.test_command, job.lint_command, config.setup, config.image, request.clone_url,
                      request.job_id, job.settings.test_timeout_s,
                      tests_in_question=about_the_tests(request.issue.text, job.test_command, job.files)),
            deps.sandbox, deps.setup, budget, deps.progress)
        trees = Worktrees(checkout=lambda: deps.workspace.checkout(mirror, request.base_branch),
                          remove=deps.workspace.remove, checks=sandboxes.open)
        with attempt_loop(ctx, plan, trees, journal.attempts, deps.progress) as tried:
            journal.stop = tried.stop
            if tried.best is None:
                return
            if deps.should_stop():
                raise Cancelled("the job was cancelled before its patch was pushed")
            best = journal.chosen = tried.best
            commit = _commit(request, best)
            journal.diff = workspace.diff(best.tree, commit)
            if request.push:
                env = request.push_env() if request.push_env else request.git_env
                workspace.push(best.tree, request.clone_url, env, commit, request.branch)
            journal.head_sha = commit


@contextmanager
def _checkout(ws: workspace.Workspace, mirror: Path, branch: str) -> Iterator[workspace.Worktree]:
    tree = ws.checkout(mirror, branch)
    try:
        yield tree
    finally:
        ws.remove(tree)


def _read_job(request: SolveRequest, probe: workspace.Worktree) -> _Job:
    config = repo_config.load(probe.path)
    files = probe.tracked_files()
    over = request.overrides
    test_command = (over.test_command if over.test_command is not None
                    else config.test or guess_test_command(files)) or None  # "" means: run no tests
    settings = EngineSettings(pattern=over.pattern or config.pattern, deny=tuple(config.paths.deny),
                              test_timeout_s=min(600.0, config.timeout_minutes * 60 / 2), preselected=over.files)
    return _Job(config, files, probe.base_sha, test_command, over.lint_command or config.lint, settings)


def _original(mirror: Path, base_sha: str) -> Callable[[str], str | None]:
    """Reads a file as it is at the base commit, from the mirror: no attempt's worktree can change it."""

    def original(path: str) -> str | None:
        try:
            return git(["show", f"{base_sha}:{path}"], git_dir=mirror)
        except GitError:
            return None

    return original


def _commit(request: SolveRequest, best: AttemptResult) -> str:
    """Commit exactly the contents the attempt recorded (not whatever its tests left in the worktree)."""
    attempt = best.attempt
    message = f"Fix #{request.issue.number}: {request.issue.title}"[:200] + \
        f"\n\nProposed by ai-fix (attempt {attempt.number}, {attempt.senior} + {attempt.junior})."
    return workspace.commit_contents(best.tree, best.contents, message, request.author)


def _outcome(request: SolveRequest, journal: _Journal, error: RunnerError | None, duration_s: float) -> Outcome:
    job, sandboxes, chosen = journal.job, journal.sandboxes, journal.chosen
    test_command = job.test_command if job else None
    why = error or journal.stop
    return Outcome(
        verdict=_verdict(journal, error, test_command), issue_number=request.issue.number, branch=request.branch,
        base_branch=request.base_branch, base_sha=job.base_sha if job else "", head_sha=journal.head_sha,
        diff=journal.diff, changed_files=sorted(chosen.contents) if chosen else [], attempts=list(journal.attempts),
        baseline=sandboxes.baseline[0] if sandboxes and sandboxes.baseline else None,
        baseline_tests=sandboxes.baseline_run.counts if sandboxes and sandboxes.baseline_run else None,
        setup=sandboxes.setup if sandboxes else None,
        test_command=test_command, lint_command=job.lint_command if job else None,
        chosen=chosen.attempt.number if chosen else 0, always_draft=job.config.draft if job else False,
        error=why.message if why else "", hint=why.hint if why else "", duration_s=duration_s)


def _verdict(journal: _Journal, error: RunnerError | None, test_command: str | None) -> Verdict:
    """A stopped job is an error even past the commit; a patch is plausible only when tests vouch for it;
    without one, the attempts found no edit, unless the provider stopped them."""
    if error is not None:
        return Verdict.ERROR
    if journal.chosen is not None:
        return Verdict.PLAUSIBLE if plausible(journal.chosen.attempt, test_command) else Verdict.NOT_PLAUSIBLE
    if journal.attempts and not isinstance(journal.stop, ModelError):
        return Verdict.NO_EDIT
    return Verdict.ERROR
