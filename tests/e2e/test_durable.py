"""Durable jobs, as operators run them: separate receiver and worker processes on one database, a `kill -9`
in the middle of an attempt followed by a restart, and a `/cancel` during a slow model call.

Each test starts its own App processes (they are killed and restarted) against one GitHub and one LLM double.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from bot.jobs import Job, Jobs
from tests.doubles.github.fixtures import assert_no_violations
from tests.doubles.github.server import GitHubDouble
from tests.doubles.llm.replies import Reply
from tests.doubles.llm.server import LLMDouble
from tests.doubles.webhooks import deliver, load_payload
from tests.e2e.conftest import (
    CALC,
    CONFIG,
    INSTALLATION_ID,
    REPO,
    SECRET,
    TESTS,
    _free_port,
    _remove_setup_images,
    app_env,
    jobs_of,
    start_ai_fix,
    stop,
    wait_healthy,
)
from tests.e2e.test_issue_to_pr import EDIT, PLAN

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


@dataclass
class Doubles:
    github: GitHubDouble
    llm: LLMDouble


@pytest.fixture(scope="module")
def doubles() -> Iterator[Doubles]:
    github = GitHubDouble().start()
    llm = LLMDouble().start()
    github.add_repo(REPO, {"calc.py": CALC, "test_calc.py": TESTS, ".github/ai-fix.yml": CONFIG})
    github.set_role(REPO, "maint", "write")
    github.install("acme", [REPO], id=INSTALLATION_ID)
    try:
        yield Doubles(github, llm)
    finally:
        llm.stop()
        github.stop()
        _remove_setup_images(github.url)
    assert_no_violations(github)


@pytest.fixture
def llm(doubles: Doubles) -> Iterator[LLMDouble]:
    doubles.llm.reset()
    yield doubles.llm
    problems = doubles.llm.problems()
    doubles.llm.reset()
    assert not problems, problems


def _label(url: str, issue: int) -> Any:
    payload = load_payload("issues", "labeled", repo=REPO, issue_number=issue, issue_title="add() subtracts",
                           issue_body="`add(2, 3)` returns -1 instead of 5.", label="ai-fix", sender="maint")
    return deliver(url + "/webhook", "issues", payload, SECRET)


def _wait(what: str, check: Callable[[], bool], timeout: float, log: Path) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-6000:]}")
        time.sleep(0.1)
    return time.monotonic() - started


def _job(jobs: Jobs, issue: int) -> Job | None:
    found = [j for j in jobs.all() if j.spec.issue_number == issue]
    return found[-1] if found else None


def _containers(job: Job | None) -> list[Any]:
    if job is None or job.run_id is None:
        return []
    client = docker.from_env()
    return list(client.containers.list(all=True, filters={"label": f"ai-fix.job={job.run_id}"}))


def _writes(github: GitHubDouble, issue: int) -> tuple[int, int, int]:
    pulls = [p for p in github.pulls(REPO) if p["head"]["ref"] == f"ai-fix/issue-{issue}"]
    heads = {p["head"]["sha"] for p in pulls}
    checks = [c for c in github.check_runs(REPO) if c["head_sha"] in heads]
    return len(pulls), len(github.comments(REPO, issue)), len(checks)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The App's database settings: the embedded default (SQLite in the data directory) or a real PostgreSQL
    (tests/pg.py, a new database per test), as hosts that share one database run it."""
    if request.param == "sqlite":
        return {}
    return {"AI_FIX_DATABASE_URL": request.getfixturevalue("postgres_database")}


def test_a_receiver_and_a_worker_in_separate_processes(doubles: Doubles, llm: LLMDouble, tmp_path: Path,
                                                         database: dict[str, str]) -> None:
    number = doubles.github.add_issue(REPO, "add() subtracts", "", user="maint").number
    llm.script(PLAN, EDIT, model="openai/gpt-4o")
    env = app_env(tmp_path, doubles.github, llm, AI_FIX_EXECUTOR_ID="worker-1", **database)
    port, log = _free_port(), tmp_path / "ai-fix.log"
    receiver = start_ai_fix(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)], tmp_path, env, log)
    url = f"http://127.0.0.1:{port}"
    worker = None
    jobs = None
    try:
        wait_healthy(url, receiver, log)
        assert _label(url, number).status_code == 202
        jobs = jobs_of(tmp_path, database.get("AI_FIX_DATABASE_URL"))
        time.sleep(1)
        job = _job(jobs, number)
        assert job is not None and job.state == "queued"  # durable, and nobody runs it yet
        worker = start_ai_fix(["worker"], tmp_path, env, log)
        _wait("the job", lambda: getattr(_job(jobs, number), "state", "") == "done", 120, log)
    finally:
        for proc in (worker, receiver):
            if proc is not None:
                stop(proc)
        if jobs is not None:
            jobs.client.destroy()
    assert (job := _job(jobs, number)) is not None and job.executor == "worker-1"
    assert _writes(doubles.github, number) == (1, 1, 1)


