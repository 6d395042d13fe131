"""The attempt loop: up to N attempts, each in a fresh worktree, keeping the best by aider's order.

Attempt n starts with the n-th model pair (the pairs rotate) and falls back to the following ones
when a provider stays down. The loop stops at the first attempt where every available check passed,
or at a provider, cost or time stop (a cancel propagates). Only the best result's worktree outlives
its attempt, until the loop's `with` block ends: whatever happens, every worktree is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from types import TracebackType

from runner.checks.sandboxes import Checks
from runner.engine import AttemptContext, AttemptResult, AttemptRunner
from runner.errors import LimitReached, ModelError
from runner.models import ModelPair
from runner.outcome import Attempt
from runner.workspace import Worktree


def rank(attempt: Attempt, test_command: str | None) -> tuple[int, int]:
    """aider's order, refined with tests: lower is better; ties go to fewer new failures. Tier 0 needs the
    tests to have run on the change (`Attempt.tests_ok`: at least one executed, none newly failing, and, when
    some failed before the change, at least one of those fixed: otherwise a cosmetic edit would stop the loop)."""
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
    """Edits applied, no new lint error, and tests ran (at least one executed) with no new failure and, when tests
    failed before the change, at least one of them fixed. Without a test command a change is unverified, never
    plausible: the PR says so and opens as a draft."""
    return test_command is not None and as_good_as_it_gets(attempt, test_command)


def pair_order(first: ModelPair, alternates: Sequence[ModelPair]) -> list[ModelPair]:
    return list(dict.fromkeys([first, *alternates]))


def rotation(pairs: Sequence[ModelPair], number: int) -> list[ModelPair]:
    """The pairs attempt `number` (from 1) uses: its own first, then the others as fallbacks."""
    start = (number - 1) % len(pairs)
    return [*pairs[start:], *pairs[:start]]


@dataclass(frozen=True)
class Plan:
    """How many attempts, with which model pairs, ranked with which test command."""

    attempts: int
    pairs: Sequence[ModelPair]
    test_command: str | None


@dataclass(frozen=True)
class Worktrees:
    """Where attempts work: a fresh worktree of the base commit each, and the checks that judge it."""

    checkout: Callable[[], Worktree]
    remove: Callable[[Worktree], None]
    checks: Callable[[Worktree], AbstractContextManager[Checks]]
    """The attempt's sandbox, open while the attempt runs."""


@dataclass(frozen=True)
class Tried:
    """What the loop leaves: the best result with edits (its worktree alive until the loop ends), and the stop."""

    best: AttemptResult | None
    stop: LimitReached | ModelError | None


class Best:
    """The best result so far; a worse one, or one replaced by a better one, has its worktree removed."""

    def __init__(self, remove: Callable[[Worktree], None], test_command: str | None) -> None:
        self._remove, self._test_command = remove, test_command
        self.result: AttemptResult | None = None

    def offer(self, result: AttemptResult) -> bool:
        """Keep `result` if it has edits and ranks better than the kept one; True when kept."""
        kept = self.result
        if not result.contents or (kept is not None and self._rank(result) >= self._rank(kept)):
            return False
        if kept is not None:
            self._remove(kept.tree)
        self.result = result
        return True

    def _rank(self, result: AttemptResult) -> tuple[int, int]:
        return rank(result.attempt, self._test_command)

    def __enter__(self) -> Best:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.result is not None:
            self._remove(self.result.tree)


@contextmanager
def attempt_loop(ctx: AttemptContext, plan: Plan, trees: Worktrees, records: list[Attempt],
                 progress: Callable[[str], None]) -> Iterator[Tried]:
    """Run the attempts; `records` gets each attempt's record as it starts, so a stop mid-attempt still reports it."""
    with Best(trees.remove, plan.test_command) as best:
        stop: LimitReached | ModelError | None = None
        for number in range(1, plan.attempts + 1):
            pairs = rotation(plan.pairs, number)
            with ExitStack() as owned:
                tree = trees.checkout()
                owned.callback(trees.remove, tree)
                with trees.checks(tree) as checks:
                    progress(f"Attempt {number}: {pairs[0].senior} + {pairs[0].junior} ({ctx.settings.pattern})")
                    runner = AttemptRunner(ctx, tree, checks, number, pairs)
                    records.append(runner.attempt)
                    result = runner.run()
                if best.offer(result):
                    owned.pop_all()  # the worktree is the best's now
            stop = result.stop
            if as_good_as_it_gets(result.attempt, plan.test_command) or stop:
                break
        yield Tried(best.result, stop)
