"""bot.jobs on the engine's database: a delivery is durable and enqueued once; an issue's jobs are cancelled
together; what operators read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot import engine
from bot.jobs import RUN, Jobs
from bot.routing import JobKind, JobSpec
from bot.settings import Settings


def _spec(number: int = 1, kind: JobKind = "run") -> JobSpec:
    return JobSpec(kind=kind, owner="o", repo="r", installation_id=1, issue_number=number, sender="alice",
                   trigger="label")


@pytest.fixture
def jobs(database_url: str) -> Iterator[Jobs]:
    settings = Settings(database_url=database_url)
    engine.migrate(settings)
    jobs = Jobs(engine.client(settings))
    yield jobs
    jobs.client.destroy()


def test_a_delivery_is_enqueued_once_and_a_repeat_is_refused(jobs: Jobs) -> None:
    assert jobs.enqueue("guid-1", _spec())
    assert not jobs.enqueue("guid-1", _spec())
    [job] = jobs.all()
    assert (job.id, job.state, job.spec, job.run_id) == ("guid-1", "queued", _spec(), None)
    assert jobs.all(state="done") == []
    assert jobs.show("guid-1") == job
    with pytest.raises(KeyError):
        jobs.show("no-such-guid")


def test_cancelling_an_issue_cancels_its_runs_and_no_other(jobs: Jobs) -> None:
    for guid, number in (("a", 1), ("b", 1), ("c", 2)):
        jobs.client.enqueue({"workflow_name": RUN, "queue_name": engine.RUN_QUEUE, "workflow_id": f"{guid}.run",
                             "queue_partition_key": engine.issue_key("o", "r", number)}, {})
    assert sorted(jobs.cancel_issue("O", "r", 1)) == ["a.run", "b.run"]
    assert jobs.cancelled("a.run") and jobs.cancelled("b.run") and not jobs.cancelled("c.run")
    assert jobs.cancel_issue("o", "r", 1) == []


def test_an_operator_cancels_a_queued_job(jobs: Jobs) -> None:
    jobs.enqueue("guid-2", _spec(2))
    assert jobs.cancel("guid-2") == ["guid-2"]
    assert jobs.show("guid-2").state == "cancelled"
    assert [j.id for j in jobs.all(state="cancelled")] == ["guid-2"]


def test_operators_read_the_same_database(jobs: Jobs, database_url: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    jobs.enqueue("guid-3", _spec(3))
    monkeypatch.setenv("AI_FIX_DATABASE_URL", database_url)
    assert main(["jobs", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["state"], listed["spec"]["issue_number"]) == ("guid-3", "queued", 3)
    assert main(["jobs", "cancel", "guid-3"]) == 0
    assert main(["jobs", "list", "--state", "cancelled"]) == 0
    assert "guid-3" in capsys.readouterr().out
    assert main(["jobs", "show", "nope"]) == 1


def test_sqlite_is_left_in_write_ahead_log_mode(tmp_path: Path) -> None:
    """Each delivery is one commit before the webhook's answer: WAL syncs once per commit, not journal and file."""
    engine.migrate(Settings(data_dir=tmp_path))
    with closing(sqlite3.connect(tmp_path / "ai-fix.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL: a commit is on disk