def test_kill_9_during_an_attempt_then_a_restart_finishes_the_job_once(
        doubles: Doubles, llm: LLMDouble, tmp_path: Path) -> None:
    number = doubles.github.add_issue(REPO, "add() subtracts", "", user="maint").number
    llm.script(Reply(PLAN, delay=120), PLAN, EDIT, model="openai/gpt-4o")
    env = app_env(tmp_path, doubles.github, llm, AI_FIX_EXECUTOR_ID="host-a")
    port, log = _free_port(), tmp_path / "ai-fix.log"
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    serve = start_ai_fix(args, tmp_path, env, log)
    wait_healthy(url, serve, log)
    jobs = jobs_of(tmp_path)
    try:
        assert _label(url, number).status_code == 202
        _wait("the slow Senior call", lambda: len(llm.requests) == 1, 120, log)
        during = _job(jobs, number)
        assert during is not None and during.state == "running" and _containers(during)
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        serve = start_ai_fix(args, tmp_path, env, log)  # the same executor id: DBOS recovers its pending job
        wait_healthy(url, serve, log)
        _wait("the recovered job", lambda: getattr(_job(jobs, number), "state", "") == "done", 180, log)
    finally:
        stop(serve)
        jobs.client.destroy()
    assert len(llm.requests) == 3  # the interrupted Senior call, then the attempt again from its start
    assert _writes(doubles.github, number) == (1, 1, 1)
    assert [r["content"] for r in doubles.github.reactions(REPO, issue=number)] == ["eyes"]
    assert _containers(during) == []


def test_cancel_during_a_slow_model_call_stops_the_job_and_its_container_within_10_s(
        doubles: Doubles, llm: LLMDouble, tmp_path: Path) -> None:
    number = doubles.github.add_issue(REPO, "add() subtracts", "", user="maint").number
    llm.script(Reply(PLAN, delay=120), model="openai/gpt-4o")
    env = app_env(tmp_path, doubles.github, llm)
    port, log = _free_port(), tmp_path / "ai-fix.log"
    url = f"http://127.0.0.1:{port}"
    serve = start_ai_fix(["serve", "--host", "127.0.0.1", "--port", str(port)], tmp_path, env, log)
    wait_healthy(url, serve, log)
    jobs = jobs_of(tmp_path)
    try:
        assert _label(url, number).status_code == 202
        _wait("the slow Senior call", lambda: len(llm.requests) == 1, 120, log)
        running = _job(jobs, number)
        assert running is not None and _containers(running)
        payload = load_payload("issue_comment", "created", repo=REPO, issue_number=number, comment_body="/cancel",
                               sender="maint", comment_user="maint")
        assert deliver(url + "/webhook", "issue_comment", payload, SECRET).status_code == 202
        took = _wait("the container to go", lambda: not _containers(running), 10, log)
        assert jobs.show(running.id).state == "cancelled"
        _wait("the reply to /cancel", lambda: len(doubles.github.comments(REPO, number)) == 2, 30, log)
        assert _writes(doubles.github, number)[0] == 0 and len(llm.requests) == 1
        assert "cancelled" in doubles.github.comments(REPO, number)[0]["body"].lower()

        # An operator resumes the cancelled job: it goes on from its last completed step, and opens the PR.
        llm.script(PLAN, EDIT, model="openai/gpt-4o")
        retry = subprocess.run([str(Path(sys.executable).parent / "ai-fix"), "jobs", "retry", running.id],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert retry.returncode == 0 and f"resumed {running.run_id}" in retry.stdout, retry.stderr[-3000:]
        _wait("the resumed job", lambda: jobs.show(running.id).state == "done", 120, log)
    finally:
        stop(serve)
        jobs.client.destroy()
    print(f"\n/cancel -> the job's container gone after {took:.1f} s")
    assert took < 10
    assert _writes(doubles.github, number) == (1, 2, 1)  # the progress comment and the reply to /cancel
    assert len(llm.requests) == 3


def test_a_dead_workers_job_is_recovered_by_another_with_jobs_recover(
        doubles: Doubles, llm: LLMDouble, tmp_path: Path, database: dict[str, str]) -> None:
    number = doubles.github.add_issue(REPO, "add() subtracts", "", user="maint").number
    llm.script(Reply(PLAN, delay=120), PLAN, EDIT, model="openai/gpt-4o")
    env = app_env(tmp_path, doubles.github, llm, **database)
    port, log = _free_port(), tmp_path / "ai-fix.log"
    url = f"http://127.0.0.1:{port}"
    receiver = start_ai_fix(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)], tmp_path, env, log)
    wait_healthy(url, receiver, log)
    jobs = jobs_of(tmp_path, database.get("AI_FIX_DATABASE_URL"))
    dead = start_ai_fix(["worker"], tmp_path, {**env, "AI_FIX_EXECUTOR_ID": "host-a"}, log)
    try:
        assert _label(url, number).status_code == 202
        _wait("the slow Senior call", lambda: len(llm.requests) == 1, 120, log)
        during = _job(jobs, number)
        assert during is not None and during.state == "running" and during.executor == "host-a"
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        recover = subprocess.run([str(Path(sys.executable).parent / "ai-fix"), "jobs", "recover", "--executor",
                                  "host-a", "--timeout", "180"], cwd=tmp_path,
                                 env={**env, "AI_FIX_EXECUTOR_ID": "host-b"}, capture_output=True, text=True,
                                 timeout=240)
        assert recover.returncode == 0, recover.stderr[-4000:]
        assert "recovering 1 job(s) of executor host-a" in recover.stdout
        after = _job(jobs, number)
        assert after is not None and after.state == "done", (after, recover.stderr[-4000:])
    finally:
        stop(receiver)
        jobs.client.destroy()
    assert after.executor == "host-b"
    assert len(llm.requests) == 3
    assert _writes(doubles.github, number) == (1, 1, 1)
    assert _containers(during) == []
