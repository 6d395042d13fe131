"""Laying setup's generated files over a worktree: the rules, checked on the host without Docker.

The same source runs inside the sandbox (test_setup.py shows it there); here the archive is built by
hand so that every hostile shape (a parent that is a symlink out of the tree, a name with ``..``, an
absolute symlink) can be put in front of it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from runner.sandbox import layover


def archive(path: Path, files: dict[str, bytes | str], mode: int = 0o644) -> Path:
    """A tar of ``files`` (bytes: a regular file; str: a symlink to that target)."""
    with tarfile.open(path, "w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), mode
                tar.addfile(info, io.BytesIO(content))
    return path


def test_new_files_are_laid_with_their_directories_and_mode(tmp_path: Path) -> None:
    root = tmp_path / "wt"
    (root / "src" / "pkg").mkdir(parents=True)
    tar = archive(tmp_path / "g.tar", {"src/pkg/_version.py": b"version = '1.2.3'\n",
                                       "src/pkg/sub/deep/_ext.so": b"\x7fELF..."}, mode=0o755)
    report = layover.lay_over(str(tar), str(root))
    assert report == {"laid": 2, "same": 0, "kept": 0, "refused": 0, "kept_names": [], "refused_names": []}
    assert (root / "src" / "pkg" / "_version.py").read_text() == "version = '1.2.3'\n"
    ext = root / "src" / "pkg" / "sub" / "deep" / "_ext.so"
    assert ext.read_bytes() == b"\x7fELF..." and os.stat(ext).st_mode & 0o777 == 0o755


def test_the_worktree_wins_over_a_generated_file_with_other_content(tmp_path: Path) -> None:
    root = tmp_path / "wt"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "edited.py").write_text("the attempt's edit\n")
    (root / "pkg" / "same.py").write_text("x = 1\n")
    (root / "pkg" / "link.py").symlink_to("same.py")
    tar = archive(tmp_path / "g.tar", {"pkg/edited.py": b"setup's version\n", "pkg/same.py": b"x = 1\n",
                                       "pkg/link.py": b"a file where the worktree has a link\n"})
    report = layover.lay_over(str(tar), str(root))
    assert (report["laid"], report["same"], report["kept"]) == (0, 1, 2)
    assert report["kept_names"] == ["pkg/edited.py", "pkg/link.py"]
    assert (root / "pkg" / "edited.py").read_text() == "the attempt's edit\n"
    assert (root / "pkg" / "link.py").is_symlink()


def test_nothing_is_written_through_a_symlink_or_outside_the_worktree(tmp_path: Path) -> None:
    root, outside = tmp_path / "wt", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "pkg").symlink_to(outside)  # a tracked symlink leading out of the tree
    (root / "afile").write_text("x")
    tar = archive(tmp_path / "g.tar", {"pkg/_version.py": b"escaped\n", "../escape.py": b"escaped\n",
                                       "/abs.py": b"escaped\n", ".git/hooks/post-checkout": b"#!/bin/sh\n",
                                       "afile/below.py": b"x\n", "ok/up.py": "../../../etc/passwd",
                                       "ok/abs.py": "/etc/passwd", "ok/fine.py": "../afile"})
    report = layover.lay_over(str(tar), str(root))
    assert (report["laid"], report["refused"]) == (1, 7), report
    assert list(outside.iterdir()) == [] and not (tmp_path / "escape.py").exists()
    assert not (root / ".git").exists() and not (root / "ok" / "up.py").is_symlink()
    assert os.readlink(root / "ok" / "fine.py") == "../afile"
    refused = "\n".join(report["refused_names"])
    assert "pkg/_version.py: pkg in the worktree is not a directory" in refused
    assert "ok/abs.py: symlink to '/etc/passwd' leads out of the worktree" in refused


def test_it_runs_as_a_script_with_an_isolated_python(tmp_path: Path) -> None:
    """As the session runs it (`python3 -I -S -c SOURCE ARCHIVE ROOT`): the worktree's own `tarfile.py` unseen."""
    root = tmp_path / "wt"
    root.mkdir()
    (root / "tarfile.py").write_text("raise SystemExit('the worktree shadowed the standard library')\n")
    tar = archive(tmp_path / "g.tar", {"pkg/_version.py": b"v = 1\n"})
    command = layover.command(str(tar), str(root))
    assert command.startswith("python3 -I -S -c ")
    proc = subprocess.run(["sh", "-c", sys.executable + command.removeprefix("python3")], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    report, note = layover.outcome(proc.stdout, passed=True)
    assert report is not None and report["laid"] == 1 and note == ""
    assert (root / "pkg" / "_version.py").read_text() == "v = 1\n"


def test_what_the_tests_may_miss_is_said_in_a_note() -> None:
    why = "pkg/_version.py: pkg in the worktree is not a directory (Not a directory)"
    refused = json.dumps({"laid": 1, "same": 0, "kept": 0, "refused": 1, "kept_names": [], "refused_names": [why]})
    report, note = layover.outcome(f"{refused}\n", passed=True)
    assert report is not None and report["refused"] == 1
    assert note == ("\n[ai-fix: 1 file(s) the setup phase generated were not laid over the worktree: "
                    "pkg/_version.py: pkg in the worktree is not a directory (Not a directory)]\n")
    report, note = layover.outcome("sh: 1: python3: not found\n", passed=False)
    assert report is None
    assert note == ("\n[ai-fix: the files the setup phase generated could not be laid over the worktree: "
                    "sh: 1: python3: not found]\n")
