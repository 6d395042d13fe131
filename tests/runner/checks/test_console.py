"""The runners' own closing summaries, read from real console output (tests/data/test_output/) when there is no
report: only the summary counts, never a FAILED line printed anywhere else, wherever the sandbox cut the output."""

from __future__ import annotations

import pytest

from runner.checks.test_results import TestRun, read
from runner.ports import CommandResult
from runner.sandbox.host import OutputCapture
from tests.runner.checks.captured import load, output


def _console(name: str, *, sandbox_cut: bool = False) -> TestRun:
    run = read(load(name, report=False, sandbox_cut=sandbox_cut))
    assert run.source != "junit"
    return run


@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_a_nested_sessions_failed_lines_are_not_the_runs(pytest_version: str) -> None:
    """The outer `-rA` shows the inner sessions' summaries, one naming test_calc.py::test_mul, which exists
    and passes in the outer project: only the outer summary counts."""
    before = _console(f"{pytest_version}-nested-before")
    assert "FAILED test_calc.py::test_mul" in output(f"{pytest_version}-nested-before")
    assert before.source == "pytest-summary" and before.failures == {"test_calc.py::test_add"}
    assert (before.passed, before.failed, before.status) == (3, 1, "failed")
    after = _console(f"{pytest_version}-nested-after")
    assert after.failures == frozenset() and after.status == "passed" and after.passed == 4
    # With -s the inner summaries come last but one, and the green outer run has no summary of its own.
    quiet = _console(f"{pytest_version}-nested-after-s")
    assert "FAILED test_inner.py::test_add" in output(f"{pytest_version}-nested-after-s")
    assert quiet.failures == frozenset() and quiet.status == "passed" and quiet.passed == 4


@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_summary_ids_keep_spaces_brackets_and_dashes(pytest_version: str) -> None:
    run = _console(f"{pytest_version}-params-after")
    assert "tests/test_text.py::test_shout[x - y]" in run.failures  # " - " inside the brackets is the id's
    assert "tests/test_text.py::test_shout[[x y]]" in run.failures
    assert 'tests/test_text.py::TestLocate::test_locate_app[cliapp.factory-create_app2("foo", "bar")-app2_foo_bar]' \
        in run.failures
    assert len(run.failures) == run.failed == 8 and run.complete


@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_collection_errors_and_empty_runs(pytest_version: str) -> None:
    only = _console(f"{pytest_version}-import-error-only")
    assert "collected 0 items / 1 error" in output(f"{pytest_version}-import-error-only")
    assert only.status == "collection_error" and only.collection_errors == ("tests/test_app.py",) and not only.ran
    assert only.first_error.startswith("ImportError: cannot import name 'helpr'")
    for name in ("no-tests", "deselected", "missing-path"):
        run = _console(f"{pytest_version}-{name}")
        assert run.source == "pytest-summary" and run.status == "no_tests" and not run.ran, name


@pytest.mark.parametrize("pytest_version", ["pytest9", "pytest7"])
def test_the_sandbox_cut_does_not_change_what_is_read(pytest_version: str) -> None:
    """80 and 106 kB outputs, cut to 64 KiB head and tail: the summary at the end survives, the ghost FAILED
    lines the noisy test printed are never read, and the result equals the whole output's."""
    for state in ("before", "after"):
        name = f"{pytest_version}-big-{state}"
        cut = load(name, report=False, sandbox_cut=True)
        assert cut.omitted_bytes > 0 and "bytes of output omitted" in cut.output
        assert "FAILED tests/test_ghost.py::test_ghost_0 " in cut.output  # kept in the head
        whole = _console(name)
        assert _console(name, sandbox_cut=True) == whole
        assert not any("ghost" in failure for failure in whole.failures)
    assert _console(f"{pytest_version}-big-before").failures == {"tests/test_noisy.py::test_noisy",
                                                                 "tests/test_noisy.py::test_add"}


def test_a_summary_cut_short_is_incomplete_not_clean() -> None:
    """When even the summary is longer than what was kept, the ids that survive are not the whole story."""
    capture = OutputCapture(700)
    capture.feed(output("pytest9-params-after").encode("utf-8"))
    run = read(CommandResult("pytest", 1, capture.text(), 1.0, omitted_bytes=capture.omitted))
    assert run.source == "pytest-summary" and run.failed == 8 and not run.complete


def test_unittest_blocks_counts_and_failed_imports() -> None:
    run = _console("unittest-failures")
    assert run.source == "unittest" and run.status == "failed"
    assert run.failures == {"test_arith.Arithmetic.test_fail", "test_arith.Arithmetic.test_error",
                            "test_arith.Arithmetic.test_sub (n=2)", "test_broken"}
    assert run.collection_errors == ("test_broken",) and (run.failed, run.errors, run.skipped) == (2, 2, 1)
    assert run.first_error == "ModuleNotFoundError: No module named 'missing_module'"
    assert _console("unittest-ok").status == "passed"
    broken = _console("unittest-import-error")
    assert broken.status == "collection_error" and not broken.ran
    empty = _console("unittest-no-tests")
    assert empty.status == "no_tests" and empty.exit_code == 0 and not empty.ran


def test_cargo_results_failures_lists_and_compile_errors() -> None:
    run = _console("cargo-failures")
    assert run.source == "cargo" and run.failures == {"tests::it_adds", "integration_adds"}
    assert (run.passed, run.failed, run.collected) == (2, 2, 4) and run.complete
    assert _console("cargo-ok").status == "passed"
    broken = _console("cargo-compile-error")
    assert broken.status == "collection_error" and broken.collection_errors == ("calc",) and not broken.ran


def test_go_test_top_level_failures_and_package_lines() -> None:
    """No Go toolchain here to capture a run: these lines have go test's documented shape."""
    out = ("=== RUN   TestParse\n    parse_test.go:9: bad\n--- FAIL: TestParse (0.00s)\n"
           "    --- FAIL: TestParse/empty (0.00s)\nFAIL\nFAIL\texample.com/parse\t0.004s\n"
           "ok  \texample.com/calc\t0.002s\nFAIL\texample.com/broken [build failed]\nFAIL\n")
    run = read(CommandResult("go test ./...", 1, out, 1.0))
    assert run.source == "go" and run.failures == {"TestParse", "example.com/broken"}
    assert run.collection_errors == ("example.com/broken",) and run.ran


def test_output_without_a_known_summary_is_judged_by_its_exit_code() -> None:
    for text, code in (("Segmentation fault", 139), ("FAILED t.py::test_x - looks like pytest, is not", 1)):
        run = read(CommandResult("make check", code, text, 1.0))
        assert run.source == "exit-code" and run.status == "unreadable" and run.failures == frozenset()
    assert read(CommandResult("make check", 0, "all good", 1.0)).status == "passed"
