"""Host-side helpers of the sandbox: bounded output capture, worktree ownership, owner tokens.

These run in the App's process, next to files and processes a hostile repository controls;
none needs Docker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runner.sandbox.container import SANDBOX_UID
from runner.sandbox.host import OutputCapture, owner_alive, owner_token, sync_ownership


def test_output_capture_keeps_head_and_tail() -> None:
    cap = OutputCapture(10)
    for chunk in (b"abc", b"defgh", b"x" * 1000, b"12345"):
        cap.feed(chunk)
    assert cap.total == 1013
    assert cap.omitted == 1003
    text = cap.text()
    assert text.startswith("abcde\n[... ai-fix: 1,003 bytes of output omitted ...]\n")
    assert text.endswith("12345")


def test_output_capture_under_limit_is_verbatim() -> None:
    cap = OutputCapture(100)
    cap.feed("héllo\n".encode())
    cap.feed(b"world")
    assert (cap.text(), cap.omitted) == ("héllo\nworld", 0)


def test_sync_ownership_skips_git_and_hard_links(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test suite expects to run as root (as the bot does in its container)")
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("")
    (tmp_path / "link").symlink_to("/etc/passwd")
    outside = tmp_path.parent / f"outside-{uuid.uuid4().hex[:6]}"
    outside.mkdir()
    (outside / "host.txt").write_text("")
    (tmp_path / "dirlink").symlink_to(outside)
    (tmp_path / "hard").write_text("")
    os.link(tmp_path / "hard", tmp_path / "hard2")
    sync_ownership(tmp_path, SANDBOX_UID, SANDBOX_UID)

    def owner(path: Path) -> int:
        return os.lstat(path).st_uid

    assert owner(tmp_path) == owner(tmp_path / "pkg" / "a.py") == owner(tmp_path / "link") == SANDBOX_UID
    assert owner(tmp_path / ".git") == 0
    assert owner(tmp_path / "hard") == 0
    assert os.stat("/etc/passwd").st_uid == 0  # the symlink was not followed
    assert owner(outside) == owner(outside / "host.txt") == 0  # nor the directory symlink
    assert sync_ownership(tmp_path, SANDBOX_UID, SANDBOX_UID) == 0  # nothing left to change


def test_owner_token_tells_live_dead_and_foreign_owners() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        token = owner_token(child.pid)
        assert owner_alive(token) is True
    finally:
        child.kill()
        child.wait()
    assert owner_alive(token) is False  # gone (a reused pid would have another start time)
    boot, ns, pid, start = owner_token().split(".")
    assert owner_alive(f"{boot}.{ns}.{pid}.{int(start) + 1}") is False
    assert owner_alive(f"otherhost.{ns}.{pid}.{start}") is None  # cannot check: reaped by age only
    assert owner_alive("legacy") is None
