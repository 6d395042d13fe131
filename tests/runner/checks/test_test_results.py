from runner.checks.test_results import clean, compare, cut, failed_tests
from runner.ports import CommandResult

PYTEST_FAIL = """..F.
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________
/workspace/test_calc.py:5: in test_add
    assert add(2, 3) == 5
E   assert -1 == 5
=========================== short test summary info ============================
FAILED test_calc.py::test_add - assert -1 == 5
ERROR tests/test_io.py
1 failed, 3 passed in 0.12s
"""


def _run(output: str, code: int = 1, timed_out: bool = False) -> CommandResult:
    return CommandResult("pytest -q", code, output, 1.0, timed_out)


def test_failed_tests_from_several_runners() -> None:
    assert failed_tests(PYTEST_FAIL) == {"test_calc.py::test_add", "tests/test_io.py"}
    assert failed_tests("FAIL: test_x (pkg.tests.T)\nERROR: test_y (pkg.tests.T)") == {
        "test_x (pkg.tests.T)", "test_y (pkg.tests.T)"}
    assert failed_tests("--- FAIL: TestParse (0.00s)\nFAIL") == {"TestParse"}
    assert failed_tests("test parser::it_works ... FAILED") == {"parser::it_works"}
    assert failed_tests("Segmentation fault") is None


def test_pre_existing_failures_are_not_blamed() -> None:
    baseline = _run("FAILED t.py::test_old - x\nFAILED t.py::test_flaky - y\n")
    after = _run("FAILED t.py::test_old - x\nFAILED t.py::test_new - z\n")
    result = compare(baseline, after)
    assert result.new == ["t.py::test_new"] and result.fixed == ["t.py::test_flaky"]
    assert result.still_failing == ["t.py::test_old"] and not result.ok
    assert compare(baseline, _run("FAILED t.py::test_old - x\n")).ok


def test_green_baseline_makes_every_failure_new() -> None:
    assert compare(_run("4 passed", 0), _run(PYTEST_FAIL)).new == ["test_calc.py::test_add", "tests/test_io.py"]
    assert compare(_run("ok", 0), _run("boom", 2)).new == ["`pytest -q` exited 2"]
    assert compare(_run("ok", 0), _run("ok", 0)).ok
    assert compare(None, _run("", 124, timed_out=True)).new == ["`pytest -q` timed out after 1 s"]


def test_unreadable_failures_are_reported_as_unknown_not_absolved() -> None:
    result = compare(_run("crash", 1), _run("crash again", 1))
    assert not result.ok and "cannot be read" in result.new[0]


def test_clean_and_cut_keep_failing_names_and_last_traceback() -> None:
    assert "/workspace/" not in clean(PYTEST_FAIL) and "0.12s" not in clean(PYTEST_FAIL)
    noise = "\n".join(f"line {i} FAILED t.py::test_{i % 7} - boom" if i % 500 == 0 else f"line {i} ok"
                      for i in range(5000))
    text = cut(noise + "\nTraceback (most recent call last):\n  last frame\nValueError: final", 2000,
               keep=["t.py::test_3"])
    assert len(text) <= 2400 and text.endswith("ValueError: final") and "t.py::test_3" in text
    assert "characters cut" in text
