"""`ai-fix solve` as a person runs it: a subprocess on a local checkout, the LLM double over HTTP,
the tests in the Docker sandbox, the patch left uncommitted in the working tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doubles.forward_proxy import ForwardProxy
from tests.doubles.llm.replies import Reply
from tests.doubles.llm.server import LLMDouble
from tests.e2e.conftest import CALC, TESTS

pytestmark = [pytest.mark.docker, pytest.mark.e2e]
FIX = "calc.py\n```\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"


def _checkout(tmp_path: Path, config: str | None = None) -> Path:
    repo = tmp_path / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TESTS)
    if config is not None:
        (repo / ".github").mkdir()
        (repo / ".github" / "ai-fix.yml").write_text(config)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


def _solve(repo: Path, issue: Path, llm: LLMDouble, *extra: str, model: str = "openai/gpt-4o",
           api_base: str | None = None, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AI_FIX_", "OPENAI_", "ANTHROPIC_")) and k.lower() not in _PROXY_VARIABLES}
    env.update({"OPENAI_API_KEY": "sk-test", "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env_extra or {})})
    return subprocess.run([str(Path(sys.executable).parent / "ai-fix"), "solve", "--repo", str(repo), "--issue-file",
                           str(issue), "--api-base", api_base or llm.api_base, "--senior", model, *extra],
                          capture_output=True, text=True, env=env, cwd=repo.parent, timeout=300)


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


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


UNPRICED = "openai/acme-coder-7b"
"""A model litellm has no price for."""
WONT_APPLY = "calc.py\n```\n<<<<<<< SEARCH\n    return a - c\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"


def _costly(text: str) -> Reply:
    """A reply whose usage is fixed: at the $15/$75 estimate, 1000 + 100 tokens cost $0.0225."""
    return Reply(text, prompt_tokens=1000, completion_tokens=100)


def test_an_unpriced_remote_model_that_reaches_the_cost_cap_is_named(tmp_path: Path, llm_double: LLMDouble) -> None:
    repo = _checkout(tmp_path, config="max_cost_usd: 0.05\nattempts: 1\n")
    issue = tmp_path / "issue.md"
    issue.write_text("add() subtracts\n\nadd(2, 3) returns -1 instead of 5.\n")
    llm_double.script(_costly("Make add return a + b."), *[_costly(WONT_APPLY)] * 4, model=UNPRICED)
    llm_double.allow_leftovers = True  # the cap stops the calls before the script ends
    with ForwardProxy(llm_double.url) as proxy:  # a remote provider's address, reaching the double
        done = _solve(repo, issue, llm_double, "--files", "calc.py", "--test-cmd", "", "--json", model=UNPRICED,
                      api_base="http://llm-provider.example", env_extra={"HTTP_PROXY": proxy.url})
    assert done.returncode == 1, done.stderr
    assert len(proxy.targets) == 3 and len(llm_double.requests) == 3
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["error"] == ("the cost cap of $0.05 was reached: 3 calls to openai/acme-coder-7b (junior 2, "
                                "senior 1; estimated, no known price) spent $0.0675; the calls were made to "
                                "plan the change (1), write the edits (1), fix edits that did not apply (1)")
    assert outcome["hint"].startswith("the calls to openai/acme-coder-7b were charged an estimate, $15/$75 per "
                                      "million input/output tokens, for want of a known price: the App's operator "
                                      "can set the real price in AI_FIX_MODEL_PRICES")
    calls = outcome["attempts"][0]["calls"]
    assert [(c["role"], c["model"], c["cost_estimated"]) for c in calls] == [
        ("senior", UNPRICED, True), ("junior", UNPRICED, True), ("junior", UNPRICED, True)]
    assert f"stopped: {outcome['error']} ({outcome['hint']})" in done.stderr
    assert "calls to openai/acme-coder-7b are estimated: no known price" in done.stderr  # the log says so at once


def test_the_same_model_priced_by_the_operator_or_served_locally_runs_on(tmp_path: Path,
                                                                          llm_double: LLMDouble) -> None:
    repo = _checkout(tmp_path, config="max_cost_usd: 0.05\nattempts: 1\n")
    issue = tmp_path / "issue.md"
    issue.write_text("add() subtracts\n\nadd(2, 3) returns -1 instead of 5.\n")
    # Priced by the operator's table (a glob), the remote calls cost what the table says: $0.0021 each.
    prices = '{"openai/acme-*": {"input": 1.5, "output": 6}}'
    llm_double.script(_costly("Make add return a + b."), *[_costly(WONT_APPLY)] * 3, _costly(FIX), model=UNPRICED)
    with ForwardProxy(llm_double.url) as proxy:
        done = _solve(repo, issue, llm_double, "--files", "calc.py", "--test-cmd", "", "--json", model=UNPRICED,
                      api_base="http://llm-provider.example",
                      env_extra={"HTTP_PROXY": proxy.url, "AI_FIX_MODEL_PRICES": prices})
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["error"] == "" and outcome["changed_files"] == ["calc.py"], done.stderr
    calls = outcome["attempts"][0]["calls"]
    assert len(calls) == 5 and all(c["cost_usd"] == pytest.approx(0.0021) and not c["cost_estimated"] for c in calls)
    # Served on this machine (the double on 127.0.0.1), the same unknown model costs nothing.
    subprocess.run(["git", "checkout", "-q", "--", "calc.py"], cwd=repo, check=True)
    llm_double.script(_costly("Make add return a + b."), *[_costly(WONT_APPLY)] * 3, _costly(FIX), model=UNPRICED)
    done = _solve(repo, issue, llm_double, "--files", "calc.py", "--test-cmd", "", "--json", model=UNPRICED)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["error"] == "" and outcome["changed_files"] == ["calc.py"], done.stderr
    calls = outcome["attempts"][0]["calls"]
    assert len(calls) == 5 and all(c["cost_usd"] == 0 and not c["cost_estimated"] for c in calls)
    assert f"calls to {UNPRICED} are free: no known price, and served on a local address" in done.stderr
