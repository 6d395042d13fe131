"""What a job did, as plain data: the only thing that crosses back from the runner to the bot.

Everything the PR body claims must be derivable from these records, so the summary can never
say more than what happened.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from runner.ports import CommandResult, SetupResult

FIXES_NOTHING = "every test that failed before the change still fails: nothing shows that it fixes the issue"
"""Why a change that breaks nothing is still not plausible when the baseline had failures and it fixed none."""


class Verdict(StrEnum):
    PLAUSIBLE = "plausible"
    """Edits applied, no new lint errors, no new test failures, and (when tests failed before) at least one fixed."""
    NOT_PLAUSIBLE = "not_plausible"
    """Edits applied but something is still failing (or could not be checked)."""
    NO_EDIT = "no_edit"
    """No edit applied: nothing to push."""
    ERROR = "error"
    """The job stopped before it could produce a patch (config, git, provider...)."""


@dataclass(frozen=True)
class TestCounts:
    """What one test run counted, as a person reads it ("4 passed, 1 failed"). `ran` is False when no test
    executed (nothing collected, every module failing to import): such a run vouches for nothing."""

    __test__ = False  # not a pytest test class, whatever its name

    status: str
    """passed, failed, no_tests, collection_error, timed_out or unreadable (`runner.checks.test_run.Status`)."""
    ran: bool
    collected: int | None = None
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    collection_errors: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.status == "timed_out":
            return "timed out"
        if self.status == "unreadable":
            return "failed (its output does not say which tests)"
        if not self.ran:
            if self.collection_errors:
                named = ", ".join(self.collection_errors[:3]) + (" and more" if len(self.collection_errors) > 3 else "")
                return f"no test ran: collection error in {named}"
            return "no test ran"
        counted = [f"{n} {word}" for n, word in ((self.passed, "passed"), (self.failed, "failed"),
                                                 (self.errors, "error" if self.errors == 1 else "errors"),
                                                 (self.skipped, "skipped")) if n]
        if not counted:
            return f"{'passed' if self.status == 'passed' else 'failed'} (its output does not count the tests)"
        return ", ".join(counted)


@dataclass(frozen=True)
class LLMCall:
    role: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float
    cost_estimated: bool = False


@dataclass
class Attempt:
    number: int
    senior: str
    junior: str
    pattern: str = "plan"
    files_read: list[str] = field(default_factory=list)
    plan: str = ""
    review: str = ""
    """The Senior's last review ("LGTM" or the defects it found); empty when the pattern has no review."""
    edits_proposed: int = 0
    edits_applied: int = 0
    edit_errors: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    lint_errors: list[str] = field(default_factory=list)
    """Lint errors the edit introduced (syntax, fatal pyflakes, the repository's lint command)."""
    lint: CommandResult | None = None
    test: CommandResult | None = None
    tests_before: TestCounts | None = None
    """The baseline's test counts, as this attempt was judged against them (None: no tests ran)."""
    tests_after: TestCounts | None = None
    """The counts of the last test run on this attempt's change (None: not run)."""
    new_failures: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    """Tests that failed before the change too: not blamed on it."""
    fixed_tests: list[str] = field(default_factory=list)
    """Tests that failed before the change and pass after it: what shows the change fixes something."""
    reflections: int = 0
    fallbacks: list[str] = field(default_factory=list)
    """Model switches after a provider kept failing."""
    error: str = ""
    """Why the attempt stopped early (provider down, cost cap...), if it did."""
    calls: list[LLMCall] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def edit_ok(self) -> bool:
        return self.edits_applied > 0 and not self.edit_errors

    @property
    def lint_ok(self) -> bool:
        return not self.lint_errors

    @property
    def fixes_nothing(self) -> bool:
        """Tests failed before the change and every one of them still fails: a cosmetic edit looks exactly like
        this, so nothing shows that the change fixes the issue. (A baseline without failures says nothing here.)"""
        return bool(self.still_failing) and not self.fixed_tests

    @property
    def tests_ok(self) -> bool:
        """The tests ran after the change, at least one of them executed, none failed that did not before, and
        when some failed before, the change fixed at least one of them."""
        return self.test is not None and self.tests_after is not None and self.tests_after.ran \
            and not self.new_failures and not self.fixes_nothing

    @property
    def tokens(self) -> int:
        return sum(c.prompt_tokens + c.completion_tokens for c in self.calls)

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd for c in self.calls)

    @property
    def cost_estimated(self) -> bool:
        return any(c.cost_estimated for c in self.calls)


@dataclass(frozen=True)
class Outcome:
    """Built once, when the job ends, from what it did (see `runner.job`); nothing changes it afterwards."""

    verdict: Verdict
    issue_number: int
    branch: str
    base_branch: str
    base_sha: str = ""
    head_sha: str = ""
    """The pushed commit; empty when nothing was pushed."""
    diff: str = ""
    changed_files: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    baseline: CommandResult | None = None
    baseline_tests: TestCounts | None = None
    """What the tests counted on the untouched tree (None: they did not run)."""
    setup: SetupResult | None = None
    test_command: str | None = None
    lint_command: str | None = None
    chosen: int = 0
    """Number of the attempt whose patch was committed (0: none)."""
    always_draft: bool = False
    """The repository asked for draft pull requests whatever the verdict."""
    error: str = ""
    hint: str = ""
    duration_s: float = 0.0

    @property
    def final_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data
