from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The jobs' database, on every engine the App supports: SQLite (embedded) and a real PostgreSQL
    (tests/pg.py, one server per session, a new empty database per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'ai-fix.db'}"
    else:
        yield request.getfixturevalue("postgres_database")
