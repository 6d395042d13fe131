"""pytest fixtures for the GitHub double.

Why a teardown assertion: a violation means the App sent something GitHub's description forbids (or the double
answered something GitHub never would); either way the test's green result would not carry over to real GitHub.

Use from a conftest.py::

    from tests.doubles.github.fixtures import github_double, github_double_module  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import GitHubDouble


def assert_no_violations(double: GitHubDouble) -> None:
    """Fail with every recorded violation listed."""
    found = double.violations
    if found:
        lines = "\n".join(f"- [{v.kind}] {v.method} {v.path}: {v.message}" for v in found)
        pytest.fail(f"GitHub double recorded {len(found)} OpenAPI violation(s):\n{lines}", pytrace=False)


def _checked_double() -> Iterator[GitHubDouble]:
    double = GitHubDouble().start()
    try:
        yield double
        assert_no_violations(double)
    finally:
        double.stop()


@pytest.fixture
def github_double() -> Iterator[GitHubDouble]:
    """A fresh, started double per test; fails the test at teardown if any violation was recorded."""
    yield from _checked_double()


@pytest.fixture(scope="module")
def github_double_module() -> Iterator[GitHubDouble]:
    """One double shared by a module's tests (state accumulates); checks violations once, at module teardown.

    The spec is cached per process anyway, so this only saves server start-up (~50 ms) and git set-up.
    """
    yield from _checked_double()
