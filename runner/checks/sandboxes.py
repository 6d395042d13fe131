"""What judges an attempt: a sandbox session on its worktree, the commands, and their baseline.

The dependencies are installed (`setup`) and the checks run on the untouched tree (the baseline)
once per job, in the first attempt's sandbox: later attempts reuse the image and compare against
the same baseline, so a pre-existing failure is never blamed on any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

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
            yield Checks(session, plan.test_command, plan.lint_command, *self.baseline)
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
        return tests, lint
