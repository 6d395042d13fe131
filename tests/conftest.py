"""Fixtures shared by every test package: the doubles are plugins, loaded once here."""

pytest_plugins = ["tests.doubles.llm.fixtures", "tests.doubles.github.fixtures"]
