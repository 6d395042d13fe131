"""bench/realrepo's pure parts: its reading of pytest's JUnit reports (from real pytest runs), the expectations
each run is judged by, the no-op and import-break edits, and how the engine's optional test fields are read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.realrepo.controls import IMPORT_BREAK_LINE, NOOP_LINE, ControlError, append, blocks_for
from bench.realrepo.judge import Observed, judge
from bench.realrepo.junit import Case, Results, mangle, parse
from bench.realrepo.observe import counts, says_no_tests, says_nothing_fixed

_TESTS = '''
import pytest

@pytest.mark.parametrize("app", ['create_app2("foo", "bar")', "plain", "caf\\u00e9 au lait"])
def test_locate(app):
    assert "bar" not in app

class TestGroup:
    def test_ok(self):
        pass

    @pytest.mark.skip(reason="not here")
    def test_skipped(self):
        pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture")

def test_setup_error(broken):
    pass
'''


def _junit(tmp_path: Path, files: dict[str, str]) -> str:
    """Run the real pytest on `files` and return the JUnit report it wrote, as the sandbox would get it."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
                    f"--junitxml={report}", "-q", *files], cwd=tmp_path, capture_output=True, timeout=120, check=False)
    return report.read_text(encoding="utf-8")


def test_every_case_keeps_its_exact_id_and_status(tmp_path: Path) -> None:
    results = parse(_junit(tmp_path, {"tests/test_app.py": _TESTS}))
    statuses = {case.id: case.status for case in results.tests}
    assert statuses == {
        'tests/test_app.py::test_locate[create_app2("foo", "bar")]': "failed",
        "tests/test_app.py::test_locate[plain]": "passed",
        "tests/test_app.py::test_locate[caf\\xe9 au lait]": "passed",
        "tests/test_app.py::TestGroup::test_ok": "passed",
        "tests/test_app.py::TestGroup::test_skipped": "skipped",
        "tests/test_app.py::test_setup_error": "error",
    }
    assert results.counts == {"collected": 6, "passed": 3, "failed": 1, "errors": 1, "skipped": 1,
                              "collection_errors": 0}
    assert results.ran
    assert results.failing == {'tests/test_app.py::test_locate[create_app2("foo", "bar")]',
                               "tests/test_app.py::test_setup_error"}


def test_a_module_that_does_not_import_is_a_collection_error_and_nothing_ran(tmp_path: Path) -> None:
    results = parse(_junit(tmp_path, {"tests/test_app.py": 'raise RuntimeError("no import")\n' + _TESTS}))
    assert results.tests == ()
    assert results.counts["collection_errors"] == 1
    assert not results.ran


def test_swe_bench_ids_cut_at_a_space_match_every_test_they_name(tmp_path: Path) -> None:
    results = parse(_junit(tmp_path, {"tests/test_app.py": _TESTS}))
    assert results.statuses('tests/test_app.py::test_locate[create_app2("foo",') == ["failed"]
    assert results.statuses("tests/test_app.py::test_locate[caf\\xe9") == ["passed"]
    assert results.statuses("tests/test_app.py::TestGroup::test_ok") == ["passed"]
    assert results.statuses("tests/test_app.py::test_locate[pla") == []  # a prefix that is not cut at a space
    assert mangle("tests/a/test_b.py::TestC::test_d[x y]") == ("tests.a.test_b.TestC", "test_d[x y]")


def _results(**statuses: str) -> Results:
    cases = []
    for name, status in statuses.items():
        node = f"t.py::{name.replace('_SP_', ' ')}"
        cases.append(Case(node, mangle(node), status))  # type: ignore[arg-type]
    return Results(tuple(cases))


def test_a_fix_is_right_only_when_plausible_and_invalid_when_it_does_not_fix() -> None:
    before, after = _results(test_a="failed", test_b="passed"), _results(test_a="passed", test_b="passed")
    assert judge("fix", Observed("plausible", (), False, before, after), ["t.py::test_a"]).result == "right"
    wrong = judge("fix", Observed("not_plausible", ("t.py::test_b",), False, before, after), ["t.py::test_a"])
    assert (wrong.result, wrong.why) == ("wrong", "verdict not_plausible; new failures: `t.py::test_b`")
    unfixed = judge("fix", Observed("plausible", (), False, before, before), ["t.py::test_a"])
    assert unfixed.result == "invalid"
    assert "does not make FAIL_TO_PASS pass" in unfixed.why


