"""The attempt loop's rules as data: aider's order, the model pairs' rotation, keeping only the best worktree."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from runner.attempts import Best, as_good_as_it_gets, pair_order, plausible, rank, rotation
from runner.engine import AttemptResult
from runner.models import ModelPair
from runner.outcome import Attempt, TestCounts
from runner.ports import CommandResult
from runner.workspace import Worktree

PASSED = CommandResult("pytest", 0, "", 1.0)
FIVE_PASSED = TestCounts("passed", True, 5, 5)
NONE_RAN = TestCounts("collection_error", False, 0, errors=1, collection_errors=("tests/test_a.py",))


def _attempt(number: int = 1, *, applied: int = 1, edit_errors: tuple[str, ...] = (),
             lint_errors: tuple[str, ...] = (), tested: bool = True, new: tuple[str, ...] = (),
             counts: TestCounts = FIVE_PASSED, still: tuple[str, ...] = (), fixed: tuple[str, ...] = ()) -> Attempt:
    return Attempt(number=number, senior="s", junior="j", edits_applied=applied, edit_errors=list(edit_errors),
                   lint_errors=list(lint_errors), test=PASSED if tested else None,
                   tests_after=counts if tested else None, new_failures=list(new), still_failing=list(still),
                   fixed_tests=list(fixed))


def test_aider_s_order_refined_with_tests() -> None:
    ordered = [_attempt(), _attempt(new=("t::a",)), _attempt(new=("t::a", "t::b")),
               _attempt(edit_errors=("x",)), _attempt(lint_errors=("e",)),
               _attempt(edit_errors=("x",), lint_errors=("e",)), _attempt(applied=0)]
    ranks = [rank(a, "pytest") for a in ordered]
    assert ranks == [(0, 0), (1, 1), (1, 2), (2, 0), (3, 0), (4, 0), (5, 0)]


def test_without_a_test_command_a_change_can_be_as_good_as_it_gets_but_never_plausible() -> None:
    untested = _attempt(tested=False)
    assert as_good_as_it_gets(untested, None) and not plausible(untested, None)
    assert not as_good_as_it_gets(untested, "pytest") and plausible(_attempt(), "pytest")


def test_a_change_whose_tests_did_not_run_is_never_plausible() -> None:
    """The test module failed to import before and after: no new failure, and nothing vouches for the change."""
    unchecked = _attempt(counts=NONE_RAN)
    assert unchecked.new_failures == [] and not unchecked.tests_ok
    assert rank(unchecked, "pytest") == (1, 0)
    assert not as_good_as_it_gets(unchecked, "pytest") and not plausible(unchecked, "pytest")


def test_each_attempt_starts_with_its_own_pair_and_falls_back_on_the_others() -> None:
    a, b, c = ModelPair("a", "a"), ModelPair("b", "b"), ModelPair("c", "c")
    pairs = pair_order(a, [b, a, c])
    assert pairs == [a, b, c]
    assert [rotation(pairs, n)[0] for n in (1, 2, 3, 4)] == [a, b, c, a]
    assert rotation(pairs, 2) == [b, c, a]


def _result(tmp_path: Path, attempt: Attempt, contents: dict[str, str | None]) -> AttemptResult:
    tree = Worktree(tmp_path / f"tree-{attempt.number}", tmp_path / "git", tmp_path / "mirror", "0" * 40)
    return AttemptResult(attempt, MappingProxyType(contents), tree)


def test_only_the_best_worktree_is_kept_and_it_is_removed_at_the_end(tmp_path: Path) -> None:
    removed: list[str] = []
    failing = _result(tmp_path, _attempt(1, new=("t::a",)), {"a.py": "1"})
    empty = _result(tmp_path, _attempt(2, applied=0), {})
    worse = _result(tmp_path, _attempt(3, edit_errors=("x",)), {"a.py": "3"})
    good = _result(tmp_path, _attempt(4), {"a.py": "4"})
    with pytest.raises(RuntimeError), Best(lambda tree: removed.append(tree.path.name), "pytest") as best:
        assert best.offer(failing) and best.result is failing
        assert not best.offer(empty) and not best.offer(worse)
        assert removed == []  # a result not kept keeps its worktree: the loop removes it
        assert best.offer(good) and best.result is good and removed == ["tree-1"]
        assert not best.offer(_result(tmp_path, _attempt(5), {"a.py": "5"}))  # a tie keeps the earlier one
        raise RuntimeError("whatever ends the loop")
    assert removed == ["tree-1", "tree-4"]


def test_a_change_that_fixes_none_of_the_baseline_failures_is_not_as_good_as_it_gets() -> None:
    """Tests failed before the change and all still fail: a cosmetic edit ends so. Not plausible, ranked in tier 1
    (aider's order otherwise unchanged), and the loop goes on; fixing one of them (breaking none) is plausible."""
    cosmetic = _attempt(still=("t::issue", "t::old"))
    assert cosmetic.fixes_nothing and not cosmetic.tests_ok
    assert rank(cosmetic, "pytest") == (1, 0)
    assert not as_good_as_it_gets(cosmetic, "pytest") and not plausible(cosmetic, "pytest")
    fix = _attempt(still=("t::old",), fixed=("t::issue",))
    assert not fix.fixes_nothing and fix.tests_ok and plausible(fix, "pytest") and rank(fix, "pytest") == (0, 0)
    assert rank(_attempt(still=("t::old",), new=("t::a",)), "pytest") == (1, 1)  # a new failure still ranks lower
    # A baseline with no failure keeps the rule: tests ran, nothing new fails.
    assert not _attempt().fixes_nothing and plausible(_attempt(), "pytest")
