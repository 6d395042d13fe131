"""`ai-fix solve` as a person runs it: a subprocess on a local checkout, the LLM double over HTTP,
the tests in the Docker sandbox, the patch left uncommitted in the working tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doubles.llm.server import LLMDouble
from tests.e2e.conftest import CALC, TESTS

pytestmark = [pytest.mark.docker, pytest.mark.e2e]
FIX = "calc.py\n```\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"


def _checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TESTS)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def _solve(repo: Path, issue: Path, llm: LLMDouble, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AI_FIX_", "OPENAI_", "ANTHROPIC_"))}
    env.update({"OPENAI_API_KEY": "sk-test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    return subprocess.run([str(Path(sys.executable).parent / "ai-fix"), "solve", "--repo", str(repo), "--issue-file",
                           str(issue), "--api-base", llm.api_base, "--senior", "openai/gpt-4o", *extra],
                          capture_output=True, text=True, env=env, cwd=repo.parent, timeout=300)


def test_solve_leaves_the_patch_uncommitted_and_prints_the_outcome(tmp_path: Path, llm_double: LLMDouble) -> None:
    repo = _checkout(tmp_path)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    issue = tmp_path / "issue.md"
    issue.write_text("add() subtracts\n\nadd(2, 3) returns -1 instead of 5.\n")
    llm_double.script("Make add return a + b.", FIX, model="openai/gpt-4o")
    done = _solve(repo, issue, llm_double, "--files", "calc.py", "--json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["verdict"] == "plausible" and outcome["changed_files"] == ["calc.py"]
    assert "Running the checks on the untouched code" in done.stderr  # progress while it works
    assert outcome["attempts"][0]["test"]["exit_code"] == 0  # the tests ran (in Docker: see test_calc.py)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status == " M calc.py\n"
    assert "    return a + b" in (repo / "calc.py").read_text()
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout == head
    assert "calc.py" in llm_double.requests[0].last_user and "test_calc.py" not in llm_double.requests[0].last_user


def test_solve_refuses_a_dirty_checkout(tmp_path: Path, llm_double: LLMDouble) -> None:
    repo = _checkout(tmp_path)
    (repo / "calc.py").write_text("# my unsaved work\n")
    issue = tmp_path / "issue.md"
    issue.write_text("anything\n")
    done = _solve(repo, issue, llm_double)
    assert done.returncode == 2 and "has uncommitted changes (commit or stash them first)" in done.stderr
    assert (repo / "calc.py").read_text() == "# my unsaved work\n"
