"""Tags are cached by content: a changed blob is reparsed, an unchanged one never is."""

from __future__ import annotations

import subprocess
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


def test_a_process_that_exits_right_after_its_map_has_stored_it(make_repo: RepoFactory, tmp_path: Path) -> None:
    # Writes go to SQLite on a writer thread; a short-lived process (`ai-fix map`) must still store them.
    import subprocess
    import sys

    root = make_repo(HTTPLIB)
    db = tmp_path / "tags.sqlite3"
    script = ("import sys; from pathlib import Path; from runner.repomap import RepoMap, TagCache; "
              "m = RepoMap(Path(sys.argv[1]), TagCache(Path(sys.argv[2]))); print(m.rank('timeout').paths[0])")
    out = subprocess.run([sys.executable, "-c", script, str(root), str(db)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip()
    cache = TagCache(db)
    listed = index.listing(root)
    assert len(cache) == len(listed.wanted) > 0  # every ranked file's tags
    assert cache.snapshot(listed.fingerprint) is not None


def test_a_cache_that_cannot_be_written_costs_a_miss_not_the_map(make_repo: RepoFactory, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    root = make_repo(HTTPLIB)
    db = tmp_path / "tags.sqlite3"
    cache = TagCache(db)

    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "_write_tags", full)
    monkeypatch.setattr(cache, "_write_snapshot", full)
    expected = RepoMap(root, TagCache(None)).rank("timeout in the session").paths
    assert RepoMap(root, cache).rank("timeout in the session").paths == expected
    cache.flush()
    assert "a write failed" in caplog.text
    monkeypatch.undo()
    parsed = _parsed(monkeypatch)
    assert RepoMap(root, TagCache(db)).rank("timeout in the session").paths == expected  # nothing was stored
    assert sorted(parsed) == sorted(index.listing(root).wanted)


def test_a_new_cache_on_the_same_file_waits_for_the_pending_writes(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    first = TagCache(tmp_path / "tags.sqlite3")
    real = first._write_tags

    def slow(records: dict[str, tuple[object, ...]]) -> None:
        time.sleep(0.3)
        real(records)

    monkeypatch.setattr(first, "_write_tags", slow)
    first.put_many({"k1": ("code", None), "k2": ("code", None)})
    (tmp_path / "sub").mkdir()
    second = TagCache(tmp_path / "sub" / ".." / "tags.sqlite3")  # the same file, spelled differently
    assert second.get_many(["k1", "k2"]) == {"k1": ("code", None), "k2": ("code", None)}


def test_files_that_checkout_converts_are_found_in_the_cache(make_repo: RepoFactory, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # With eol=crlf the bytes on disk differ from the blob git stores: the lookup key is the blob's id.
    root = make_repo({**HTTPLIB, ".gitattributes": "*.py text eol=crlf\n"})
    for path in HTTPLIB:
        (root / path).unlink()
    subprocess.run(["git", "-C", str(root), "checkout", "--", "."], check=True)
    assert b"\r\n" in (root / "netlib/session.py").read_bytes()
    cache = TagCache(tmp_path / "tags.sqlite3")
    RepoMap(root, cache).rank("x")
    parsed = _parsed(monkeypatch)
    (root / "netlib/extra.py").write_text("def extra():\n    pass\n")  # a new tree, so no stored snapshot
    RepoMap(root, TagCache(tmp_path / "tags.sqlite3")).rank("timeout")  # a fresh cache: rows from SQLite
    assert parsed == ["netlib/extra.py"]


def test_an_unusable_cache_file_leaves_the_cache_in_memory(make_repo: RepoFactory, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "tags.sqlite3").mkdir()  # a directory where the database should be
    (tmp_path / "garbage.sqlite3").write_bytes(b"not a database" * 100)
    root = make_repo(HTTPLIB)
    expected = RepoMap(root, TagCache(None)).rank("timeout in the session").paths
    for name in ("tags.sqlite3", "garbage.sqlite3"):
        cache = TagCache(tmp_path / name)
        assert RepoMap(root, cache).rank("timeout in the session").paths == expected
        assert len(cache) > 0  # kept in memory
    assert caplog.text.count("caching in memory only") == 2


def test_a_damaged_row_is_a_miss(make_repo: RepoFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    root = make_repo(HTTPLIB)
    db = tmp_path / "tags.sqlite3"
    cache = TagCache(db)
    expected = RepoMap(root, cache).rank("timeout in the session").paths
    cache.close()
    key = index.listing(root).wanted["netlib/session.py"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE tags SET value = ? WHERE key = ?", (b"\x00damaged", key))
        conn.execute("DELETE FROM snapshots")
    parsed = _parsed(monkeypatch)
    assert RepoMap(root, TagCache(db)).rank("timeout in the session").paths == expected
    assert parsed == ["netlib/session.py"]  # parsed again; every other file came from its row
