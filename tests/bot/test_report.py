from bot import report
from bot.report import neutralize, pr_body
from runner.outcome import Attempt, Outcome, TestCounts, Verdict
from runner.ports import CommandResult


def test_neutralize_closing_keywords_and_mentions() -> None:
    text = neutralize("This fixes #12, Closes: #3 and resolves org/repo#5; cc @octocat, mail a@b.com")
    assert "fixes #12" not in text and "Closes: #3" not in text and "resolves org/repo#5" not in text
    assert "@octocat" not in text and "a@b.com" in text
    assert neutralize("the fix is small") == "the fix is small"


def _outcome(**kwargs: object) -> Outcome:
    attempt = Attempt(number=1, senior="s", junior="j", plan="Fixes #99 too; ping @everyone", edits_applied=1,
                      edits_proposed=1, changed_files=["a.py"])
    fields: dict[str, object] = {"verdict": Verdict.NOT_PLAUSIBLE, "issue_number": 7, "branch": "ai-fix/issue-7",
                                 "base_branch": "main", "base_sha": "0" * 40, "changed_files": ["a.py"],
                                 "attempts": [attempt], "chosen": 1}
    fields.update(kwargs)
    return Outcome(**fields)  # type: ignore[arg-type]


def test_untested_change_is_said_to_be_untested() -> None:
    body = pr_body(_outcome(), ["sonnet"])
    assert body.startswith("**ai-fix proposes this change, but it is not verified: there is no test command")
    assert "Refs #7" in body and "Fixes #7" not in body  # merging an unverified change must not close the issue
    assert "Fixes #99" not in body and "@everyone" not in body


def test_the_chosen_attempt_is_the_committed_one() -> None:
    first = Attempt(number=1, senior="s", junior="j", plan="first plan", edits_applied=1, edits_proposed=1,
                    test=CommandResult("pytest", 1, "FAILED t.py::test_x", 1.0), new_failures=["t.py::test_x"])
    second = Attempt(number=2, senior="s", junior="j", plan="second plan", edits_applied=1, edits_proposed=2,
                     edit_errors=["a.py: not found"])
    body = pr_body(_outcome(attempts=[first, second], chosen=1, test_command="pytest"), [])
    assert "first plan" in body and "second plan" not in body
    assert "| 1 (chosen) |" in body and "| 2 |" in body
    assert "1 test failure(s) are new with this change" in body and "- `t.py::test_x`" in body


def test_the_plausible_verdict_claims_no_more_than_no_new_failure() -> None:
    attempt = Attempt(number=1, senior="s", junior="j", edits_applied=1, edits_proposed=1, changed_files=["a.py"],
                      test=CommandResult("pytest", 1, "FAILED t.py::test_old", 1.0), still_failing=["t.py::test_old"],
                      fixed_tests=["t.py::test_issue"])
    body = pr_body(_outcome(verdict=Verdict.PLAUSIBLE, attempts=[attempt], test_command="pytest",
                            baseline=CommandResult("pytest", 1, "FAILED t.py::test_old\nFAILED t.py::test_issue",
                                                   1.0)), [])
    assert "Verdict: plausible: the edits applied, with no new lint error and no new test failure" in body
    assert "the tests pass" not in body and "- `t.py::test_old`" in body
    assert "Fixes #7" in body and "Refs #7" not in body
    assert "and the tests show no new failure; 1 test(s) that failed before pass with it.**" in body
    assert "### Fixed by this change (failed before it, pass with it)\n- `t.py::test_issue`\n" in body


