"""pytest fixture for the LLM double.

Make it available with `from tests.doubles.llm.fixtures import llm_double` in a test module, or
`pytest_plugins = ["tests.doubles.llm.fixtures"]` in the root `tests/conftest.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import LLMDouble


@pytest.fixture
def llm_double() -> Iterator[LLMDouble]:
    """A started double that fails the test at teardown on unscripted requests or unconsumed replies.

    Opt out inside the test with `llm_double.allow_unscripted = True` (the test provokes the
    double's 500 on purpose) or `llm_double.allow_leftovers = True` (the code under test may stop
    before using every scripted reply). A marker is not used because markers must be registered in
    pyproject.toml under --strict-markers.
    """
    double = LLMDouble()
    double.start()
    try:
        yield double
    finally:
        double.stop()
    found = double.problems()
    if found:
        pytest.fail("\n  ".join(["LLM double problems at teardown:", *found]), pytrace=False)
