"""What the setup phase generated inside the source tree, found and stored for the run phase.

Why: setup runs on a throwaway copy of the worktree and only the container's file system is committed,
so whatever setup writes inside the source tree (setuptools-scm's ``_version.py``, extensions built with
``build_ext --inplace``, built assets, the ``*.egg-info`` a legacy ``setup.py develop`` reads its
metadata and entry points from) used to vanish, and tests failed with ``ModuleNotFoundError`` while
setup reported ``built``. After the setup commands, :func:`collect` compares the copy with the job's
worktree on the host and stores what setup *created* in a tar at :data:`ARCHIVE` in the setup image;
``runner.sandbox.layover`` lays it over each run-phase worktree, inside the sandbox.

What is kept, and what is not (each drop is named in the setup result's warnings, but caches):

* created regular files and relative symlinks that stay inside the tree, up to :data:`MAX_FILES` files
  and :data:`MAX_BYTES` in all (in walk order, each directory's files before its subdirectories);
* never ``.git``; never caches (:data:`CACHE_DIRS`, ``*.pyc``) nor a new top-level build directory
  (:data:`BUILD_DIRS`: object files, wheels, eggs setup downloaded): they are rebuilt or unused;
* not installed trees (:data:`INSTALLED_DIRS`: a venv or ``node_modules`` in the worktree), which belong
  under ``/opt/ai-fix``; not files setup *changed* that the worktree already has (a ``sed -i`` on a
  tracked file): laying those over would mix setup's edits into the attempt's, which is what is judged
  and committed; not FIFOs, sockets or devices; not symlinks leading out of the tree.

The walk is hostile-safe: it opens each directory with ``O_NOFOLLOW`` relative to its parent's
descriptor, reads each file through a descriptor it checked with ``fstat``, and visits at most
:data:`MAX_ENTRIES` entries. The policy is part of the setup cache key (:data:`POLICY`), so changing it
builds images anew. Files generated from sources that later change (a ``.c`` file) are covered by the key
hashing those sources (``runner.sandbox.setup_key``); an attempt that edits such a source still runs
against the extension setup built: the run phase does not rebuild.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import stat
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from runner.sandbox.container import SETUP_DIR

#: Where the setup image keeps the generated files (a tar; read by runner.sandbox.layover).
ARCHIVE = f"{SETUP_DIR}/generated.tar"
#: The image label listing the generated files and the warnings (zlib-compressed JSON, base64).
LABEL = "ai-fix.generated"
MAX_FILES = 2000
MAX_BYTES = 256 * 1024 * 1024
MAX_ENTRIES = 200_000
_MAX_DEPTH = 48
_MAX_PATH = 1024
_MAX_COMPARED = 1024 * 1024
CACHE_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"})
BUILD_DIRS = frozenset({"build", "dist", ".eggs"})
INSTALLED_DIRS = frozenset({"node_modules", "venv", ".venv", "site-packages", ".tox", ".nox"})
#: Everything that decides what is kept: part of the setup cache key.
POLICY: Mapping[str, object] = {
    "v": 1, "max_files": MAX_FILES, "max_bytes": MAX_BYTES, "cache": sorted(CACHE_DIRS),
    "build": sorted(BUILD_DIRS), "installed": sorted(INSTALLED_DIRS),
}

_Frame = tuple[int, int | None, str, int]
"""(directory fd in the copy, the same directory in the original or None when new, its path + "/", depth)."""

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass
class Collected:
    """What :func:`collect` found: the kept paths (and the tar holding them), and what was dropped, by reason."""

    files: list[str] = field(default_factory=list)
    archive: Path | None = None
    dropped: dict[str, list[str]] = field(default_factory=dict)
    size: int = 0
    visited: int = 0

    def drop(self, reason: str, rel: str) -> None:
        self.dropped.setdefault(reason, []).append(rel)

    def warnings(self) -> tuple[str, ...]:
        """One plain sentence per reason, naming the first few paths."""
        out = []
        for reason, rels in self.dropped.items():
            shown = ", ".join(rels[:8]) + (f" and {len(rels) - 8} more" if len(rels) > 8 else "")
            out.append(reason.format(paths=shown))
        return tuple(out)


# Why something setup left in the worktree is not kept: one sentence each, `{paths}` names them.
INSTALLED = ("setup installed into the worktree, which each job gets afresh: {paths} not kept. Install into "
             "/opt/ai-fix instead (the venv /opt/ai-fix/venv is on PATH; for npm use `--prefix /opt/ai-fix/node` "
             "and NODE_PATH)")
CHANGED = "setup changed files the worktree already has, not kept (the tests see the worktree's version): {paths}"
EMPTY = "setup made directories in the worktree with nothing to keep in them, not kept: {paths}"
ESCAPING = "setup made symlinks leading out of the worktree, not kept: {paths}"
SPECIAL = "setup made entries in the worktree that are not regular files, not kept: {paths}"
OVER = (f"setup generated more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB in the worktree (or too long a "
        "path); these are not kept: {paths}")
DEEP = f"setup made directories nested deeper than {_MAX_DEPTH} levels, not kept: {{paths}}"
TOO_MANY = f"setup left more than {MAX_ENTRIES} entries in the worktree; the rest was not looked at nor kept{{paths}}"


def collect(original: Path, copy: Path, archive: Path) -> Collected:
    """Find what setup created in ``copy`` (its worktree copy) that ``original`` lacks; tar it into ``archive``."""
    found = Collected()
    new_roots: list[str] = []
    copy_fd = os.open(copy, _DIR)
    try:
        stack: list[_Frame] = [(copy_fd, os.open(original, _DIR), "", 0)]
    except OSError:
        os.close(copy_fd)
        raise
    try:
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
            while stack:
                frame = stack.pop()
                try:
                    _scan_dir(tar, found, stack, new_roots, frame)
                finally:
                    _close(frame)
    except _Enough:
        found.drop(TOO_MANY, "")
    finally:
        for frame in stack:
            _close(frame)
    for root in new_roots:
        if not any(f.startswith(f"{root}/") for f in found.files):
            found.drop(EMPTY, f"{root}/")
    found.files.sort()
    found.archive = archive if found.files else None
    return found


class _Enough(Exception):
    """The walk visited :data:`MAX_ENTRIES` entries."""


def _close(frame: _Frame) -> None:
    os.close(frame[0])
    if frame[1] is not None:
        os.close(frame[1])


def _scan_dir(tar: tarfile.TarFile, found: Collected, stack: list[_Frame], new_roots: list[str],
              frame: _Frame) -> None:
    cfd, ofd, prefix, depth = frame
    with os.scandir(cfd) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    subdirs: list[_Frame] = []
    try:
        for entry in entries:
            found.visited += 1
            if found.visited > MAX_ENTRIES:
                raise _Enough
            _scan_entry(tar, found, subdirs, new_roots, frame, entry)
    finally:
        stack.extend(reversed(subdirs))  # popped in name order; closed by the caller whatever happens


def _scan_entry(tar: tarfile.TarFile, found: Collected, subdirs: list[_Frame], new_roots: list[str],
                frame: _Frame, entry: os.DirEntry[str]) -> None:
    cfd, ofd, prefix, depth = frame
    name, rel = entry.name, f"{prefix}{entry.name}"
    if (not prefix and name == ".git") or name in CACHE_DIRS or name.endswith((".pyc", ".pyo")):
        return
    try:
        mine = entry.stat(follow_symlinks=False)
    except OSError:
        return
    theirs = _lstat(ofd, name)
    if stat.S_ISDIR(mine.st_mode):
        child = _subdir(found, new_roots, frame, name, theirs)
        if child is not None:
            subdirs.append(child)
    elif theirs is not None:
        if _differs(mine, theirs, cfd, ofd, name):
            found.drop(CHANGED, rel)
    elif len(rel) > _MAX_PATH:
        found.drop(OVER, rel)
    elif stat.S_ISREG(mine.st_mode):
        _add_file(tar, found, cfd, name, rel)
    elif stat.S_ISLNK(mine.st_mode):
        _add_link(tar, found, cfd, name, rel)
    else:
        found.drop(SPECIAL, rel)


def _subdir(found: Collected, new_roots: list[str], frame: _Frame, name: str,
            theirs: os.stat_result | None) -> _Frame | None:
    """The frame of a directory to walk, or None when it is skipped (and why, unless it is noise)."""
    cfd, ofd, prefix, depth = frame
    rel = f"{prefix}{name}"
    if theirs is not None and not stat.S_ISDIR(theirs.st_mode):
        found.drop(CHANGED, rel)
        return None
    if name in INSTALLED_DIRS:
        # Not walked: installing into it is what setup must not do. One there before setup (vendored) counts only
        # when setup added to it, which changes its time (the copy was made with the original's times).
        if theirs is None or _mtime(cfd, name) != theirs.st_mtime_ns:
            found.drop(INSTALLED, f"{rel}/")
        return None
    if theirs is None:
        if not prefix and name in BUILD_DIRS:
            return None
        if ofd is not None:
            new_roots.append(rel)
    if depth + 1 > _MAX_DEPTH:
        found.drop(DEEP, f"{rel}/")
        return None
    try:
        child = os.open(name, _DIR, dir_fd=cfd)
    except OSError:
        return None
    original = None
    if theirs is not None and ofd is not None:
        try:
            original = os.open(name, _DIR, dir_fd=ofd)
        except OSError:
            original = None
    return child, original, f"{rel}/", depth + 1


def _mtime(dir_fd: int, name: str) -> int | None:
    stat_result = _lstat(dir_fd, name)
    return stat_result.st_mtime_ns if stat_result else None


def _lstat(dir_fd: int | None, name: str) -> os.stat_result | None:
    if dir_fd is None:
        return None
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None


def _differs(mine: os.stat_result, theirs: os.stat_result, cfd: int, ofd: int | None, name: str) -> bool:
    """The copy was made with its files' sizes and times, so an unchanged pair is the same file; a file setup
    only touched or rewrote as it was (same size, new time) is compared by content, up to a bound."""
    if stat.S_IFMT(mine.st_mode) != stat.S_IFMT(theirs.st_mode):
        return True
    if stat.S_ISLNK(mine.st_mode):
        try:
            return os.readlink(name, dir_fd=cfd) != os.readlink(name, dir_fd=ofd)
        except OSError:
            return True
    if mine.st_size != theirs.st_size:
        return True
    if mine.st_mtime_ns == theirs.st_mtime_ns:
        return False
    if mine.st_size > _MAX_COMPARED or ofd is None:
        return True
    try:
        with _open_read(cfd, name) as ours, _open_read(ofd, name) as original:
            return ours.read(_MAX_COMPARED + 1) != original.read(_MAX_COMPARED + 1)
    except OSError:
        return True


def _open_read(dir_fd: int, name: str) -> BinaryIO:
    fd = os.open(name, _READ, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{name} is not a regular file")
    return os.fdopen(fd, "rb")


def _add_file(tar: tarfile.TarFile, found: Collected, cfd: int, name: str, rel: str) -> None:
    try:
        fd = os.open(name, _READ, dir_fd=cfd)
    except OSError:
        found.drop(SPECIAL, rel)
        return
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or len(found.files) >= MAX_FILES or found.size + st.st_size > MAX_BYTES:
        os.close(fd)
        found.drop(OVER if stat.S_ISREG(st.st_mode) else SPECIAL, rel)
        return
    with os.fdopen(fd, "rb") as source:
        info = tarfile.TarInfo(rel)
        info.size, info.mode, info.mtime = st.st_size, st.st_mode & 0o755, int(st.st_mtime)
        tar.addfile(info, source)
    found.files.append(rel)
    found.size += st.st_size


def _add_link(tar: tarfile.TarFile, found: Collected, cfd: int, name: str, rel: str) -> None:
    try:
        target = os.readlink(name, dir_fd=cfd)
    except OSError:
        return
    inside = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if not target or target.startswith("/") or inside == ".." or inside.startswith("../"):
        found.drop(ESCAPING, f"{rel} -> {target}")
        return
    if len(found.files) >= MAX_FILES:
        found.drop(OVER, rel)
        return
    info = tarfile.TarInfo(rel)
    info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    tar.addfile(info)
    found.files.append(rel)


def wrap(inner: Path, dest: Path, uid: int, gid: int) -> Path:
    """A tar holding ``inner`` as :data:`ARCHIVE` (for ``put_archive`` at ``/``), written to ``dest``."""
    with tarfile.open(dest, "w") as outer, inner.open("rb") as data:
        info = tarfile.TarInfo(ARCHIVE.lstrip("/"))
        info.size, info.mode, info.uid, info.gid = inner.stat().st_size, 0o444, uid, gid
        outer.addfile(info, data)
    return dest


def encode_label(files: list[str] | tuple[str, ...], warnings: tuple[str, ...]) -> str:
    """The :data:`LABEL` value: base64 of zlib'd JSON, so no path can upset the engine's LABEL parsing."""
    raw = json.dumps({"files": list(files), "warnings": list(warnings)}).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_label(labels: Mapping[str, str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(generated files, warnings) from an image's labels; empty when it has none or they do not parse."""
    value = (labels or {}).get(LABEL)
    if not value:
        return (), ()
    try:
        data = json.loads(zlib.decompress(base64.b64decode(value), bufsize=1 << 16))
        return tuple(str(f) for f in data["files"]), tuple(str(w) for w in data["warnings"])
    except (ValueError, KeyError, TypeError, zlib.error):
        return (), ()
