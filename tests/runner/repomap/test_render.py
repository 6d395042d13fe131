"""Rendering: signatures in their scopes, within the budget as the caller counts tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.repomap import RepoMap, approx_tokens
from tests.runner.repomap.conftest import RepoFactory
from tests.runner.repomap.fixtures import HTTPLIB


def _big_repo(make_repo: RepoFactory) -> Path:
    files = dict(HTTPLIB)
    for n in range(120):
        methods = "".join(f"    def handle_{n}_{k}(self, request, timeout=None):\n        return request\n\n"
                          for k in range(8))
        files[f"netlib/handlers/h{n:03}.py"] = f"class Handler{n}:\n{methods}\ndef build_{n}(x):\n    return x\n"
    return make_repo(files)


def _words(text: str) -> int:  # another tokenizer: the budget follows whatever counter is given
    return len(text.split())


@pytest.mark.parametrize("budget", [256, 1024, 4096])
@pytest.mark.parametrize("counter", [approx_tokens, _words])
def test_the_map_fills_the_budget_within_ten_percent(make_repo: RepoFactory, budget: int, counter) -> None:  # type: ignore[no-untyped-def]
    repo_map = RepoMap(_big_repo(make_repo))
    text = repo_map.render(repo_map.rank("Retries ignore the timeout in fetch"), budget, counter)
    assert 0.9 * budget <= counter(text) <= budget


def test_a_small_repository_is_shown_whole(make_repo: RepoFactory) -> None:
    repo_map = RepoMap(make_repo(HTTPLIB))
    text = repo_map.render(repo_map.rank("merge_settings"), 100_000)
    for path in ("netlib/session.py", "netlib/util.py", "docs/usage.md"):
        assert f"{path}:" in text


def test_definitions_appear_inside_their_scopes(make_repo: RepoFactory) -> None:
    repo_map = RepoMap(make_repo(HTTPLIB))
    text = repo_map.render(repo_map.rank("`Session.merge_settings` drops None"), 400)
    lines = text.split("\n")
    end = next(i for i in range(1, len(lines)) if not lines[i].startswith(("│", "⋮")))
    first = "\n".join(lines[:end])  # the first file's block: its path, then its definitions
    assert first.startswith("netlib/session.py:\n")
    assert "│class Session:" in first
    assert "│    def merge_settings(self, request_settings, session_settings):" in first
    assert first.index("class Session") < first.index("def merge_settings")


def test_a_tiny_budget_still_names_the_best_file(make_repo: RepoFactory) -> None:
    repo_map = RepoMap(_big_repo(make_repo))
    text = repo_map.render(repo_map.rank("`Session.merge_settings` drops None"), 12)
    assert text.startswith("netlib/session.py:")
    assert approx_tokens(text) <= 12


def test_scopes_opened_on_one_line_show_that_line_once(make_repo: RepoFactory) -> None:
    root = make_repo({"src/geo.cpp": "namespace geo { struct Point { int norm() const; }; }\n"
                                     "int unrelated_helper() { return 0; }\n"})
    repo_map = RepoMap(root)
    text = repo_map.render(repo_map.rank("`Point::norm` overflows"), 1000)
    assert text.count("│namespace geo { struct Point { int norm() const; }; }") == 1
