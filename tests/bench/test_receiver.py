"""bench/receiver's parts: the requests it sends are signed as GitHub signs them; the counts it reads back are right."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bench.receiver.counting import counter
from bench.receiver.load import Template, plan
from bot.signature import verify
from tests.doubles.webhooks import load_payload


def test_a_prepared_request_carries_its_guid_and_a_valid_signature() -> None:
    payload = load_payload("issues", "labeled", repo="acme/bench", issue_number=3, label="ai-fix", sender="maint")
    guid = str(uuid.uuid4())
    raw = Template.build("127.0.0.1:9", "issues", payload, "s3cret").request(guid)
    head, body = raw.split(b"\r\n\r\n", 1)
    fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert head.startswith(b"POST /webhook HTTP/1.1\r\n")
    assert fields["X-GitHub-Delivery"] == guid and fields["X-GitHub-Event"] == "issues"
    assert int(fields["Content-Length"]) == len(body)
    assert verify("s3cret", body, fields["X-Hub-Signature-256"])


def test_the_plan_keeps_the_rate_and_repeats_only_earlier_guids() -> None:
    the_plan = plan(rate=200, clients=20, seconds=5, templates=4, repeat_share=0.05, seed=1)
    assert the_plan.deliveries == 1000
    for sends in the_plan.clients:
        dues = [due for due, _, _ in sends]
        assert dues == sorted(dues) and dues[-1] - dues[0] == pytest.approx(4.9)
    sent: list[tuple[int, str]] = [(template, guid) for sends in the_plan.clients for _, template, guid in sends]
    repeats = len(sent) - len({guid for _, guid in sent})
    assert 20 <= repeats <= 80  # about 5% of 1000
    assert len(set(sent)) == len({guid for _, guid in sent})  # a redelivery carries the same body as the first


GUIDS = [str(uuid.uuid4()) for _ in range(3)]


def _fill(run: Callable[[str], object], workflows: bool, schema: str = "") -> None:
    if workflows:
        run(f"CREATE TABLE {schema}workflow_status (workflow_uuid TEXT PRIMARY KEY, name TEXT)")
        for ident in (f"delivery-{GUIDS[0]}", f"delivery-{GUIDS[1]}", f"delivery-{GUIDS[1]}-child", "other"):
            run(f"INSERT INTO {schema}workflow_status VALUES ('{ident}', 'job')")
    else:
        run("CREATE TABLE jobs (id INTEGER PRIMARY KEY, delivery TEXT NOT NULL)")
        for n, guid in enumerate([GUIDS[0], GUIDS[1], GUIDS[1]]):
            run(f"INSERT INTO jobs VALUES ({n}, '{guid}')")


@pytest.mark.parametrize("workflows", [False, True], ids=["jobs-table", "dbos-workflows"])
def test_counting_on_sqlite(tmp_path: Path, workflows: bool) -> None:
    path = tmp_path / "ai-fix.db"
    with sqlite3.connect(path) as conn:
        _fill(conn.execute, workflows)
    found = counter("auto", f"sqlite:///{path}", "delivery-{guid}").jobs_per_delivery(GUIDS)
    assert dict(found) == ({GUIDS[0]: 1, GUIDS[1]: 1} if workflows else {GUIDS[0]: 1, GUIDS[1]: 2})


@pytest.mark.parametrize("workflows", [False, True], ids=["jobs-table", "dbos-workflows"])
def test_counting_on_postgresql(postgres_database: str, workflows: bool) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        if workflows:
            conn.execute("CREATE SCHEMA dbos")
        _fill(conn.execute, workflows, "dbos." if workflows else "")
    count = counter("auto", postgres_database, "delivery-{guid}")
    assert count.description.startswith("DBOS" if workflows else "jobs")
    found = count.jobs_per_delivery(GUIDS)
    assert dict(found) == ({GUIDS[0]: 1, GUIDS[1]: 1} if workflows else {GUIDS[0]: 1, GUIDS[1]: 2})


def test_counting_without_a_known_table_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(LookupError, match="--count"):
        counter("auto", f"sqlite:///{path}")
