"""Disk use of the workspace: least-recently-used mirrors go first, mirrors in use never."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from runner.workspace import Workspace, _disk_usage


def make_origin(root: Path, name: str, size: int) -> str:
    src = root / f"{name}-src"
    src.mkdir(parents=True)
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, capture_output=True)
    (src / "blob.bin").write_bytes(os.urandom(size))  # incompressible, so sizes are predictable
    subprocess.run([*git, "add", "-A"], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True, capture_output=True)
    return str(src)


def age(mirror: Path, seconds: float) -> None:
    """Pretend the mirror was last fetched or checked out ``seconds`` ago."""
    when = time.time() - seconds
    for name in ("FETCH_HEAD", "worktrees", "HEAD"):
        if (mirror / name).exists():
            os.utime(mirror / name, (when, when))


def test_least_recently_used_mirrors_are_evicted_down_to_the_budget(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    mirrors = {name: ws.fetch(make_origin(tmp_path, name, 300_000), {}) for name in ("old", "older", "busy", "new")}
    age(mirrors["older"], 7200)
    age(mirrors["old"], 3600)
    age(mirrors["new"], 60)  # used a minute ago: a job may be between fetch and checkout
    tree = ws.checkout(mirrors["busy"], "main")  # a job is running on this one...
    age(mirrors["busy"], 9000)  # ...however long ago it started
    one = _disk_usage(mirrors["old"])

    result = ws.evict_mirrors(budget_bytes=int(2.5 * one))

    assert result.removed == (mirrors["older"], mirrors["old"])
    assert not mirrors["older"].exists() and not mirrors["old"].exists()
    assert mirrors["busy"].exists() and mirrors["new"].exists()
    assert result.freed_bytes >= 2 * 300_000 and result.kept_bytes <= 2.5 * one
    assert not list((tmp_path / "ws" / "mirrors").glob(".evicting-*"))

    # In-use mirrors stay even over budget; once idle and free, they go too.
    assert ws.evict_mirrors(budget_bytes=0).removed == ()
    ws.remove(tree)
    age(mirrors["busy"], 9000)
    age(mirrors["new"], 9000)
    assert set(ws.evict_mirrors(budget_bytes=0).removed) == {mirrors["busy"], mirrors["new"]}
    # An evicted repository is simply fetched again.
    assert (ws.fetch(str(tmp_path / "old-src"), {}) / "HEAD").exists()


def test_budget_must_be_sane(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Workspace(tmp_path).evict_mirrors(-1)
    assert Workspace(tmp_path / "empty").evict_mirrors(0).removed == ()
