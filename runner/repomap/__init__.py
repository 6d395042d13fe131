"""The repo map: rank a repository's files and symbols for an issue, render them within a budget.

    cache = TagCache(Path("~/.cache/ai-fix/tags.sqlite3").expanduser())
    repo_map = RepoMap(Path("checkout"), cache)
    ranking = repo_map.rank(issue_text)                 # best first, with reasons
    text = repo_map.render(ranking, 2048, count_tokens)  # within 2048 tokens (as counted)

A RepoMap reads the work tree once (tags come from the cache by blob id; only new blobs are
parsed) and serves any number of issues; call `refresh()` after the tree changes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.repomap.cache import TagCache
    from runner.repomap.languages import Kind
    from runner.repomap.rank import RankedFile, Ranking
    from runner.repomap.render import approx_tokens
    from runner.repomap.repo_map import RepoMap

__all__ = ["Kind", "RankedFile", "Ranking", "RepoMap", "TagCache", "approx_tokens"]
_HOME = {"Kind": "languages", "RankedFile": "rank", "Ranking": "rank", "RepoMap": "repo_map", "TagCache": "cache",
         "approx_tokens": "render"}


def __getattr__(name: str) -> Any:
    """Exports load on first use: the parse helper imports `runner.repomap.index` alone and so starts
    without numpy and the ranking code (a quarter of a second of every cold map on two cores)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"runner.repomap.{home}"), name)
