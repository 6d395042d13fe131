"""RepoMap: one work tree's files, ranked for any number of issues and rendered within a budget."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off while a snapshot is built or an issue ranked.

    Both allocate hundreds of thousands of small containers (tags, word counts, postings) that
    live on, and every few thousand allocations the collector walks the whole heap: in a worker
    that has already imported its web and LLM libraries (or a benchmark holding its results),
    that walk cost a third of a cold map (0.63 s -> 0.84 s on pylint with 3 million live tuples).
    Nothing made here is cyclic garbage, so nothing is lost; the collector runs again after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
            with _gc_paused():
                self._snapshot = self._read_snapshot()
        return self._snapshot

    def _read_snapshot(self) -> Snapshot:
        listed = index.listing(self.root)
        known = self.cache.snapshot(listed.fingerprint)  # unpickling it imports the ranking code
        if known is not None and _is_snapshot(known):
            return known
        entries = index.load(self.root, self.cache, self.workers, listed, meanwhile=_import_ranking)
        from runner.repomap.rank import Snapshot

        snapshot = Snapshot(entries).prepared()
        self.cache.keep_snapshot(listed.fingerprint, snapshot)
        return snapshot

    def refresh(self) -> None:
        """Forget the tree as read; the next call reads it again (unchanged blobs come from the cache)."""
        self._snapshot = None

    def rank(self, issue: str, chosen: Sequence[str] = ()) -> Ranking:
        """Files (best first) and, per file, its most relevant definitions, for the issue text.

        `chosen` are files already picked (e.g. by the Senior): they come first, and their
        neighbours in the reference graph rise."""
        from runner.repomap.rank import rank_files

        snapshot = self.snapshot
        with _gc_paused():
            return rank_files(snapshot, issue_text.extract(issue), chosen)

    def render(self, ranking: Ranking, tokens: int, count_tokens: Callable[[str], int] = approx_tokens) -> str:
        """The map as text for a model: ranked files with the signatures of their most relevant
        definitions in their scopes, at most `tokens` as counted by `count_tokens`, and (when
        the repository has enough to show) no less than 90% of it."""
        return render_map(self.snapshot, ranking, tokens, count_tokens)
