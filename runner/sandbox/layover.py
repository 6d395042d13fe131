"""Lay the files the setup phase generated over a job's worktree: run INSIDE the sandbox, as its user.

Why: setup runs on a throwaway copy of the worktree, so what it writes inside the source tree
(setuptools-scm's ``_version.py``, extensions built with ``build_ext --inplace``, built assets) is
lost with the copy. ``runner.sandbox.setup_output`` stores those files as a tar in the setup image;
before a session's first command, the session runs this module's source with the image's own
``python3 -I -S`` (no site, no worktree on ``sys.path``: the repository cannot shadow ``os`` or
``tarfile``), so the lay-over has exactly the power of a test command and the container's walls
bound any mistake. Nothing here runs on the host as root.

The rules, per archive member (only regular files and symlinks are stored):

* the name must be relative, without ``..``, not under ``.git``; otherwise it is refused;
* each parent directory is opened with ``O_NOFOLLOW`` from ``/workspace`` down, and created when
  missing: a parent that is a symlink (it could lead out of /workspace) or a file refuses the member;
* the file is created with ``O_EXCL | O_NOFOLLOW``: a path the worktree already has is never replaced.
  Same content: nothing to do (``same``). Different content, a symlink, anything else: the worktree's
  wins (``kept``), because it is the attempt's edit or the repository's own file, and what the
  attempt edits is what gets judged and committed;
* a symlink member is created only when its target is relative and stays inside the worktree.

Only what setup *created* is stored (files it changed that the worktree already tracks are not), so
a lay-over never undoes an edit. It prints one JSON line: counts, and the first names of what was
kept from the worktree or refused.

This file must stay standard-library only and importable by the image's Python (3.8 or newer).
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
import stat
import sys
import tarfile
from pathlib import Path
from typing import IO, TypedDict, cast

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20
_SHOWN = 20


class _Refused(Exception):
    """A member this lay-over will not write, and why."""


class Report(TypedDict):
    """What a lay-over did: how many members it laid, found the same, kept the worktree's version of, refused;
    the first names of those kept and refused (with why)."""

    laid: int
    same: int
    kept: int
    refused: int
    kept_names: list[str]
    refused_names: list[str]


def lay_over(archive: str, root: str) -> Report:
    """Lay the members of ``archive`` over the directory ``root``; return what happened to them."""
    counts = {"laid": 0, "same": 0, "kept": 0, "refused": 0}
    kept: list[str] = []
    refused: list[str] = []
    parents = _Parents(os.open(root, _DIR))
    try:
        with tarfile.open(archive, "r:") as tar:
            for member in tar:
                try:
                    outcome = _place(tar, member, parents)
                except _Refused as why:
                    outcome = "refused"
                    if len(refused) < _SHOWN:
                        refused.append(f"{member.name}: {why}")
                counts[outcome] += 1
                if outcome == "kept" and len(kept) < _SHOWN:
                    kept.append(member.name)
    finally:
        parents.close()
    return Report(laid=counts["laid"], same=counts["same"], kept=counts["kept"], refused=counts["refused"],
                  kept_names=kept, refused_names=refused)


class _Parents:
    """The directory of the last member, kept open: an archive lists a directory's files together, and
    opening each parent anew, component by component, was half the time of a lay-over."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self._names: list[str] | None = None
        self._fd = -1

    def open(self, names: list[str]) -> int:
        if names != self._names:
            self._drop()
            self._fd = _open_parent(self.root_fd, names)  # raises _Refused: nothing cached then
            self._names = names
        return self._fd

    def _drop(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._names, self._fd = None, -1

    def close(self) -> None:
        self._drop()
        os.close(self.root_fd)


def _place(tar: tarfile.TarFile, member: tarfile.TarInfo, parents: _Parents) -> str:
    parts = _parts(member.name)
    if member.issym():
        _check_link(parts, member.linkname)
    elif not member.isreg():
        raise _Refused("neither a regular file nor a symlink")
    parent = parents.open(parts[:-1])
    if member.issym():
        return _place_link(parent, parts[-1], member.linkname)
    source = tar.extractfile(member)
    if source is None:
        raise _Refused("no data in the archive")
    return _place_file(parent, parts[-1], source, member.mode & 0o755)


def _parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts or parts[0] == ".git" or "\0" in name:
        raise _Refused("not a plain relative path inside the worktree")
    return parts


def _check_link(parts: list[str], target: str) -> None:
    inside = posixpath.normpath(posixpath.join(*parts[:-1], target)) if len(parts) > 1 else posixpath.normpath(target)
    if target.startswith("/") or inside == ".." or inside.startswith("../") or not target:
        raise _Refused(f"symlink to {target!r} leads out of the worktree")


def _open_parent(root_fd: int, names: list[str]) -> int:
    fd = os.dup(root_fd)
    try:
        for name in names:
            try:
                child = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                os.mkdir(name, 0o755, dir_fd=fd)
                child = os.open(name, _DIR, dir_fd=fd)
            except OSError as exc:  # ELOOP: a symlink; ENOTDIR: a file
                raise _Refused(f"{name} in the worktree is not a directory ({exc.strerror})") from exc
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _place_file(parent: int, name: str, source: IO[bytes], mode: int) -> str:
    try:
        fd = os.open(name, _NEW, mode | 0o600, dir_fd=parent)
    except FileExistsError:
        return "same" if _same_file(parent, name, source) else "kept"
    except OSError as exc:
        raise _Refused(exc.strerror or str(exc)) from exc
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode | 0o600)  # the archive's mode (an extension stays executable), not umask's
            while chunk := source.read(_CHUNK):
                out.write(chunk)
    except OSError as exc:
        os.unlink(name, dir_fd=parent)
        raise _Refused(f"could not write it: {exc.strerror or exc}") from exc
    return "laid"


