"""Tags are cached by content: a changed blob is reparsed, an unchanged one never is."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.repomap import RepoMap, TagCache, index
from tests.runner.repomap.conftest import RepoFactory, commit_all
from tests.runner.repomap.fixtures import HTTPLIB


def _parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = index._parse_batch

    def spy(root: str, paths: list[str]):  # type: ignore[no-untyped-def]
        seen.extend(paths)
        return real(root, paths)

    monkeypatch.setattr(index, "_parse_batch", spy)
    return seen


def test_a_new_commit_reparses_only_changed_blobs(make_repo: RepoFactory, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(HTTPLIB)
    cache = TagCache(tmp_path / "tags.sqlite3")
    parsed = _parsed(monkeypatch)
    RepoMap(root, cache).rank("timeout")
    assert "netlib/session.py" in parsed
    parsed.clear()
    (root / "netlib/session.py").write_text(HTTPLIB["netlib/session.py"] + "\n\ndef close_all():\n    pass\n")
    commit_all(root)
    ranking = RepoMap(root, cache).rank("close_all leaks sockets")
    assert parsed == ["netlib/session.py"]
    assert ranking.paths[0] == "netlib/session.py"


def test_the_cache_survives_the_process_and_ignores_paths(make_repo: RepoFactory, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "tags.sqlite3"
    RepoMap(make_repo(HTTPLIB), TagCache(db)).rank("x")
    parsed = _parsed(monkeypatch)
    copy = dict(HTTPLIB)
    copy["netlib/renamed.py"] = copy.pop("netlib/util.py")  # same content elsewhere: same blob
    RepoMap(make_repo(copy), TagCache(db)).rank("x")  # a fresh TagCache: only SQLite is shared
    assert parsed == []


def test_uncommitted_edits_are_seen(make_repo: RepoFactory, tmp_path: Path) -> None:
    root = make_repo(HTTPLIB)
    cache = TagCache(tmp_path / "tags.sqlite3")
    RepoMap(root, cache).rank("x")
    (root / "netlib/headers.py").write_text("def parse_trailers(block):\n    return block\n")
    (root / "netlib/new.py").write_text("def brand_new_helper():\n    pass\n")
    ranking = RepoMap(root, cache).rank("`parse_trailers` and `brand_new_helper`")
    assert set(ranking.paths[:2]) == {"netlib/headers.py", "netlib/new.py"}
    entry = next(e for e in RepoMap(root, cache).snapshot.entries if e.path == "netlib/headers.py")
    assert entry.tags is not None and [d.name for d in entry.tags.defs] == ["parse_trailers"]


def test_a_second_issue_on_the_same_tree_reuses_the_snapshot(make_repo: RepoFactory) -> None:
    root = make_repo(HTTPLIB)
    cache = TagCache(None)
    first = RepoMap(root, cache)
    first.rank("a")
    assert RepoMap(root, cache).snapshot is first.snapshot
    (root / "netlib/util.py").write_text("X = 1\n")
    assert RepoMap(root, cache).snapshot is not first.snapshot


def test_a_fresh_cache_on_the_same_file_reads_the_stored_snapshot(
        make_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(HTTPLIB)
    db = tmp_path / "tags.sqlite3"
    expected = RepoMap(root, TagCache(db)).rank("timeout in the session").paths
    loads: list[str] = []
    real_load = index.load

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        loads.append("load")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(index, "load", spy)
    again = RepoMap(root, TagCache(db))  # a fresh TagCache: only SQLite is shared
    assert again.rank("timeout in the session").paths == expected
    assert loads == []  # the stored snapshot, not the files' tags
    (root / "netlib/util.py").write_text("X = 1\n")  # content changed: a new fingerprint, a rebuild
    RepoMap(root, TagCache(db)).rank("x")
    assert loads == ["load"]
