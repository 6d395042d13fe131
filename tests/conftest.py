"""Fixtures shared by every test package: the doubles are plugins, loaded once here."""

pytest_plugins = ["tests.doubles.llm.fixtures", "tests.doubles.github.fixtures"]
from tests.pg import postgres_database, postgres_server, postgres_url  # noqa: E402,F401  (a real PostgreSQL)