def _same_file(parent: int, name: str, source: IO[bytes]) -> bool:
    try:
        fd = os.open(name, _READ, dir_fd=parent)
    except OSError:  # a symlink (ELOOP), a FIFO without writer...
        return False
    with os.fdopen(fd, "rb") as existing:
        if not stat.S_ISREG(os.fstat(existing.fileno()).st_mode):
            return False
        while True:
            ours, theirs = source.read(_CHUNK), existing.read(_CHUNK)
            if ours != theirs:
                return False
            if not ours:
                return True


def _place_link(parent: int, name: str, target: str) -> str:
    try:
        os.symlink(target, name, dir_fd=parent)
    except FileExistsError:
        try:
            return "same" if os.readlink(name, dir_fd=parent) == target else "kept"
        except OSError:
            return "kept"
    except OSError as exc:
        raise _Refused(exc.strerror or str(exc)) from exc
    return "laid"


# ---- the host's side: the command that runs this file in the sandbox, and what its output means


def command(archive: str, root: str) -> str:
    """This file's source run by the image's Python: isolated (-I: no PYTHON* variables, no worktree on
    sys.path) and without site (-S: no .pth file setup installed runs first)."""
    source = Path(__file__).read_text(encoding="utf-8")
    return f"python3 -I -S -c {shlex.quote(source)} {shlex.quote(archive)} {shlex.quote(root)}"


def outcome(output: str, passed: bool) -> tuple[Report | None, str]:
    """(the report, a note for the first command's output) from a lay-over's output. The note is empty when
    every file was laid (or the worktree had its own); otherwise it says what the tests may miss, and why."""
    last = output.strip().rsplit("\n", 1)[-1]
    try:
        parsed = json.loads(last) if passed else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return None, ("\n[ai-fix: the files the setup phase generated could not be laid over the worktree: "
                      f"{last[-500:]}]\n")
    report = cast(Report, parsed)
    if report.get("refused"):
        return report, (f"\n[ai-fix: {report['refused']} file(s) the setup phase generated were not laid over "
                        f"the worktree: {'; '.join(map(str, report.get('refused_names') or []))}]\n")
    return report, ""


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: layover.py ARCHIVE ROOT", file=sys.stderr)
        return 2
    print(json.dumps(lay_over(argv[0], argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
