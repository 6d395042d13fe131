"""The repo map: rank a repository's files and symbols for an issue, render them within a budget.

    cache = TagCache(Path("~/.cache/ai-fix/tags.sqlite3").expanduser())
    repo_map = RepoMap(Path("checkout"), cache)
    ranking = repo_map.rank(issue_text)                 # best first, with reasons
    text = repo_map.render(ranking, 2048, count_tokens)  # within 2048 tokens (as counted)

A RepoMap reads the work tree once (tags come from the cache by blob id; only new blobs are
parsed) and serves any number of issues; call `refresh()` after the tree changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from runner.repomap import index, issue_text
from runner.repomap.cache import TagCache
from runner.repomap.languages import Kind
from runner.repomap.rank import RankedFile, Ranking, Snapshot, rank_files
from runner.repomap.render import approx_tokens, render_map

__all__ = ["Kind", "RankedFile", "Ranking", "RepoMap", "TagCache", "approx_tokens"]


class RepoMap:
    def __init__(self, root: Path, cache: TagCache | None = None, *, workers: int | None = None) -> None:
        self.root = Path(root)
        self.cache = cache if cache is not None else TagCache(None)
        self.workers = workers
        self._snapshot: Snapshot | None = None

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            listed = index.listing(self.root)
            known = self.cache.snapshot(listed.fingerprint)
            if isinstance(known, Snapshot):
                self._snapshot = known
            else:
                self._snapshot = Snapshot(index.load(self.root, self.cache, self.workers, listed)).prepared()
                self.cache.keep_snapshot(listed.fingerprint, self._snapshot)
        return self._snapshot

    def refresh(self) -> None:
        """Forget the tree as read; the next call reads it again (unchanged blobs come from the cache)."""
        self._snapshot = None

    def rank(self, issue: str, chosen: Sequence[str] = ()) -> Ranking:
        """Files (best first) and, per file, its most relevant definitions, for the issue text.

        `chosen` are files already picked (e.g. by the Senior): they come first, and their
        neighbours in the reference graph rise."""
        return rank_files(self.snapshot, issue_text.extract(issue), chosen)

    def render(self, ranking: Ranking, tokens: int, count_tokens: Callable[[str], int] = approx_tokens) -> str:
        """The map as text for a model: ranked files with the signatures of their most relevant
        definitions in their scopes, at most `tokens` as counted by `count_tokens`, and (when
        the repository has enough to show) no less than 90% of it."""
        return render_map(self.snapshot, ranking, tokens, count_tokens)
