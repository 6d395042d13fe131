"""JUnit reports of real pytest runs (tests/data/test_output/); hostile reports refused before they cost anything."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runner.checks import console, junit
from runner.checks.test_results import read
from runner.ports import CommandResult
from tests.runner.checks.captured import load, names, output

WITH_REPORT = [name for name in names("pytest") if load(name).report is not None]


@pytest.mark.parametrize("name", WITH_REPORT)
def test_report_ids_are_the_ids_pytest_prints(name: str) -> None:
    """For every captured pytest run, the ids rebuilt from the report (xunit1 and xunit2, pytest 7 and 9) are
    exactly the ones pytest printed in its own summary, and the counts agree."""
    result = load(name)
    assert result.report is not None
    from_report = junit.parse(result.report, result.exit_code)
    from_console = console.parse(result.output, result.exit_code)
    assert from_report is not None and from_console is not None
    assert from_report.source == "junit" and from_console.source == "pytest-summary"
    assert from_report.failures == from_console.failures
    assert from_report.collection_errors == from_console.collection_errors
    counts = ("passed", "failed", "errors", "skipped", "collected")
    assert [getattr(from_report, c) for c in counts] == [getattr(from_console, c) for c in counts]


def test_parametrized_ids_with_spaces_quotes_and_unicode_are_exact() -> None:
    for name in ("pytest9-params-after", "pytest7-params-after", "pytest9-params-after-xunit2"):
        run = read(load(name))
        assert run.source == "junit" and (run.passed, run.failed) == (3, 8)
        assert run.failures == {
            "tests/test_text.py::test_shout[two words]",
            'tests/test_text.py::test_shout[say "hi"]',
            "tests/test_text.py::test_shout[caf\\xe9]",
            "tests/test_text.py::test_shout[na\\xefve \\xfcn\\xefc\\xf6d\\xe9]",
            "tests/test_text.py::test_shout[x - y]",
            "tests/test_text.py::test_shout[[x y]]",
            "tests/test_text.py::test_shout[a :: b]",
            'tests/test_text.py::TestLocate::test_locate_app[cliapp.factory-create_app2("foo", "bar")-app2_foo_bar]',
        }, name


def test_a_collection_failure_is_a_collection_error_with_its_reason() -> None:
    run = read(load("pytest9-import-error-before"))
    assert run.source == "junit" and run.status == "collection_error" and not run.ran
    assert run.collection_errors == ("tests/test_app.py",) and run.failures == {"tests/test_app.py"}
    assert run.first_error == "ImportError: cannot import name 'helpr' from 'app' (/w/app.py)"


def test_the_outer_sessions_report_wins_over_a_nested_one() -> None:
    """The nested subprocess inherits PYTEST_ADDOPTS and writes the same report path first; pytest writes the
    outer report at the very end, so what is read is the outer session's."""
    run = read(load("pytest9-nested-before"))
    assert run.source == "junit" and run.failures == {"test_calc.py::test_add"} and run.collected == 4


def test_a_timed_out_runs_report_is_not_trusted() -> None:
    """A killed pytest writes no report: one found after a timeout is a nested session's, or partial."""
    nested = load("pytest9-nested-before")
    killed = CommandResult(nested.command, 124, output("pytest9-nested-before")[:300], 600.0, timed_out=True,
                           report=nested.report)
    run = read(killed)
    assert run.source == "exit-code" and run.status == "timed_out" and not run.ran


@pytest.mark.parametrize("node_id,classname,name,file", [
    ("tests/test_x.py::TestA::TestB::test_y[1-2]", "tests.test_x.TestA.TestB", "test_y[1-2]", "tests/test_x.py"),
    ("test_a.py::test_b", "test_a", "test_b", "test_a.py"),
    ("README.txt::README.txt", "README.txt", "README.txt", "README.txt"),  # a doctest text file
    ("tests/test_x.py", "", "tests.test_x", "tests/test_x.py"),  # a module that could not be collected
    # A test method inherited from a base class in another file: `file` is where it is defined.
    ("tests/test_child.py::TestChild::test_m", "tests.test_child.TestChild", "test_m", "tests/base.py"),
    ("tests/test_x.py::TestA::test_y[a b]", "tests.test_x.TestA", "test_y[a b]", None),  # xunit2
    ("tests/test_x.py", "", "tests.test_x", None),  # xunit2 collection error
])
def test_node_ids_from_pytests_junit_attributes(node_id: str, classname: str, name: str, file: str | None) -> None:
    """pytest's own mangling (junitxml.mangle_test_address), undone."""
    assert junit.pytest_node_id(classname, name, file) == node_id


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuites><testsuite name="pytest"><testcase classname="t" name="&lol9;" file="t.py"/></testsuite></testsuites>
"""


def _external_entity(secret: Path) -> str:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
            '<testsuites><testsuite name="pytest"><testcase classname="test_a" name="test_x" file="test_a.py">'
            '<failure message="&xxe;">&xxe;</failure></testcase></testsuite></testsuites>')


def test_entity_tricks_are_refused_fast_and_the_console_is_read_instead(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN-d41d8cd98f00")
    real = load("pytest9-params-after", report=False)
    for hostile in (BILLION_LAUGHS, _external_entity(secret), "<testsuites><testsuite name='pytest'>"):
        started = time.monotonic()
        assert junit.parse(hostile, 1) is None
        run = read(CommandResult(real.command, real.exit_code, real.output, 1.0, report=hostile))
        assert time.monotonic() - started < 2.0
        assert run.source == "pytest-summary" and run.failed == 8  # the runner's own summary, not the report
        assert not any("TOKEN" in i for i in run.failures) and "TOKEN" not in run.first_error


def test_xml_that_is_not_a_junit_report_is_not_read() -> None:
    assert junit.parse("<html><body>5 passed</body></html>", 0) is None
    assert junit.parse("not xml at all", 0) is None


def test_other_junit_writers_join_classname_and_name() -> None:
    """The shape Maven Surefire and cargo-nextest write (no such runner here to capture: only the shape)."""
    surefire = ('<testsuite name="com.acme.CalcTest" tests="2"><testcase classname="com.acme.CalcTest" name="adds">'
                '<failure message="expected 5"/></testcase><testcase classname="com.acme.CalcTest" name="muls"/>'
                '</testsuite>')
    run = junit.parse(surefire, 1)
    assert run is not None and run.failures == {"com.acme.CalcTest.adds"} and (run.passed, run.failed) == (1, 1)
    nextest = ('<testsuites name="nextest-run"><testsuite name="calc"><testcase name="tests::it_adds" '
               'classname="calc"><failure type="test failure"/></testcase></testsuite></testsuites>')
    run = junit.parse(nextest, 100)
    assert run is not None and run.failures == {"calc tests::it_adds"}
