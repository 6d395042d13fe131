"""Comparing a run with its baseline on complete id sets, on real runs (tests/data/test_output/): what the change
broke, fixed, or left failing; runs where no test ran; baselines whose test command cannot work."""

from __future__ import annotations

import subprocess

import pytest

from runner.checks.test_results import Comparison, clean, compare, cut, read, unusable
from runner.ports import CommandResult
from tests.runner.checks.captured import load

PYTEST_FAIL = """..F.
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________
/workspace/test_calc.py:5: in test_add
    assert add(2, 3) == 5
E   assert -1 == 5
=========================== short test summary info ============================
FAILED test_calc.py::test_add - assert -1 == 5
1 failed, 3 passed in 0.12s
"""


def _compare(before: str, after: str, *, report: bool = True, sandbox_cut: bool = False) -> Comparison:
    return compare(read(load(before, report=report, sandbox_cut=sandbox_cut)),
                   read(load(after, report=report, sandbox_cut=sandbox_cut)))


def _run(output: str, code: int = 1, timed_out: bool = False) -> CommandResult:
    return CommandResult("pytest -q", code, output, 1.0, timed_out)


@pytest.mark.parametrize("report", [True, False], ids=["report", "console"])
@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_a_correct_fix_beside_a_nested_session_is_clean(pytest_version: str, report: bool) -> None:
    """pytest-dev__pytest-8906: a passing test runs a nested session whose FAILED lines name real tests."""
    result = _compare(f"{pytest_version}-nested-before", f"{pytest_version}-nested-after", report=report)
    assert result.ok and result.fixed == ["test_calc.py::test_add"] and result.new == []


@pytest.mark.parametrize("report", [True, False], ids=["report", "console"])
@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_a_regression_in_parametrized_tests_names_every_broken_id(pytest_version: str, report: bool) -> None:
    result = _compare(f"{pytest_version}-params-before", f"{pytest_version}-params-after", report=report)
    assert not result.ok and len(result.new) == 8
    assert 'tests/test_text.py::TestLocate::test_locate_app[cliapp.factory-create_app2("foo", "bar")-app2_foo_bar]' \
        in result.new and "tests/test_text.py::test_shout[two words]" in result.new


@pytest.mark.parametrize("report", [True, False], ids=["report", "console"])
@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_a_collection_error_on_both_sides_is_never_ok(pytest_version: str, report: bool) -> None:
    """The module failed to import before and after: the same failure on both sides, but no test ran."""
    result = _compare(f"{pytest_version}-import-error-before", f"{pytest_version}-import-error-after", report=report)
    assert not result.ok and result.new == [] and result.still_failing == ["tests/test_app.py"]
    assert result.problem == "no test ran: collection error in tests/test_app.py"


def test_no_tests_on_both_sides_is_never_ok() -> None:
    for name in ("pytest9-no-tests", "pytest9-deselected", "unittest-no-tests"):
        result = _compare(name, name)
        assert not result.ok and result.problem == "no test ran" and result.new == [], name


@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_where_the_sandbox_cut_the_output_changes_nothing(pytest_version: str) -> None:
    """Outputs past 64 KiB, cut at different places before and after: the comparison on the cut console output
    is the comparison on the whole output and on the reports."""
    before, after = f"{pytest_version}-big-before", f"{pytest_version}-big-after"
    cut_result = _compare(before, after, report=False, sandbox_cut=True)
    assert cut_result == _compare(before, after, report=False) == _compare(before, after, sandbox_cut=True)
    assert cut_result.ok and cut_result.fixed == ["tests/test_noisy.py::test_add"]
    assert cut_result.still_failing == ["tests/test_noisy.py::test_noisy"]


def test_unittest_and_cargo_runs_compare_by_id() -> None:
    fixed = _compare("unittest-failures", "unittest-ok")
    assert fixed.ok and "test_arith.Arithmetic.test_sub (n=2)" in fixed.fixed
    assert _compare("unittest-ok", "unittest-failures").new == [
        "test_arith.Arithmetic.test_error", "test_arith.Arithmetic.test_fail", "test_arith.Arithmetic.test_sub (n=2)",
        "test_broken"]
    assert _compare("cargo-failures", "cargo-ok").fixed == ["integration_adds", "tests::it_adds"]
    broken = _compare("cargo-ok", "cargo-compile-error")
    assert broken.new == ["calc"] and broken.problem == "no test ran: collection error in calc" and not broken.ok


def test_pre_existing_failures_are_not_blamed() -> None:
    after = load("pytest9-params-after")
    result = compare(read(after), read(after))
    assert result.ok and result.new == [] and len(result.still_failing) == 8
    partly_fixed = compare(read(load("pytest9-big-before")), read(load("pytest9-nested-before")))
    assert partly_fixed.new == ["test_calc.py::test_add"] and not partly_fixed.ok


