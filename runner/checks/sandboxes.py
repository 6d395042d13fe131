"""What judges an attempt: a sandbox session on its worktree, the commands, and their baseline.

The dependencies are installed (`setup`) and the checks run on the untouched tree (the baseline)
once per job, in the first attempt's sandbox: later attempts reuse the image and compare against
the same baseline, so a pre-existing failure is never blamed on any of them. A test command that
cannot work on the untouched tree (not found, pytest unable to start, no test collected or run)
stops the job there, before any model is called: no change could be judged by it. Unless the
issue is about the tests themselves, when making them run may well be the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from runner.checks import test_results
from runner.checks.test_run import TestRun
from runner.errors import RunnerError
from runner.limits import Budget
from runner.ports import CommandResult, SandboxFactory, SandboxSession, SetupResult, SetupRunner
from runner.workspace import Worktree


@dataclass(frozen=True)
class Checks:
    """The sandbox session, the commands, and their results on the untouched tree."""

    session: SandboxSession | None = None
    test_command: str | None = None
    lint_command: str | None = None
    baseline_test: CommandResult | None = None
    baseline_lint: CommandResult | None = None
    baseline_run: TestRun | None = None
    """`baseline_test` as read (`test_results.read`): what every attempt's tests are compared with."""


class UnusableTestCommand(RunnerError):
    """The test command does not work on the untouched tree; the job stops before any model is called."""


@dataclass(frozen=True)
class CheckPlan:
    """The job's commands and where they run: read once from the repository's config and the request."""

    test_command: str | None
    lint_command: str | None
    setup_commands: Sequence[str]
    image: str | None
    """The repository's `image`, or None for the App's default."""
    repo_key: str
    """Names the repository for the setup cache (its clone URL)."""
    job_id: str
    timeout_s: float
    """The per-command cap of the baseline."""
    tests_in_question: bool = False
    """The issue is about the tests themselves: a test command that does not work at baseline is the task,
    not a reason to stop."""


class Sandboxes:
    """Opens each attempt's sandbox; the first one also runs setup and the baseline.

    `setup` and `baseline` stay None until they ran: the outcome reports only what did.
    """

    def __init__(self, plan: CheckPlan, sandbox: SandboxFactory, setup: SetupRunner | None, budget: Budget,
                 progress: Callable[[str], None]) -> None:
        self._plan, self._sandbox, self._setup, self._budget, self._progress = plan, sandbox, setup, budget, progress
        self._image = plan.image
        self.setup: SetupResult | None = None
        self.baseline: tuple[CommandResult | None, CommandResult | None] | None = None
        """(tests, lint) on the untouched tree; (None, None) when there is nothing to run."""
        self.baseline_run: TestRun | None = None
        """The baseline tests as read, once."""

    @contextmanager
    def open(self, tree: Worktree) -> Iterator[Checks]:
        """The checks of the attempt working in `tree`, its session open until the block ends."""
        plan = self._plan
        runs_commands = bool(plan.test_command or plan.lint_command)
        if plan.setup_commands and self.setup is None and runs_commands:
            self.setup = self._run_setup(tree)
            self._image = self.setup.image
        session = self._sandbox(tree, self._image, plan.job_id) if runs_commands else None
        try:
            if self.baseline is None:
                self.baseline = self._run_baseline(session)
                self._check_baseline()
            yield Checks(session, plan.test_command, plan.lint_command, *self.baseline, self.baseline_run)
        finally:
            if session:
                session.close()

    def _run_setup(self, tree: Worktree) -> SetupResult:
        if self._setup is None:
            raise RunnerError("this runner cannot run `setup` commands", hint="run the App's worker")
        self._progress("Installing dependencies (setup), or reusing the cached result")
        return self._setup(tree, self._image, self._plan.setup_commands, self._plan.repo_key, self._plan.job_id,
                           max(60.0, self._budget.seconds_left()))

    def _run_baseline(self, session: SandboxSession | None) -> tuple[CommandResult | None, CommandResult | None]:
        """Tests and lint on the untouched tree, so pre-existing failures are known and not blamed."""
        if session is None:
            return None, None
        self._progress("Running the checks on the untouched code (baseline)")
        plan = self._plan
        tests = session.run(plan.test_command, plan.timeout_s) if plan.test_command else None
        lint = session.run(plan.lint_command, plan.timeout_s) if plan.lint_command else None
        self.baseline_run = test_results.read(tests) if tests else None
        return tests, lint

    def _check_baseline(self) -> None:
        """Stop when the test command cannot work: attempts judged by it would be spent for nothing."""
        tests, run = self.baseline[0] if self.baseline else None, self.baseline_run
        if tests is None or run is None:
            return
        reason = test_results.unusable(run, tests.output)
        if reason is None:
            return
        if self._plan.tests_in_question:
            self._progress(f"The test command does not work on the untouched code ({reason}); the issue is about "
                           "the tests, so the attempts go on")
            return
        tail = "\n".join(test_results.clean(tests.output).strip().splitlines()[-15:])[-2000:]
        raise UnusableTestCommand(
            f"the test command `{tests.command}` does not work on the untouched code: {reason}\n\n"
            f"The end of its output:\n{tail}",
            hint="fix `test:` in .github/ai-fix.yml (or the `setup:` that installs what the tests need), then "
                 "comment /retry; no model was called")