def test_controls_are_right_only_when_not_plausible_for_the_stated_reason() -> None:
    before = _results(test_a="failed", **{"test_b[x_SP_y]": "passed"})
    noop = Observed("plausible", (), False, before, before)
    assert judge("noop", noop, ["t.py::test_a"]).why == "plausible although FAIL_TO_PASS still fail"
    unsaid = judge("noop", Observed("not_plausible", ("t.py::test_a",), False, before, before), ["t.py::test_a"])
    assert (unsaid.result, unsaid.why) == ("wrong", "does not say that nothing was fixed; new failures: `t.py::test_a`")
    said_nothing_fixed = Observed("not_plausible", (), False, before, before, says_nothing_fixed=True)
    assert judge("noop", said_nothing_fixed, ["t.py::test_a"]).result == "right"
    broken = _results(test_a="failed", **{"test_b[x_SP_y]": "failed"})
    cut = Observed("not_plausible", ("t.py::test_b[x",), False, before, broken)
    regression = judge("regression", cut, ["t.py::test_a"], ["t.py::test_b[x y]"])
    assert regression.result == "wrong"
    exact = Observed("not_plausible", ("t.py::test_b[x y]",), False, before, broken)
    assert judge("regression", exact, ["t.py::test_a"], ["t.py::test_b[x y]"]).result == "right"
    nothing_ran = Results((Case("t.py", ("", "t"), "error", collection_error=True),))
    named = Observed("not_plausible", ("t.py",), False, before, nothing_ran)
    assert judge("import_break", named, ["t.py::test_a"]).result == "wrong"
    said = Observed("not_plausible", (), True, before, nothing_ran)
    assert judge("import_break", said, ["t.py::test_a"]).result == "right"
    still_ran = Observed("not_plausible", (), True, before, broken)
    assert judge("import_break", still_ran, ["t.py::test_a"]).result == "invalid"


def test_noop_and_import_break_append_a_line_after_a_unique_tail() -> None:
    text = "def f():\n    return 1\n\n\ndef g():\n    return 1\n"
    block = append("m.py", text, NOOP_LINE)
    assert (block.search, block.replace) == ("def g():\n    return 1\n", "def g():\n    return 1\n" + NOOP_LINE)
    [broken] = blocks_for("import_break", "", {"m.py": text}.get, "m.py", None)
    assert broken.replace.endswith(IMPORT_BREAK_LINE) and text.count(broken.search) == 1
    with pytest.raises(ControlError, match="no regression control"):
        blocks_for("regression", "", {"m.py": text}.get, "m.py", None)
    with pytest.raises(ControlError, match="newline"):
        append("m.py", "x = 1", NOOP_LINE)


@dataclass(frozen=True)
class _Run:
    collected: int
    passed: int
    failed: int
    errors: int
    skipped: int
    status: str
    ran: bool


@dataclass
class _Attempt:
    new_failures: list[str]
    error: str = ""
    test_run: _Run | None = None


def test_the_engines_counts_and_no_test_statement_are_read_from_whatever_record_it_has() -> None:
    nothing = _Run(0, 0, 0, 0, 0, "collection_error", False)
    attempt = _Attempt([], test_run=nothing)
    after = counts(attempt, None)
    assert after == {"collected": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0,
                     "status": "collection_error"}
    assert says_no_tests(attempt, after)
    assert says_no_tests(_Attempt(["no tests ran: tests/test_cli.py could not be collected"]), None)
    assert not says_no_tests(_Attempt(["tests/test_cli.py"]), None)
    assert not says_no_tests(_Attempt([], test_run=_Run(3, 2, 1, 0, 0, "failed", True)), None)
    # An engine that could not read the run (ran False only because nothing was counted) does not say none ran.
    unreadable = _Attempt(["`pytest` still fails (exit 4); which tests fail cannot be read from its output"],
                          test_run=_Run(0, 0, 0, 0, 0, "unreadable", False))
    assert not says_no_tests(unreadable, counts(unreadable, None))


@dataclass
class _EngineAttempt:
    """The engine's attempt holds the baseline's record before its own: its own is read, by name."""

    new_failures: list[str]
    tests_before: _Run | None = None
    tests_after: _Run | None = None
    fixes_nothing: bool = False


def test_an_attempts_own_counts_are_read_never_the_baseline_it_keeps() -> None:
    before, nothing = _Run(5, 4, 1, 0, 0, "failed", True), _Run(0, 0, 0, 0, 0, "collection_error", False)
    attempt = _EngineAttempt([], tests_before=before, tests_after=nothing)
    after = counts(attempt, None)
    assert after is not None and after["status"] == "collection_error" and says_no_tests(attempt, after)
    unchanged = _EngineAttempt([], tests_before=before, tests_after=before, fixes_nothing=True)
    assert counts(unchanged, None) == {"collected": 5, "passed": 4, "failed": 1, "errors": 0, "skipped": 0,
                                       "status": "failed"}
    assert says_nothing_fixed(unchanged) and not says_nothing_fixed(attempt) and not says_nothing_fixed(None)
