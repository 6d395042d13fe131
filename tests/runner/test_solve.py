"""`solve` on a real local repository with a scripted model; commands run as host subprocesses here
(the Docker sandbox itself is covered by test_sandbox.py and the end-to-end tests)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from runner.errors import ModelError, RunnerError
from runner.models import ModelPair
from runner.outcome import Verdict
from runner.ports import CommandResult, Completion, Issue, Message, SandboxSession, SetupResult, SetupRunner
from runner.solve import SolveDeps, SolveRequest, solve
from runner.workspace import Workspace, Worktree
from tests.runner.repos import FIX_ADD, PYTEST, HostSession, block, branch_file, make_origin

EDIT = FIX_ADD
BAD_EDIT = block("calc.py", "    return a-b\n", "    return a + b\n")


class ScriptedChat:
    def __init__(self, *replies: str | Exception, cost: float = 0.01) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, list[Message]]] = []
        self.cost = cost

    def complete(self, model: str, messages: Sequence[Message]) -> Completion:
        self.calls.append((model, list(messages)))
        if not self.replies:
            raise AssertionError("unscripted model call")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Completion(reply, model, 100, 20, self.cost, 0.0)


def _repo(tmp_path: Path, config: str = f"test: {PYTEST}\n") -> Path:
    return make_origin(tmp_path, config=config)


def _solve(tmp_path: Path, origin: Path, chat: ScriptedChat, setup: SetupRunner | None = None, *,  # type: ignore[no-untyped-def]
           session: Callable[[Path], SandboxSession] = HostSession, should_stop: Callable[[], bool] = lambda: False,
           clock: Callable[[], float] = time.monotonic):
    def sandbox(worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        return session(worktree.path)

    request = SolveRequest(clone_url=str(origin), git_env={}, base_branch="main", branch="ai-fix/issue-1",
                           issue=Issue(1, "add subtracts", "add(2, 3) is -1"),
                           default_models=ModelPair("openai/senior", "openai/junior"))
    return solve(request, SolveDeps(workspace=Workspace(tmp_path / "ws"), chat=chat, sandbox=sandbox, setup=setup,
                                    should_stop=should_stop, clock=clock))


def _branch_file(origin: Path, path: str) -> str:
    return branch_file(origin, path)


def test_plausible_fix_is_pushed(tmp_path: Path) -> None:
    origin = _repo(tmp_path)
    chat = ScriptedChat("make add add", EDIT)
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.PLAUSIBLE, outcome
    assert outcome.baseline is not None and not outcome.baseline.passed
    assert outcome.changed_files == ["calc.py"] and "+    return a + b" in outcome.diff
    assert _branch_file(origin, "calc.py").startswith("def add(a, b):\n    return a + b\n\n")
    assert [model for model, _ in chat.calls] == ["openai/senior", "openai/junior"]
    assert not list((tmp_path / "ws" / "worktrees").iterdir())  # every worktree removed


def test_an_edit_that_does_not_apply_is_reflected_with_the_closest_lines(tmp_path: Path) -> None:
    origin = _repo(tmp_path)
    chat = ScriptedChat("make add add", BAD_EDIT, EDIT)
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.PLAUSIBLE
    feedback = chat.calls[2][1][-1]["content"]
    assert "did you mean these lines" in feedback and "    return a - b\n" in feedback


def test_invalid_config_stops_before_any_model_call(tmp_path: Path) -> None:
    origin = _repo(tmp_path, config="tset: pytest\n")
    chat = ScriptedChat()
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.ERROR
    assert "`tset`: Extra inputs are not permitted" in outcome.error and chat.calls == []


def test_no_applicable_edit_means_no_push(tmp_path: Path) -> None:
    origin = _repo(tmp_path, config=f"test: {PYTEST}\nattempts: 1\n")
    chat = ScriptedChat("plan", "I cannot do that.", "still no", "no", "no")
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.NO_EDIT and outcome.head_sha == ""
    assert outcome.final_attempt and outcome.final_attempt.edit_errors == [
        "your reply contained no SEARCH/REPLACE block"]
    with pytest.raises(subprocess.CalledProcessError):
        _branch_file(origin, "calc.py")


BREAK_MUL = block("calc.py", "    return a * b\n", "    return a ** b\n")


def test_cost_cap_keeps_the_best_result_so_far(tmp_path: Path) -> None:
    origin = _repo(tmp_path, config=f"test: {PYTEST}\nmax_cost_usd: 0.015\n")
    chat = ScriptedChat("plan", BREAK_MUL, cost=0.01)
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.NOT_PLAUSIBLE
    assert outcome.error == ("the cost cap of $0.015 was reached ($0.02 spent): 1 call to openai/senior (senior) "
                             "spent $0.01, 1 call to openai/junior (junior) spent $0.01")
    [attempt] = outcome.attempts
    assert attempt.new_failures == ["test_calc.py::test_mul"] and attempt.still_failing == ["test_calc.py::test_add"]
    assert _branch_file(origin, "calc.py").endswith("    return a ** b\n")


def test_without_tests_a_change_is_unverified_and_one_attempt_is_enough(tmp_path: Path) -> None:
    origin = _without_tests(tmp_path, _repo(tmp_path, config="attempts: 3\n"))
    outcome = _solve(tmp_path, origin, ScriptedChat("make add add", EDIT))
    assert outcome.verdict is Verdict.NOT_PLAUSIBLE and outcome.test_command is None
    assert len(outcome.attempts) == 1 and outcome.head_sha


def _without_tests(tmp_path: Path, origin: Path) -> Path:
    work = tmp_path / "notests"
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    subprocess.run(["git", "rm", "-q", "test_calc.py"], cwd=work, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "no tests"], cwd=work,
                   check=True)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], cwd=work, check=True)
    return origin


def test_an_edit_that_changes_nothing_is_reflected(tmp_path: Path) -> None:
    origin = _repo(tmp_path)
    same = "calc.py\n```\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a - b\n>>>>>>> REPLACE\n```\n"
    chat = ScriptedChat("plan", same, EDIT)
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.PLAUSIBLE
    feedback = chat.calls[2][1][-1]["content"]
    assert "your edits left every file as it was: the REPLACE text must differ from the SEARCH text" in feedback


BREAK_MUL_ONLY = block("calc.py", "    return a * b\n", "    return a * b + 1\n")
UNDO_MUL = block("calc.py", "    return a * b + 1\n", "    return a * b\n")


def test_an_edit_reverted_to_the_original_is_no_edit_and_nothing_is_pushed(tmp_path: Path) -> None:
    origin = _repo(tmp_path, config=f"test: {PYTEST}\nattempts: 1\n")
    chat = ScriptedChat("plan", BREAK_MUL_ONLY, UNDO_MUL, "Done.", "Done.")
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.NO_EDIT and outcome.head_sha == "" and outcome.diff == ""
    with pytest.raises(subprocess.CalledProcessError):
        _branch_file(origin, "calc.py")


def test_a_block_sent_again_after_it_applied_does_not_spoil_a_good_patch(tmp_path: Path) -> None:
    origin = _repo(tmp_path)
    chat = ScriptedChat("plan", FIX_ADD + BREAK_MUL_ONLY, UNDO_MUL + FIX_ADD)
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.PLAUSIBLE and len(outcome.attempts) == 1
    assert outcome.attempts[0].edit_errors == []


def test_the_report_describes_the_committed_contents_when_the_provider_fails(tmp_path: Path) -> None:
    origin = _repo(tmp_path, config=f"test: {PYTEST}\nattempts: 1\n")
    bad = block("calc.py", "    return nothing_like_this\n", "    return 0\n")
    chat = ScriptedChat("plan", FIX_ADD + BREAK_MUL_ONLY, UNDO_MUL + bad, ModelError("provider down"))
    outcome = _solve(tmp_path, origin, chat)
    [attempt] = outcome.attempts
    assert outcome.head_sha and _branch_file(origin, "calc.py").startswith("def add(a, b):\n    return a + b\n")
    assert attempt.error == "provider down"
    assert attempt.test is not None and attempt.test.passed and attempt.new_failures == []


def test_a_file_that_is_not_utf8_can_be_edited(tmp_path: Path) -> None:
    latin = "# Caf\xe9 calculator\ndef add(a, b):\n    return a - b\n"
    origin = make_origin(tmp_path, {"calc.py": "", "test_calc.py": "from calc import add\n\n\ndef test_add():\n"
                                    "    assert add(2, 3) == 5\n"})
    work = tmp_path / "latin"
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    (work / "calc.py").write_bytes(latin.encode("latin-1"))
    for args in (["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "latin-1"],
                 ["push", "-q", "origin", "HEAD:main"]):
        subprocess.run(["git", *args], cwd=work, check=True)
    outcome = _solve(tmp_path, origin, ScriptedChat("plan", FIX_ADD))
    assert outcome.verdict is Verdict.PLAUSIBLE, outcome.error
    shown = subprocess.run(["git", "show", "ai-fix/issue-1:calc.py"], cwd=origin, capture_output=True, check=True)
    assert shown.stdout == latin.replace("a - b", "a + b").encode("latin-1")


def test_a_failing_setup_is_a_clear_error_and_leaves_no_worktree(tmp_path: Path) -> None:
    origin = _repo(tmp_path, config=f"setup: pip install nothing-such\ntest: {PYTEST}\n")

    def failing_setup(*args: object) -> SetupResult:
        raise RunnerError("setup failed: `pip install nothing-such` exited 1", hint="fix `setup:`")

    outcome = _solve(tmp_path, origin, ScriptedChat(), setup=failing_setup)  # type: ignore[arg-type]
    assert outcome.verdict is Verdict.ERROR and outcome.error.startswith("setup failed")
    assert not list((tmp_path / "ws" / "worktrees").iterdir())


def test_the_time_limit_ends_the_attempts_with_its_own_words(tmp_path: Path) -> None:
    origin = _repo(tmp_path)  # three attempts by default
    offset = [0.0]

    class SlowChat(ScriptedChat):
        def complete(self, model: str, messages: Sequence[Message]) -> Completion:
            offset[0] += 31 * 60  # each call takes longer than the default 30 minutes
            return super().complete(model, messages)

    chat = SlowChat("plan")
    outcome = _solve(tmp_path, origin, chat, clock=lambda: time.monotonic() + offset[0])
    assert outcome.verdict is Verdict.NO_EDIT and outcome.head_sha == ""
    assert (outcome.error, outcome.hint) == ("the time limit was reached", "raise `timeout_minutes`")
    [attempt] = outcome.attempts
    assert attempt.error == "the time limit was reached" and len(chat.calls) == 1
    assert not list((tmp_path / "ws" / "worktrees").iterdir())


def test_an_empty_reply_gets_the_no_block_feedback(tmp_path: Path) -> None:
    origin = _repo(tmp_path)
    chat = ScriptedChat("plan", "", EDIT)
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.PLAUSIBLE and outcome.attempts[0].reflections == 1
    feedback = chat.calls[2][1][-1]["content"]
    assert feedback.startswith("Some of your edits could not be applied:")
    assert "\n- your reply contained no SEARCH/REPLACE block\n" in feedback


def test_new_lines_from_the_lint_command_are_reflected_under_its_name(tmp_path: Path) -> None:
    lint = "! grep 'a + b' calc.py"  # passes on the untouched code, fails once `add` is fixed
    origin = _repo(tmp_path, config=f"test: {PYTEST}\nlint: \"{lint}\"\nattempts: 1\n")
    chat = ScriptedChat("plan", EDIT, "no", "no", "no")
    outcome = _solve(tmp_path, origin, chat)
    assert outcome.verdict is Verdict.NOT_PLAUSIBLE and outcome.lint_command == lint
    [attempt] = outcome.attempts
    assert attempt.lint_errors == [f"`{lint}` reports:\n    return a + b"]
    assert f"`{lint}` reports:\n    return a + b" in chat.calls[2][1][-1]["content"]


def test_a_cancel_mid_attempt_stops_the_job_and_leaves_no_worktree(tmp_path: Path) -> None:
    origin = _repo(tmp_path)
    chat = ScriptedChat("plan", EDIT)
    outcome = _solve(tmp_path, origin, chat, should_stop=lambda: True)
    assert outcome.verdict is Verdict.ERROR and outcome.error == "the job was cancelled" and outcome.hint == ""
    assert len(outcome.attempts) == 1 and chat.calls == [] and outcome.head_sha == ""
    assert not list((tmp_path / "ws" / "worktrees").iterdir())


def test_a_cancel_after_the_last_attempt_pushes_nothing(tmp_path: Path) -> None:
    origin = _repo(tmp_path)
    cancelled = [False]

    class CancelAfterTheTests(HostSession):
        """The maintainer's `/cancel` lands while the attempt's tests run."""

        def run(self, command: str, timeout_s: float) -> CommandResult:
            result = super().run(command, timeout_s)
            cancelled[0] = len(self.commands) == 2  # the baseline, then the attempt's tests
            return result

    outcome = _solve(tmp_path, origin, ScriptedChat("plan", EDIT), session=CancelAfterTheTests,
                     should_stop=lambda: cancelled[0])
    assert outcome.verdict is Verdict.ERROR and outcome.error == "the job was cancelled before its patch was pushed"
    assert outcome.head_sha == "" and outcome.chosen == 0 and outcome.changed_files == []
    assert outcome.attempts[0].tests_ok
    with pytest.raises(subprocess.CalledProcessError):
        _branch_file(origin, "calc.py")
    assert not list((tmp_path / "ws" / "worktrees").iterdir())
