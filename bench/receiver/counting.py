"""Read back from the App's database how many jobs each delivery made: the proof nothing was lost or doubled.

Counting is pluggable because where a job lives depends on the build:
- `jobs-table`: today's hand-written queue (bot/store.py), one `jobs` row per job, `jobs.delivery` = GUID;
- `dbos-workflows`: DBOS Transact, one `workflow_status` row per workflow (schema `dbos` on PostgreSQL), whose
  `workflow_uuid` is the delivery GUID (or holds it: `--workflow-id` gives the pattern, `{guid}` by default).
`auto` picks whichever of the two tables the database has (the jobs table first).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class JobCounter(Protocol):
    description: str

    def jobs_per_delivery(self, guids: Collection[str]) -> Counter[str]:
        """How many jobs each of these deliveries made (absent: none)."""
        ...


@contextmanager
def _cursor(database_url: str) -> Iterator[Any]:
    if database_url.startswith("sqlite:///"):
        conn: Any = sqlite3.connect(f"file:{database_url.removeprefix('sqlite:///')}?mode=ro", uri=True, timeout=30)
    elif database_url.startswith(("postgresql://", "postgres://")):
        import psycopg  # only a test dependency: needed for the PostgreSQL rows only

        conn = psycopg.connect(database_url)
    else:
        raise ValueError(f"cannot count in {database_url.split('@')[-1]!r}: sqlite:/// or postgresql:// only")
    try:
        yield conn.cursor()
    finally:
        conn.close()


def _rows(database_url: str, query: str) -> list[tuple[Any, ...]]:
    with _cursor(database_url) as cur:
        cur.execute(query)
        return list(cur.fetchall())


def _tally(ids: Iterable[object], pattern: re.Pattern[str], guids: Collection[str]) -> Counter[str]:
    wanted = set(guids)
    found: Counter[str] = Counter()
    for ident in ids:
        match = pattern.fullmatch(str(ident))
        if match and match.group("guid") in wanted:
            found[match.group("guid")] += 1
    return found


@dataclass
class JobsTable:
    database_url: str
    description: str = "jobs.delivery (bot/store.py's queue)"

    def jobs_per_delivery(self, guids: Collection[str]) -> Counter[str]:
        rows = _rows(self.database_url, "SELECT delivery FROM jobs")
        return _tally((row[0] for row in rows), re.compile(f"(?P<guid>{_GUID})"), guids)


@dataclass
class DBOSWorkflows:
    database_url: str
    workflow_id: str = "{guid}"
    description: str = "DBOS workflow_status.workflow_uuid"

    def jobs_per_delivery(self, guids: Collection[str]) -> Counter[str]:
        table = "workflow_status" if self.database_url.startswith("sqlite") else "dbos.workflow_status"
        rows = _rows(self.database_url, f"SELECT workflow_uuid FROM {table}")
        before, _, after = self.workflow_id.partition("{guid}")
        pattern = re.compile(re.escape(before) + f"(?P<guid>{_GUID})" + re.escape(after))
        return _tally((row[0] for row in rows), pattern, guids)


def _tables(database_url: str) -> set[str]:
    if database_url.startswith("sqlite"):
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        query = ("SELECT CASE WHEN table_schema = 'public' THEN table_name ELSE table_schema || '.' || table_name END "
                 "FROM information_schema.tables")
    return {str(row[0]) for row in _rows(database_url, query)}


def counter(kind: str, database_url: str, workflow_id: str = "{guid}") -> JobCounter:
    """`jobs-table`, `dbos-workflows` or `auto` (decided by the tables the database holds now)."""
    if kind == "auto":
        tables = _tables(database_url)
        if "jobs" in tables:
            kind = "jobs-table"
        elif tables & {"workflow_status", "dbos.workflow_status"}:
            kind = "dbos-workflows"
        else:
            raise LookupError(f"no jobs or workflow_status table in the database (tables: {sorted(tables)}): "
                              "pass --count")
    if kind == "jobs-table":
        return JobsTable(database_url)
    if kind == "dbos-workflows":
        return DBOSWorkflows(database_url, workflow_id)
    raise ValueError(f"unknown counter {kind!r}")
