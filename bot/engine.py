"""The durable-execution engine (DBOS Transact): one configuration for SQLite and PostgreSQL alike.

A worker process launches DBOS, which recovers the workflows its executor id left unfinished and then
consumes two queues:
- `ai-fix-deliveries`: one short workflow per delivery (authorise, then reply, cancel or enqueue a run);
  unpartitioned, so a `/cancel` or a reply never waits behind a job of many minutes;
- `ai-fix-runs`: the long jobs, partitioned by repository and issue with one running job per issue,
  at most `AI_FIX_WORKER_CONCURRENCY` of them per worker and `AI_FIX_GLOBAL_CONCURRENCY` in all.
A process that only receives (`serve --no-worker`) never launches DBOS: it enqueues through a `DBOSClient`.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from typing import Any

from dbos import DBOS, DBOSClient, DBOSConfig, run_dbos_database_migrations

from bot.settings import Settings

log = logging.getLogger("ai_fix.engine")
APP_NAME = "ai-fix"
APP_VERSION = "ai-fix-1"
"""Recovery only resumes workflows of the same application version: bump it when a workflow's steps change
in a way an interrupted workflow of the old version could not resume through."""
DELIVERY_QUEUE = "ai-fix-deliveries"
RUN_QUEUE = "ai-fix-runs"
DELIVERY_CONCURRENCY = 8


def dbos_config(settings: Settings) -> DBOSConfig:
    return {"name": APP_NAME, "system_database_url": settings.system_database_url,
            "executor_id": settings.executor_id, "application_version": APP_VERSION,
            "log_level": "WARNING"}


def migrate(settings: Settings) -> None:
    """Create or upgrade DBOS's tables (the App keeps none of its own beside them)."""
    settings.prepare_database_dir()
    run_dbos_database_migrations(settings.system_database_url)
    url = settings.system_database_url
    if url.startswith("sqlite:///"):
        # DBOS leaves SQLite in rollback-journal mode: every commit then syncs the journal and the database
        # (about 12 ms a delivery here). Write-ahead logging, a setting stored in the file that every later
        # connection uses, syncs once per commit and lets readers (`jobs list`, the queue pollers) run
        # beside the writer. Commits stay durable (synchronous=FULL, SQLite's default).
        try:
            with closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:  # another process holds the file: it set the mode, or will
            log.warning("could not switch %s to write-ahead logging: %s", url, exc)


def launch(settings: Settings) -> None:
    """Start the engine in this process: recovery of this executor's pending workflows, then the queues."""
    import bot.workflow  # noqa: F401  (registers the workflows before launch)

    settings.prepare_database_dir()
    DBOS(config=dbos_config(settings))
    DBOS.launch()
    poll = settings.worker_poll_s
    DBOS.register_queue(DELIVERY_QUEUE, worker_concurrency=DELIVERY_CONCURRENCY, polling_interval_sec=poll,
                        on_conflict="always_update")
    limits = run_queue_limits(settings)
    DBOS.register_queue(RUN_QUEUE, partition_concurrency=limits["partition_concurrency"],
                        worker_concurrency=limits["worker_concurrency"],
                        global_concurrency=limits["global_concurrency"], polling_interval_sec=poll,
                        on_conflict="always_update")
    log.info("engine launched: executor %s, %d concurrent job(s) on this worker", settings.executor_id,
             settings.worker_concurrency())


def run_queue_limits(settings: Settings) -> dict[str, int | None]:
    """One running job per issue (the partition), so many per worker, so many in all."""
    return {"partition_concurrency": 1, "worker_concurrency": settings.worker_concurrency(),
            "global_concurrency": settings.global_concurrency}


def shutdown() -> None:
    DBOS.destroy(workflow_completion_timeout_sec=0)


def client(settings: Settings) -> DBOSClient:
    """Talks to the engine's database only: enqueue, list, cancel, resume; runs no workflow."""
    return DBOSClient(system_database_url=settings.system_database_url, application_name=APP_NAME)


def issue_key(owner: str, repo: str, number: int) -> str:
    """The partition of the run queue, and the attribute that finds an issue's workflows."""
    return f"{owner}/{repo}#{number}".lower()


def attributes(kind: str, owner: str, repo: str, number: int) -> dict[str, Any]:
    return {"kind": kind, "issue": issue_key(owner, repo, number)}
