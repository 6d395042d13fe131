"""`solve` on a real local repository with a scripted model; commands run as host subprocesses here
(the Docker sandbox itself is covered by test_sandbox.py and the end-to-end tests)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.engine import Issue
from runner.llm import Completion, Message
from runner.models import ModelPair
from runner.outcome import Verdict
from runner.solve import SandboxSession, SolveDeps, SolveRequest, solve
from runner.workspace import Workspace, Worktree

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"
EDIT = "calc.py\n```\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"
BAD_EDIT = "calc.py\n```\n<<<<<<< SEARCH\n    return a-b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"


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


@dataclass(frozen=True)
class Result:
    command: str
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False


class HostSession:
    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, command: str, timeout_s: float) -> Result:
        started = time.monotonic()
        proc = subprocess.run(command, shell=True, cwd=self.root, capture_output=True, text=True, timeout=timeout_s)
        return Result(command, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)

    def close(self) -> None:
        pass


def _repo(tmp_path: Path, config: str = f"test: {PYTEST}\n") -> Path:
    src = tmp_path / "src"
    (src / ".github").mkdir(parents=True)
    (src / "calc.py").write_text("def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n")
    (src / "test_calc.py").write_text("from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
                                      "def test_mul():\n    assert mul(2, 3) == 6\n")
    (src / ".github" / "ai-fix.yml").write_text(config)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=src, check=True)
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    return bare


def _solve(tmp_path: Path, origin: Path, chat: ScriptedChat):  # type: ignore[no-untyped-def]
    def sandbox(worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        return HostSession(worktree.path)

    request = SolveRequest(clone_url=str(origin), git_env={}, base_branch="main", branch="ai-fix/issue-1",
                           issue=Issue(1, "add subtracts", "add(2, 3) is -1"),
                           default_models=ModelPair("openai/senior", "openai/junior"))
    return solve(request, SolveDeps(workspace=Workspace(tmp_path / "ws"), chat=chat, sandbox=sandbox))


def _branch_file(origin: Path, path: str) -> str:
    return subprocess.run(["git", "show", f"ai-fix/issue-1:{path}"], cwd=origin, capture_output=True, text=True,
                          check=True).stdout


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


BREAK_MUL = "calc.py\n```\n<<<<<<< SEARCH\n    return a * b\n=======\n    return a ** b\n>>>>>>> REPLACE\n```\n"


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
