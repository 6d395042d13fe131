"""The suite's PostgreSQL (tests/pg.py) is a real server: tables, concurrent sessions, gone afterwards."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.pg import PostgresMissing, running_postgres, server_bin_dir


def test_the_session_server_takes_tables_and_concurrent_connections(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    assert parts.scheme == "postgresql" and parts.hostname == "127.0.0.1"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE deliveries (guid TEXT PRIMARY KEY, event TEXT NOT NULL)")
        conn.execute("CREATE TABLE jobs (id SERIAL PRIMARY KEY, delivery TEXT NOT NULL REFERENCES deliveries(guid))")
        user = conn.execute("SELECT current_user").fetchone()
        assert user == ("ai_fix",)
        fsync = conn.execute("SHOW fsync").fetchone()
        assert fsync == ("off",)

    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            with psycopg.connect(postgres_url) as conn:
                for i in range(25):
                    guid = f"w{worker}-{i}"
                    with conn.transaction():
                        conn.execute("INSERT INTO deliveries VALUES (%s, 'issues')", (guid,))
                        conn.execute("INSERT INTO jobs (delivery) VALUES (%s)", (guid,))
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with psycopg.connect(postgres_url) as conn:
        counts = conn.execute("SELECT count(*), count(DISTINCT delivery) FROM jobs").fetchone()
        backends = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()
    assert counts == (200, 200)
    assert backends == (1,)  # the eight sessions really were separate and are closed


def test_each_test_database_is_separate(postgres_database: str, postgres_url: str) -> None:
    assert postgres_database != postgres_url
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        conn.execute("CREATE TABLE only_here (x INT)")
    assert tables == (0,)
    with psycopg.connect(postgres_url) as conn:
        here = conn.execute("SELECT to_regclass('public.only_here')").fetchone()
    assert here == (None,)


def test_the_server_runs_unprivileged_and_is_gone_after_the_block() -> None:
    started = time.perf_counter()
    with running_postgres() as url:
        startup_s = time.perf_counter() - started
        with psycopg.connect(url) as conn:
            data_dir = Path(str(conn.execute("SHOW data_directory").fetchone()[0]))  # type: ignore[index]
            pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        owner = data_dir.stat().st_uid
        assert data_dir.is_dir()
    if os.geteuid() == 0:
        assert owner != 0, "PostgreSQL ran as root"
    print(f"PostgreSQL start-up (initdb, start, createdb): {startup_s:.2f} s")
    assert startup_s < 60
    assert not data_dir.exists() and not data_dir.parent.exists()
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


def test_it_stops_and_cleans_up_when_the_block_fails() -> None:
    seen: dict[str, str] = {}
    with pytest.raises(RuntimeError, match="inside"), running_postgres() as url:
        with psycopg.connect(url) as conn:
            seen["data_dir"] = str(conn.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
        seen["url"] = url
        raise RuntimeError("a test failed inside")
    assert not Path(seen["data_dir"]).parent.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(seen["url"], connect_timeout=2)


def test_without_postgresql_it_fails_naming_the_set_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresMissing, match=r"\./run setup"):
        server_bin_dir(search=tmp_path)
