import re
from pathlib import Path

import pytest

from runner.errors import RepoConfigError
from runner.repo_config import RepoConfig, load, parse


def test_defaults_when_absent_or_empty(tmp_path: Path) -> None:
    assert load(tmp_path) == RepoConfig()
    assert parse("") == RepoConfig()


def test_full_config() -> None:
    config = parse("setup: pip install -e .\ntest: pytest -q\nmodels: {senior: opus}\npaths: {deny: ['vendor/**']}\n"
                   "attempts: 2\ndraft: true\n")
    assert config.setup == ["pip install -e ."]
    assert config.test == "pytest -q" and config.models.senior == "opus"
    assert config.paths.deny == ["vendor/**"] and config.attempts == 2 and config.draft


@pytest.mark.parametrize(("text", "message"), [
    ("tset: pytest\n", "`tset`: Extra inputs are not permitted"),
    ("attempts: 0\n", "`attempts`: Input should be greater than or equal to 1"),
    ("pattern: magic\n", "`pattern`: Input should be 'plan', 'review' or 'plan+review'"),
    ("test: [unclosed\n", "is not valid YAML"),
    ("- a\n- b\n", "must be a mapping of settings, not list"),
])
def test_invalid_configs_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(RepoConfigError, match=re.escape(message)):
        parse(text)
