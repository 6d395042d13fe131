from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The jobs' database, on every engine the App supports.

    PostgreSQL: tests/pg.py's postgres_url joins this parametrisation when it lands."""
    assert request.param == "sqlite"
    yield f"sqlite:///{tmp_path / 'db' / 'ai-fix.db'}"
