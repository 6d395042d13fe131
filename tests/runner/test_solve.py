"""`solve` on a real local repository with a scripted model; commands run as host subprocesses here
(the Docker sandbox itself is covered by test_sandbox.py and the end-to-end tests)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from runner.engine import Issue
from runner.llm import Completion, Message
from runner.models import ModelPair
from runner.outcome import Verdict
from runner.solve import SandboxSession, SolveDeps, SolveRequest, solve
from runner.workspace import Workspace, Worktree
from tests.runner.repos import FIX_ADD, PYTEST, HostSession, block, branch_file, make_origin

EDIT = FIX_ADD
BAD_EDIT = block("calc.py", "    return a-b\n", "    return a + b\n")


class ScriptedChat:
    def __init__(self, *replies: str, cost: float = 0.01) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, list[Message]]] = []
        self.cost = cost

    def complete(self, model: str, messages: Sequence[Message]) -> Completion:
        self.calls.append((model, list(messages)))
        if not self.replies:
            raise AssertionError("unscripted model call")
        return Completion(self.replies.pop(0), model, 100, 20, self.cost, 0.0)


def _repo(tmp_path: Path, config: str = f"test: {PYTEST}\n") -> Path:
    return make_origin(tmp_path, config=config)


def _solve(tmp_path: Path, origin: Path, chat: ScriptedChat):  # type: ignore[no-untyped-def]
    def sandbox(worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        return HostSession(worktree.path)

    request = SolveRequest(clone_url=str(origin), git_env={}, base_branch="main", branch="ai-fix/issue-1",
                           issue=Issue(1, "add subtracts", "add(2, 3) is -1"),
                           default_models=ModelPair("openai/senior", "openai/junior"))
    return solve(request, SolveDeps(workspace=Workspace(tmp_path / "ws"), chat=chat, sandbox=sandbox))


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
    assert outcome.error == "the cost cap of $0.015 was reached"
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
    assert "unchanged" in feedback or "already" in feedback
