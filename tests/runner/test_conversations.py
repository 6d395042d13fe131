"""Whole engine conversations scripted in the LLM double: litellm really calls it over HTTP, edits
really land in a git worktree, tests really run (as host subprocesses; Docker is tested elsewhere)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runner import context
from runner.job import SolveDeps, SolveRequest, solve
from runner.llm import LiteLLMChat, RetryPolicy
from runner.models import ModelPair
from runner.outcome import Outcome, Verdict
from runner.ports import Issue, MapFactory, SandboxSession
from runner.workspace import Workspace, Worktree
from tests.doubles.llm.replies import Reply
from tests.doubles.llm.server import LLMDouble
from tests.runner.repos import CALC, CALC_TESTS, FIX_ADD, PYTEST, HostSession, block, branch_file, make_origin

SENIOR, JUNIOR = "openai/gpt-4o", "openai/gpt-4o-mini"
PAIR = ModelPair(SENIOR, JUNIOR)
FALLBACK = ModelPair("anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5")
PLAN = "In calc.py, make add return a + b."


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


def _solve(tmp_path: Path, llm: LLMDouble, origin: Path, *, alternates: tuple[ModelPair, ...] = (),
           issue_body: str = "add(2, 3) returns -1", waits: list[float] | None = None,
           repo_map: MapFactory = context.simple_map) -> Outcome:
    def sandbox(worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        return HostSession(worktree.path)

    chat = LiteLLMChat(api_base=llm.api_base, timeout_s=10, policy=RetryPolicy(tries=2, base_delay_s=0.01),
                       sleep=(waits if waits is not None else []).append)
    request = SolveRequest(clone_url=str(origin), git_env={}, base_branch="main", branch="ai-fix/issue-1",
                           issue=Issue(1, "add() subtracts", issue_body), default_models=PAIR, alternates=alternates)
    return solve(request, SolveDeps(workspace=Workspace(tmp_path / "ws"), chat=chat, sandbox=sandbox,
                                    repo_map=repo_map))


def _feedback(llm: LLMDouble, index: int) -> str:
    """The last user message of the index-th request to the Junior."""
    return [r for r in llm.requests if r.model == "gpt-4o-mini"][index].last_user


def test_clean_run(tmp_path: Path, llm_double: LLMDouble) -> None:
    llm_double.script(PLAN, model=SENIOR).script(FIX_ADD, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path))
    assert outcome.verdict is Verdict.PLAUSIBLE and outcome.changed_files == ["calc.py"]
    [attempt] = outcome.attempts
    assert attempt.tests_ok and attempt.reflections == 0 and attempt.tokens > 0 and attempt.cost_usd > 0
    assert [c.role for c in attempt.calls] == ["senior", "junior"]
    assert "def add(a, b)" in llm_double.requests[0].last_user  # small repo: the Senior sees every file
    assert PLAN in llm_double.requests[1].last_user


def test_malformed_blocks_then_a_fix(tmp_path: Path, llm_double: LLMDouble) -> None:
    unclosed = "calc.py\n```\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n```\n"
    llm_double.script(PLAN, model=SENIOR).script(unclosed, FIX_ADD, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path))
    assert outcome.verdict is Verdict.PLAUSIBLE and outcome.attempts[0].reflections == 1
    assert "REPLACE" in _feedback(llm_double, 1) and "could not be applied" in _feedback(llm_double, 1)


def test_an_ambiguous_search_is_refused_then_fixed(tmp_path: Path, llm_double: LLMDouble) -> None:
    code = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
    tests = "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n" \
            "def test_sub():\n    assert sub(3, 2) == 1\n"
    origin = make_origin(tmp_path, {"calc.py": code, "test_calc.py": tests})
    precise = block("calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n")
    llm_double.script(PLAN, model=SENIOR).script(FIX_ADD, precise, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, origin)
    assert outcome.verdict is Verdict.PLAUSIBLE
    assert "the SEARCH text matches 2 places, at lines 2 and 6" in _feedback(llm_double, 1)
    fixed = code.replace("    return a - b\n\n\ndef sub", "    return a + b\n\n\ndef sub")
    assert branch_file(origin, "calc.py") == fixed


def test_a_lint_error_is_reflected_then_fixed(tmp_path: Path, llm_double: LLMDouble) -> None:
    typo = block("calc.py", "    return a - b\n", "    return a + bb\n")
    fix = block("calc.py", "    return a + bb\n", "    return a + b\n")
    llm_double.script(PLAN, model=SENIOR).script(typo, fix, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path))
    assert outcome.verdict is Verdict.PLAUSIBLE
    assert "undefined name 'bb'" in _feedback(llm_double, 1) and "█" in _feedback(llm_double, 1)


def test_a_new_test_failure_is_reflected_then_fixed(tmp_path: Path, llm_double: LLMDouble) -> None:
    both = block("calc.py", CALC, CALC.replace("a - b", "a + b").replace("a * b", "a ** b"))
    restore = block("calc.py", "    return a ** b\n", "    return a * b\n")
    llm_double.script(PLAN, model=SENIOR).script(both, restore, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path))
    assert outcome.verdict is Verdict.PLAUSIBLE
    feedback = _feedback(llm_double, 1)
    assert "test_calc.py::test_mul" in feedback and "fix the code, not the tests" in feedback


def test_a_pre_existing_failure_is_not_blamed(tmp_path: Path, llm_double: LLMDouble) -> None:
    tests = CALC_TESTS + "\n\ndef test_unrelated_and_broken():\n    assert 'known bug' == ''\n"
    llm_double.script(PLAN, model=SENIOR).script(FIX_ADD, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path, {"calc.py": CALC, "test_calc.py": tests}))
    [attempt] = outcome.attempts
    assert outcome.verdict is Verdict.PLAUSIBLE and attempt.reflections == 0
    assert attempt.still_failing == ["test_calc.py::test_unrelated_and_broken"] and attempt.new_failures == []


def test_budget_exhausted_keeps_the_best_attempt(tmp_path: Path, llm_double: LLMDouble) -> None:
    breaks_mul = block("calc.py", CALC, CALC.replace("a - b", "a + b").replace("a * b", "a ** b"))
    origin = make_origin(tmp_path, config=f"test: {PYTEST}\nattempts: 2\n")
    llm_double.script(PLAN, PLAN, model=SENIOR)
    llm_double.script(breaks_mul, *["Sorry, I am not sure."] * 3, *["No idea."] * 4, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, origin)
    first, second = outcome.attempts
    assert first.reflections == second.reflections == 3 and first.new_failures == ["test_calc.py::test_mul"]
    assert outcome.verdict is Verdict.NOT_PLAUSIBLE and outcome.chosen == 1
    assert "return a ** b" in branch_file(origin, "calc.py")


def test_429_with_retry_after_then_success(tmp_path: Path, llm_double: LLMDouble) -> None:
    llm_double.script(Reply.rate_limited(retry_after=3), PLAN, model=SENIOR).script(FIX_ADD, model=JUNIOR)
    waits: list[float] = []
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path), waits=waits)
    assert outcome.verdict is Verdict.PLAUSIBLE and waits == [3.0]


def test_provider_down_falls_back_to_the_next_pair(tmp_path: Path, llm_double: LLMDouble) -> None:
    llm_double.script(Reply.error(503), Reply.error(503), model=SENIOR)
    llm_double.script(PLAN, model=FALLBACK.senior).script(FIX_ADD, model=FALLBACK.junior)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path), alternates=(FALLBACK,))
    [attempt] = outcome.attempts
    assert outcome.verdict is Verdict.PLAUSIBLE
    assert (attempt.senior, attempt.junior) == (FALLBACK.senior, FALLBACK.junior)
    assert attempt.fallbacks and attempt.fallbacks[0].startswith("openai/gpt-4o failed")
    assert [r.kind for r in llm_double.requests] == ["openai", "openai", "anthropic", "anthropic"]


def test_provider_down_without_fallback_is_an_error_not_a_crash(tmp_path: Path, llm_double: LLMDouble) -> None:
    llm_double.script(Reply.error(503), Reply.error(503), model=SENIOR)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path))
    assert outcome.verdict is Verdict.ERROR and "openai/gpt-4o kept failing" in outcome.error
    assert outcome.head_sha == ""


def test_edits_aimed_outside_the_tree_are_refused(tmp_path: Path, llm_double: LLMDouble) -> None:
    origin = make_origin(tmp_path, {"calc.py": CALC, "test_calc.py": CALC_TESTS,
                                    ".github/workflows/ci.yml": "on: push\n"})
    hostile = (block("../escape.py", "", "print('x')\n") + block(".git/config", "", "[core]\nfsmonitor = evil\n")
               + block(".github/workflows/ci.yml", "on: push\n", "on: push\n# steal secrets\n"))
    llm_double.script(PLAN, model=SENIOR).script(hostile, FIX_ADD, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, origin)
    assert outcome.verdict is Verdict.PLAUSIBLE and outcome.changed_files == ["calc.py"]
    feedback = _feedback(llm_double, 1)
    assert "`..`" in feedback and ".git/" in feedback and "workflows" in feedback
    assert not (tmp_path / "ws" / "worktrees" / "escape.py").exists() and not (tmp_path / "escape.py").exists()
    assert branch_file(origin, ".github/workflows/ci.yml") == "on: push\n"
    config = subprocess.run(["git", "config", "--list", "--local"], cwd=origin, capture_output=True, text=True)
    assert "fsmonitor" not in config.stdout


def test_a_file_deletion_is_committed(tmp_path: Path, llm_double: LLMDouble) -> None:
    origin = make_origin(tmp_path, {"calc.py": CALC, "test_calc.py": CALC_TESTS, "old_helpers.py": "X = 1\n"})
    reply = FIX_ADD + "\nold_helpers.py\n```\n<<<<<<< DELETE FILE\n```\n"
    llm_double.script(PLAN, model=SENIOR).script(reply, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, origin)
    assert outcome.verdict is Verdict.PLAUSIBLE and outcome.changed_files == ["calc.py", "old_helpers.py"]
    assert "deleted file mode" in outcome.diff
    with pytest.raises(subprocess.CalledProcessError):
        branch_file(origin, "old_helpers.py")


def test_review_pattern_junior_first_then_senior_review_then_fix(tmp_path: Path, llm_double: LLMDouble) -> None:
    origin = make_origin(tmp_path, config=f"test: {PYTEST}\npattern: review\n")
    partial = block("calc.py", "    return a - b\n", "    return b + a\n")  # right, but the review wants style
    review = "1. calc.py: `add` should read `a + b`, the order the issue uses."
    tidy = block("calc.py", "    return b + a\n", "    return a + b\n")
    llm_double.script(review, model=SENIOR).script(partial, tidy, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, origin)
    [attempt] = outcome.attempts
    assert outcome.verdict is Verdict.PLAUSIBLE and attempt.pattern == "review" and attempt.plan == ""
    assert [c.role for c in attempt.calls] == ["junior", "senior", "junior"]  # one review round
    assert "add(2, 3) returns -1" in llm_double.requests[0].last_user  # the Junior works from the issue
    assert review in _feedback(llm_double, 1)
    assert "return a + b" in branch_file(origin, "calc.py")


def test_a_reply_cut_off_at_the_output_limit_is_reflected(tmp_path: Path, llm_double: LLMDouble) -> None:
    llm_double.script(PLAN, model=SENIOR)
    llm_double.script(Reply(content=FIX_ADD[:40], finish_reason="length"), FIX_ADD, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, make_origin(tmp_path))
    assert outcome.verdict is Verdict.PLAUSIBLE
    assert "cut off at the output limit" in _feedback(llm_double, 1)


def test_the_senior_chooses_files_and_an_unknown_path_gets_the_closest_real_ones(
        tmp_path: Path, llm_double: LLMDouble) -> None:
    files = {"calc.py": CALC, "test_calc.py": CALC_TESTS}
    filler = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(120))
    files.update({f"pkg/module_{n}.py": filler for n in range(30)})  # ~130 kB: too much to show whole
    origin = make_origin(tmp_path, files)
    llm_double.script("<files>\nsrc/calc.py\npkg/module_3.py\n</files>", "<files>\ncalc.py\n</files>", PLAN,
                      model=SENIOR).script(FIX_ADD, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, origin)
    [attempt] = outcome.attempts
    assert outcome.verdict is Verdict.PLAUSIBLE and attempt.files_read == ["calc.py"]
    choose, retry, plan = (r for r in llm_double.requests if r.model == "gpt-4o")
    assert "<files>" in choose.last_user and "calc.py" in choose.last_user  # the map lists it
    assert "`src/calc.py`: did you mean `calc.py`?" in retry.last_user and "pkg/module_3.py`" not in retry.last_user
    assert "def add(a, b)" in plan.last_user and "helper_7" not in plan.last_user


def test_the_tree_sitter_map_shows_the_senior_the_code_the_issue_is_about(
        tmp_path: Path, llm_double: LLMDouble) -> None:
    files = {"calc.py": CALC, "test_calc.py": CALC_TESTS}
    filler = "".join(f"def helper_{i}(value):\n    return value + {i}\n\n\n" for i in range(120))
    files.update({f"pkg/module_{n}.py": filler for n in range(30)})
    origin = make_origin(tmp_path, files)
    llm_double.script("<files>\ncalc.py\n</files>", PLAN, model=SENIOR).script(FIX_ADD, model=JUNIOR)
    outcome = _solve(tmp_path, llm_double, origin, issue_body="`add(2, 3)` returns -1 instead of 5",
                     repo_map=context.structured_map(tmp_path / "tags.sqlite3"))
    assert outcome.verdict is Verdict.PLAUSIBLE
    shown_map = llm_double.requests[0].last_user
    assert shown_map.index("calc.py") < shown_map.index("pkg/module_")  # ranked first for this issue
    assert "def add(a, b)" in shown_map  # with the signature of the definition the issue names
