"""Host-side helpers of the sandbox: output capture, worktree ownership, process identity, cgroup counters.

Why a module of its own: these run in the App's process on the host, next to
files and processes a hostile repository controls, and each has a subtle
safety property (bounded memory, no symlink following, no pid reuse mix-up)
that is easier to review apart from the Docker plumbing in runner/sandbox/session.py.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)


class OutputCapture:
    """Keeps the first and the last bytes of a stream and counts the rest.

    Memory stays O(limit) however much a command prints: the head is filled
    once, the tail is a buffer trimmed whenever it grows past twice its size.
    """

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > 2 * self._tail_limit:
                del self._tail[: len(self._tail) - self._tail_limit]

    @property
    def omitted(self) -> int:
        kept = len(self._head) + min(len(self._tail), self._tail_limit)
        return self.total - kept

    def text(self) -> str:
        tail = bytes(self._tail[-self._tail_limit :]) if self._tail_limit else b""
        head = self._head.decode("utf-8", "replace")
        if not self.omitted:
            return head + tail.decode("utf-8", "replace")
        marker = f"\n[... ai-fix: {self.omitted:,} bytes of output omitted ...]\n"
        return head + marker + tail.decode("utf-8", "replace")


def sync_ownership(root: Path, uid: int, gid: int) -> int:
    """Give ``root`` and everything below it to ``uid:gid``; return how many
    entries changed. Needs root.

    Skips the top-level ``.git`` (the sandbox must not be able to plant hooks
    or config that host-side git would run), never follows symlinks, and
    leaves files with several hard links alone (chowning one would hand the
    sandbox an inode that is also visible elsewhere on the host).

    The walk is done with directory file descriptors (``openat`` with
    ``O_NOFOLLOW``, ``fchownat`` with ``AT_SYMLINK_NOFOLLOW``) because the
    sandbox may run a background process that swaps a directory for a symlink
    to ``/etc`` while we walk: a path-based walk would then chown host files.
    Directories nested deeper than :data:`_MAX_DEPTH` are left alone.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    root_fd = os.open(root, flags)
    changed = 0
    # Each frame: (directory fd, names of subdirectories still to visit).
    stack: list[tuple[int, list[str]]] = []
    try:
        changed += _chown_fd(root_fd, uid, gid)
        subdirs, n = _sync_entries(root_fd, uid, gid, skip_git=True)
        changed += n
        stack.append((root_fd, subdirs))
        while stack:
            fd, todo = stack[-1]
            if not todo:
                stack.pop()
                if fd != root_fd:
                    os.close(fd)
                continue
            name = todo.pop()
            if len(stack) > _MAX_DEPTH:
                log.warning("not chowning below %s levels of directories in %s", _MAX_DEPTH, root)
                continue
            try:
                child = os.open(name, flags, dir_fd=fd)
            except OSError:  # replaced by a symlink or removed meanwhile: skip it
                continue
            try:
                changed += _chown_fd(child, uid, gid)
                subdirs, n = _sync_entries(child, uid, gid, skip_git=False)
            except OSError:
                os.close(child)
                raise
            changed += n
            stack.append((child, subdirs))
    finally:
        for fd, _ in stack:
            if fd != root_fd:
                os.close(fd)
        os.close(root_fd)
    return changed


_MAX_DEPTH = 256


def _chown_fd(fd: int, uid: int, gid: int) -> int:
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) == (uid, gid):
        return 0
    os.fchown(fd, uid, gid)
    return 1


def _sync_entries(dir_fd: int, uid: int, gid: int, *, skip_git: bool) -> tuple[list[str], int]:
    """Chown the non-directory entries of one directory; return its subdirectory names."""
    subdirs: list[str] = []
    changed = 0
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if skip_git and entry.name == ".git":
                continue
            try:
                est = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(est.st_mode):
                subdirs.append(entry.name)
                continue
            if (est.st_uid, est.st_gid) == (uid, gid):
                continue
            if stat.S_ISREG(est.st_mode) and est.st_nlink > 1:
                log.warning("not chowning hard-linked file %s; the sandbox cannot write it", entry.name)
                continue
            try:
                os.chown(entry.name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            changed += 1
    return subdirs, changed


def owner_token(pid: int | None = None) -> str:
    """Who owns a container: ``boot-id.pid-namespace.pid.start-time`` of a process.

    The start time guards against pid reuse; boot id and namespace say whether
    a reaper can check the pid at all (it cannot across hosts or containers).
    """
    pid = os.getpid() if pid is None else pid
    return f"{_boot_id()}.{_pid_namespace()}.{pid}.{_start_ticks(pid)}"


def owner_alive(token: str) -> bool | None:
    """True/False when ``token``'s process can be checked from here, else None."""
    parts = token.split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    boot, namespace, pid, started = parts
    if boot != _boot_id() or namespace != _pid_namespace():
        return None
    return _start_ticks(int(pid)) == started


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:16]
    except OSError:
        return "unknown"


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "unknown"


def _start_ticks(pid: int) -> str:
    """Field 22 of /proc/PID/stat (start time in clock ticks), "" if no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return raw.rsplit(")", 1)[-1].split()[19]


class CgroupProbe:
    """Counters of OOM kills and refused forks in one container's cgroups.

    Readable when this process sees the Docker host's ``/sys/fs/cgroup``
    (the bot runs on the host, cgroup v1 or v2, cgroupfs or systemd driver);
    otherwise ``available`` is False and every count reads 0.
    """

    def __init__(self, container_id: str) -> None:
        self._memory = self._find(container_id, ("memory.events", "memory.oom_control"), "memory")
        self._pids = self._find(container_id, ("pids.events",), "pids")
        self.available = self._memory is not None or self._pids is not None

    @staticmethod
    def _find(container_id: str, names: tuple[str, ...], controller: str) -> Path | None:
        if not container_id:
            return None
        root = Path("/sys/fs/cgroup")
        dirs = (f"docker/{container_id}", f"system.slice/docker-{container_id}.scope")
        for base in (root / controller, root):
            for sub in dirs:
                for name in names:
                    if (path := base / sub / name).is_file():
                        return path
        return None

    def read(self) -> tuple[int, int]:
        """(oom kills, refused forks) so far."""
        return _counter(self._memory, "oom_kill"), _counter(self._pids, "max")

    def processes(self) -> int | None:
        """Tasks in the container now (pids.current), None when not visible from here."""
        if self._pids is None:
            return None
        try:
            return int((self._pids.parent / "pids.current").read_text())
        except (OSError, ValueError):
            return None


def _counter(path: Path | None, key: str) -> int:
    if path is None:
        return 0
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return 0