def test_green_baseline_makes_every_failure_new() -> None:
    assert compare(read(_run("4 passed", 0)), read(_run(PYTEST_FAIL))).new == ["test_calc.py::test_add"]
    assert compare(read(_run("ok", 0)), read(_run("boom", 2))).new == ["`pytest -q` exited 2"]
    assert compare(read(_run("ok", 0)), read(_run("ok", 0))).ok
    assert compare(None, read(_run("", 124, timed_out=True))).new == ["`pytest -q` timed out after 1 s"]


def test_a_timeout_is_new_unless_the_baseline_timed_out_too() -> None:
    timed_out = read(_run("", 124, timed_out=True))
    assert compare(read(load("pytest9-params-before")), timed_out).new == ["`pytest -q` timed out after 1 s"]
    again = compare(timed_out, timed_out)
    assert again.new == [] and not again.ok and "timed out before and after" in again.problem


def test_unreadable_failures_are_reported_as_unknown_not_absolved() -> None:
    result = compare(read(_run("crash", 1)), read(_run("crash again", 1)))
    assert not result.ok and "cannot be read" in result.new[0]
    # A summary that lost some of its names cannot be compared id by id either.
    incomplete = read(_run(PYTEST_FAIL.replace("FAILED test_calc.py::test_add - assert -1 == 5\n", "")))
    assert not incomplete.complete
    assert "cannot be read" in compare(read(_run(PYTEST_FAIL)), incomplete).new[0]


@pytest.mark.parametrize("name,reason", [
    ("pytest9-missing-path", "pytest could not start (exit 4): ERROR: file or directory not found: "
                             "tests/test_missing.py"),
    ("pytest7-usage-error", "pytest could not start (exit 4): __main__.py: error: unrecognized arguments: "
                            "--no-such-option"),
    ("pytest9-conftest-import-error", "pytest could not start (exit 4): ImportError while loading conftest "
                                      "'/w/conftest.py'.: ModuleNotFoundError: No module named 'missing_plugin'"),
    ("pytest9-no-tests", "pytest collected no tests (exit 5)"),
    ("pytest7-deselected", "pytest collected no tests (exit 5)"),
    ("pytest9-import-error-only", "no test ran: collection error in tests/test_app.py: "
                                  "ImportError: cannot import name 'helpr' from 'app' (/w/app.py)"),
    # pytest stops at a module that does not import, even when others would: still no test runs.
    ("pytest7-import-error-before", "no test ran: collection error in tests/test_app.py: "
                                    "ImportError: cannot import name 'helpr' from 'app' (/w/app.py)"),
    ("unittest-import-error", "no test ran: collection error in test_broken: "
                              "ModuleNotFoundError: No module named 'missing_module'"),
    ("unittest-no-tests", "the test command ran no test"),
    ("cargo-compile-error", "no test ran: collection error in calc"),
])
def test_a_test_command_that_cannot_work_says_why(name: str, reason: str) -> None:
    result = load(name)
    assert unusable(read(result), result.output) == reason


@pytest.mark.parametrize("name", ["pytest9-params-after", "pytest7-nested-before", "unittest-failures",
                                  "cargo-failures", "pytest9-big-before", "unittest-ok"])
def test_a_test_command_with_failures_works(name: str) -> None:
    """Pre-existing failures are what the baseline is for (unittest-failures has a module that does not import,
    beside tests that ran)."""
    result = load(name)
    assert unusable(read(result), result.output) is None


def test_a_command_that_does_not_exist() -> None:
    proc = subprocess.run("pytset -q", shell=True, capture_output=True, text=True, check=False)
    result = CommandResult("pytset -q", proc.returncode, proc.stdout + proc.stderr, 0.1)
    reason = unusable(read(result), result.output)
    assert proc.returncode == 127 and reason is not None
    assert reason.startswith("the test command was not found (exit 127): ") and "pytset" in reason


def test_clean_and_cut_keep_failing_names_and_last_traceback() -> None:
    assert "/workspace/" not in clean(PYTEST_FAIL) and "0.12s" not in clean(PYTEST_FAIL)
    noise = "\n".join(f"line {i} FAILED t.py::test_{i % 7} - boom" if i % 500 == 0 else f"line {i} ok"
                      for i in range(5000))
    text = cut(noise + "\nTraceback (most recent call last):\n  last frame\nValueError: final", 2000,
               keep=["t.py::test_3"])
    assert len(text) <= 2400 and text.endswith("ValueError: final") and "t.py::test_3" in text
    assert "characters cut" in text
