"""The engine's settings: one database URL for SQLite and PostgreSQL, a stable executor id, a concurrency."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot import engine
from bot.settings import Settings, SettingsError


def test_the_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.system_database_url == f"sqlite:///{tmp_path / 'data' / 'ai-fix.db'}"
    assert engine.dbos_config(settings)["system_database_url"] == settings.system_database_url


def test_postgresql_is_accepted_and_anything_else_named_without_its_password() -> None:
    url = "postgresql://ai:secret@db.internal:5432/aifix"
    assert Settings(database_url=url).system_database_url == url
    with pytest.raises(SettingsError) as raised:
        _ = Settings(database_url="mysql://ai:secret@db.internal/aifix").system_database_url
    assert "secret" not in str(raised.value) and "db.internal/aifix" in str(raised.value)


def test_the_executor_id_defaults_to_the_host_name() -> None:
    assert Settings().executor_id == socket.gethostname()
    assert Settings(executor_id_override="host-a").executor_id == "host-a"


def test_the_worker_concurrency_comes_from_the_machine_unless_set() -> None:
    assert Settings().worker_concurrency() >= 1
    assert Settings(worker_concurrency_override=5).worker_concurrency() == 5
    with pytest.raises(ValueError):
        Settings(worker_concurrency_override=0)


def test_the_run_queue_runs_one_job_per_issue_and_as_many_as_the_limits_allow() -> None:
    assert engine.run_queue_limits(Settings(worker_concurrency_override=3)) == {
        "partition_concurrency": 1, "worker_concurrency": 3, "global_concurrency": None}
    assert engine.run_queue_limits(Settings(worker_concurrency_override=3, global_concurrency=10))[
        "global_concurrency"] == 10


def test_an_issue_is_one_partition_whatever_the_case() -> None:
    assert engine.issue_key("Acme", "Calc", 7) == engine.issue_key("acme", "calc", 7) == "acme/calc#7"
