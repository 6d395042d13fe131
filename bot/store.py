"""Durable state in SQLite: deliveries seen, jobs and their lifecycle, per-issue memory.

A delivery and the job it creates are written in one transaction before the webhook is answered,
so a crash after the 202 loses nothing, and a redelivery (same GUID) finds the row and does nothing.

Job states: `new` (needs authorisation) -> `queued` -> `running` -> `done` | `failed` | `cancelled`;
or `rejected` (sender may not trigger) / `superseded` (a newer trigger for the same issue).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.routing import JobSpec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    guid TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    action TEXT,
    received_at REAL NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery TEXT NOT NULL REFERENCES deliveries(guid),
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    repo TEXT NOT NULL,
    issue_number INTEGER NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
CREATE INDEX IF NOT EXISTS jobs_issue ON jobs(owner, repo, issue_number);
CREATE TABLE IF NOT EXISTS issues (
    owner TEXT NOT NULL,
    repo TEXT NOT NULL,
    issue_number INTEGER NOT NULL,
    progress_comment_id INTEGER,
    pull_number INTEGER,
    PRIMARY KEY (owner, repo, issue_number)
);
"""

@dataclass(frozen=True)
class Job:
    id: int
    state: str
    spec: JobSpec
    runs: int
    cancel_requested: bool
    result: dict[str, Any] | None


@dataclass(frozen=True)
class Recorded:
    duplicate: bool
    job_id: int | None


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def migrate(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    def record(self, guid: str, event: str, action: str | None, spec: JobSpec | None, note: str) -> Recorded:
        """Store the delivery and its job atomically; a GUID seen before is a duplicate."""
        now = time.time()
        with self._transaction() as conn:
            try:
                conn.execute("INSERT INTO deliveries (guid, event, action, received_at, note) VALUES (?,?,?,?,?)",
                             (guid, event, action, now, note))
            except sqlite3.IntegrityError:
                return Recorded(duplicate=True, job_id=None)
            if spec is None:
                return Recorded(duplicate=False, job_id=None)
            cur = conn.execute(
                "INSERT INTO jobs (delivery, kind, owner, repo, issue_number, spec, state, created_at)"
                " VALUES (?,?,?,?,?,?, 'new', ?)",
                (guid, spec.kind, spec.owner, spec.repo, spec.issue_number, json.dumps(asdict(spec)), now))
            return Recorded(duplicate=False, job_id=cur.lastrowid)

    def claim(self, from_state: str, to_state: str, kinds: Sequence[str] | None = None) -> Job | None:
        """Atomically move the oldest job in `from_state` to `to_state` and return it."""
        kind_filter = f" AND kind IN ({','.join('?' * len(kinds))})" if kinds else ""
        with self._transaction() as conn:
            row = conn.execute(f"SELECT * FROM jobs WHERE state = ?{kind_filter} ORDER BY id LIMIT 1",
                               (from_state, *(kinds or ()))).fetchone()
            if row is None:
                return None
            started = ", started_at = ?, runs = runs + 1" if to_state == "running" else ""
            params: tuple[Any, ...] = (to_state, time.time(), row["id"]) if started else (to_state, row["id"])
            conn.execute(f"UPDATE jobs SET state = ?{started} WHERE id = ?", params)
        return self.job(int(row["id"]))

    def job(self, job_id: int) -> Job:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def jobs(self) -> list[Job]:
        with self._connect() as conn:
            return [_job(row) for row in conn.execute("SELECT * FROM jobs ORDER BY id")]

    def finish(self, job_id: int, state: str, result: dict[str, Any] | None = None) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE jobs SET state = ?, finished_at = ?, result = ? WHERE id = ?",
                         (state, time.time(), json.dumps(result) if result is not None else None, job_id))

    def supersede(self, spec: JobSpec, newer_id: int) -> list[int]:
        """Stop older active jobs for the same issue: queued ones at once, running ones at their next check."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT id, state FROM jobs WHERE owner = ? AND repo = ? AND issue_number = ? AND kind = 'run'"
                " AND id <> ? AND state IN ('new', 'checking', 'queued', 'running')",
                (spec.owner, spec.repo, spec.issue_number, newer_id)).fetchall()
            for row in rows:
                if row["state"] == "running":
                    conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (row["id"],))
                else:
                    conn.execute("UPDATE jobs SET state = 'superseded', finished_at = ? WHERE id = ?",
                                 (time.time(), row["id"]))
        return [int(row["id"]) for row in rows]

    def set_state(self, job_id: int, state: str, *, expect: str | None = None) -> bool:
        """Move a job to `state`; with `expect`, only from that state (another worker may have moved it)."""
        guard = " AND state = ?" if expect else ""
        with self._transaction() as conn:
            return conn.execute(f"UPDATE jobs SET state = ? WHERE id = ?{guard}",
                                (state, job_id, *([expect] if expect else []))).rowcount == 1

    def update_spec(self, job_id: int, spec: JobSpec) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE jobs SET spec = ?, issue_number = ? WHERE id = ?",
                         (json.dumps(asdict(spec)), spec.issue_number, job_id))

    def cancel_requested(self, job_id: int) -> bool:
        with self._connect() as conn:
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def requeue_interrupted(self, max_runs: int = 3) -> int:
        """After a crash: unfinished work resumes, except what was cancelled or already ran too often.

        Only a process that runs the worker may call this: a receiver alone would requeue the live
        jobs of a separate worker.
        """
        now = time.time()
        with self._transaction() as conn:
            conn.execute("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE state = 'running'"
                         " AND cancel_requested = 1", (now,))
            conn.execute("UPDATE jobs SET state = 'failed', finished_at = ? WHERE state = 'running' AND runs >= ?",
                         (now, max_runs))
            conn.execute("UPDATE jobs SET state = 'new' WHERE state = 'checking'")
            return conn.execute("UPDATE jobs SET state = 'queued' WHERE state = 'running'").rowcount

    def issue_memory(self, owner: str, repo: str, number: int) -> tuple[int | None, int | None]:
        with self._connect() as conn:
            row = conn.execute("SELECT progress_comment_id, pull_number FROM issues WHERE owner = ? AND repo = ?"
                               " AND issue_number = ?", (owner, repo, number)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def remember(self, owner: str, repo: str, number: int, *, progress_comment_id: int | None = None,
                 pull_number: int | None = None) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO issues (owner, repo, issue_number) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                         (owner, repo, number))
            if progress_comment_id is not None:
                conn.execute("UPDATE issues SET progress_comment_id = ? WHERE owner = ? AND repo = ? AND "
                             "issue_number = ?", (progress_comment_id, owner, repo, number))
            if pull_number is not None:
                conn.execute("UPDATE issues SET pull_number = ? WHERE owner = ? AND repo = ? AND issue_number = ?",
                             (pull_number, owner, repo, number))


def _job(row: sqlite3.Row) -> Job:
    return Job(id=int(row["id"]), state=str(row["state"]), spec=JobSpec(**json.loads(row["spec"])),
               runs=int(row["runs"]), cancel_requested=bool(row["cancel_requested"]),
               result=json.loads(row["result"]) if row["result"] else None)
