"""Reading files of a worktree that hostile code may have rearranged.

Sandboxed tests run with the worktree mounted read-write: they can replace any directory with a
symlink to a host path. Opening every component relative to its parent's file descriptor with
O_NOFOLLOW makes a read either stay inside the worktree or fail; checking the size on the open
descriptor keeps a multi-gigabyte file from being read into memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath


def open_inside(root: Path, rel: str) -> int | None:
    """A read-only descriptor for `rel`, opened component by component without following any symlink,
    or None when that is not possible (missing, a symlink on the way, outside `root`)."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or any(p in ("..", ".") for p in parts):
        return None
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(root, flags | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_bytes_inside(root: Path, rel: str, max_bytes: int) -> bytes | None:
    """The file's bytes, or None when it is missing, not a regular file, reached through a symlink,
    outside `root`, or larger than `max_bytes`."""
    file_fd = open_inside(root, rel)
    if file_fd is None:
        return None
    try:
        info = os.fstat(file_fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        with os.fdopen(file_fd, "rb", closefd=True) as handle:
            file_fd = -1
            data = handle.read(max_bytes + 1)
        return data if len(data) <= max_bytes else None
    finally:
        if file_fd >= 0:
            os.close(file_fd)