def test_a_change_that_fixes_none_of_the_old_failures_says_nothing_shows_it_fixes_the_issue() -> None:
    """A cosmetic edit: nothing new fails, and every test that failed before still fails."""
    attempt = Attempt(number=1, senior="s", junior="j", edits_applied=1, edits_proposed=1, changed_files=["a.py"],
                      test=CommandResult("pytest", 1, "FAILED t.py::test_issue", 1.0),
                      tests_before=TestCounts("failed", True, 5, 4, 1), tests_after=TestCounts("failed", True, 5, 4, 1),
                      still_failing=["t.py::test_issue"])
    body = pr_body(_outcome(attempts=[attempt], test_command="pytest",
                            baseline=CommandResult("pytest", 1, "FAILED t.py::test_issue", 1.0),
                            baseline_tests=TestCounts("failed", True, 5, 4, 1)), [])
    assert body.startswith("**ai-fix proposes this change, but it is not verified: every test that failed before the "
                           "change still fails: nothing shows that it fixes the issue.** Review it as a draft.")
    assert "Refs #7" in body and "Fixes #7" not in body and "### Fixed by this change" not in body
    assert "### Failing before and after the change (not caused by it)\n- `t.py::test_issue`\n" in body


def test_edited_test_files_are_flagged() -> None:
    body = pr_body(_outcome(changed_files=["a.py", "tests/test_a.py"]), [])
    assert "This change edits test files (`tests/test_a.py`)" in body


def test_test_files_are_the_ones_the_map_weighs_as_tests() -> None:
    """Spec folders, Java and Ruby conventions count; a nested `testing/` is a library module (numpy.testing)."""
    changed = ["a.py", "spec/user_spec.rb", "web/__tests__/x.js", "src/FooTest.java", "web/a.test.ts",
               "testing/conftest.py", "pkg/testing/utils.py", "e2e/flow.ts"]
    assert report.test_files(changed) == ["spec/user_spec.rb", "web/__tests__/x.js", "src/FooTest.java",
                                          "web/a.test.ts", "testing/conftest.py", "e2e/flow.ts"]


def test_the_tests_counts_before_and_after_are_stated_plainly() -> None:
    attempt = Attempt(number=1, senior="s", junior="j", edits_applied=1, edits_proposed=1, changed_files=["a.py"],
                      test=CommandResult("pytest", 0, "5 passed in 0.1s", 1.0),
                      tests_before=TestCounts("failed", True, 5, 4, 1), tests_after=TestCounts("passed", True, 5, 5))
    body = pr_body(_outcome(verdict=Verdict.PLAUSIBLE, attempts=[attempt], test_command="pytest",
                            baseline=CommandResult("pytest", 1, "1 failed, 4 passed in 0.1s", 1.0),
                            baseline_tests=TestCounts("failed", True, 5, 4, 1)), [])
    assert "**Tests:** 4 passed, 1 failed before the change; 5 passed after." in body
    assert "| `pytest` | failed (exit 1, 1.0 s): 4 passed, 1 failed |" in body
    assert "| `pytest` | passed (exit 0, 1.0 s): 5 passed |" in body
    assert "| 0 (5 passed) |" in body  # the attempts table: no new failure, and what ran


def test_a_change_after_which_no_test_ran_says_so() -> None:
    none_ran = TestCounts("collection_error", False, 0, errors=1, collection_errors=("tests/test_app.py",))
    attempt = Attempt(number=1, senior="s", junior="j", edits_applied=1, edits_proposed=1, changed_files=["a.py"],
                      test=CommandResult("pytest", 2, "1 error in 0.1s", 1.0), tests_before=none_ran,
                      tests_after=none_ran, still_failing=["tests/test_app.py"])
    body = pr_body(_outcome(attempts=[attempt], test_command="pytest", baseline_tests=none_ran,
                            baseline=CommandResult("pytest", 2, "1 error in 0.1s", 1.0)), [])
    assert body.startswith("**ai-fix proposes this change, but it is not verified: the tests checked nothing after "
                           "the change (no test ran: collection error in tests/test_app.py).**")
    assert ("**Tests:** no test ran: collection error in tests/test_app.py before the change; no test ran: "
            "collection error in tests/test_app.py after.") in body
