"""RepoMap: one work tree's files, ranked for any number of issues and rendered within a budget."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from runner.repomap import index, issue_text
from runner.repomap.cache import TagCache
from runner.repomap.render import approx_tokens, render_map

if TYPE_CHECKING:
    from runner.repomap.rank import Ranking, Snapshot


def _import_ranking() -> None:
    """The ranking code (numpy and all) is imported on first need, so a cold map imports it while
    the parse helpers work rather than before they start."""
    importlib.import_module("runner.repomap.rank")


def _is_snapshot(value: object) -> TypeGuard[Snapshot]:
    from runner.repomap.rank import Snapshot

    return isinstance(value, Snapshot)


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
            known = self.cache.snapshot(listed.fingerprint)  # unpickling it imports the ranking code
            if known is not None and _is_snapshot(known):
                self._snapshot = known
            else:
                entries = index.load(self.root, self.cache, self.workers, listed, meanwhile=_import_ranking)
                from runner.repomap.rank import Snapshot

                self._snapshot = Snapshot(entries).prepared()
                self.cache.keep_snapshot(listed.fingerprint, self._snapshot)
        return self._snapshot

    def refresh(self) -> None:
        """Forget the tree as read; the next call reads it again (unchanged blobs come from the cache)."""
        self._snapshot = None

    def rank(self, issue: str, chosen: Sequence[str] = ()) -> Ranking:
        """Files (best first) and, per file, its most relevant definitions, for the issue text.

        `chosen` are files already picked (e.g. by the Senior): they come first, and their
        neighbours in the reference graph rise."""
        from runner.repomap.rank import rank_files

        return rank_files(self.snapshot, issue_text.extract(issue), chosen)

    def render(self, ranking: Ranking, tokens: int, count_tokens: Callable[[str], int] = approx_tokens) -> str:
        """The map as text for a model: ranked files with the signatures of their most relevant
        definitions in their scopes, at most `tokens` as counted by `count_tokens`, and (when
        the repository has enough to show) no less than 90% of it."""
        return render_map(self.snapshot, ranking, tokens, count_tokens)
