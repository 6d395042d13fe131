"""Where a command's test runner writes its structured report, and how the App reads it back.

Why: the verdict compares test results, and console output is a poor source (it is cut in the
middle, and a passing test can print a nested session's ``FAILED`` lines). So every command a
session runs gets ``PYTEST_ADDOPTS="--junitxml=<file> -o junit_family=xunit1"`` (appended to any
``PYTEST_ADDOPTS`` the image or the sandbox's environment already has; nothing else of the host),
and after the command the file is read whole into ``CommandResult.report``.

Why a host directory bind-mounted at :data:`RESULTS_DIR`, and not a path in the container's ``/tmp``:
reading a file back out of a container goes through the engine's archive API, which the engine
resolves as root inside the container's file system and which has a history of symlink-swap escapes
(CVE-2018-15664); a tmpfs volume is only visible to the host while its container lives, and a
timeout kills the container. A host directory is read by this process like any hostile file:
``openat`` with ``O_NOFOLLOW | O_NONBLOCK`` relative to a directory descriptor we opened, then
``fstat`` on what was opened. A symlink (say to the host's ``/etc/shadow``), a FIFO, a device, a
directory or a file over :data:`MAX_REPORT_BYTES` is refused and the report is None, never followed,
never waited on, never read past the cap. The directory lives outside the worktree (the worktree is
what gets diffed and committed) under a private parent (mode 0700), and is the only thing mounted
there, so the sandbox cannot reach the parent or anything beside it.

The directory is emptied before every command, so it holds at most one command's files (what a
command writes there is bounded per file by the sandbox's file-size limit, like the worktree), and a
report a previous command left is never taken for the next one's: when ``junit.xml`` cannot be removed,
the next command has no report. The name is fixed (not random per command) because pytest prints it
("generated xml file: ...") and the output before and after an edit should differ only where the code does.

A command that runs pytest more than once (``pytest a && pytest b``) reports the last session; a
test that runs ``python -m pytest`` in a subprocess inherits the variable and may write the same file,
but the outer session writes it last, at its end. pytester drops ``PYTEST_ADDOPTS`` for inner sessions.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

#: Where the results directory is mounted in every sandbox container: outside /workspace.
RESULTS_DIR = "/ai-fix/results"
#: The report's path inside the container; pytest writes it there at the end of its session.
_NAME = "junit.xml"
REPORT = f"{RESULTS_DIR}/{_NAME}"
#: The flags every command's pytest gets through PYTEST_ADDOPTS (xunit1: each testcase carries its `file`).
ADDOPTS = f"--junitxml={REPORT} -o junit_family=xunit1"
#: The largest report read; a bigger file is refused (report None), not cut: a cut XML file reads as broken.
MAX_REPORT_BYTES = 16 * 1024 * 1024

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ResultsDir:
    """One session's results directory on the host, mounted at :data:`RESULTS_DIR` in its containers.

    ``owner`` is the (uid, gid) the sandbox's commands run as, or None when they run as this process.
    :meth:`close` removes it; a process that died leaves an empty-ish ``ai-fix-results-*`` directory
    in ``root`` (the system temp directory by default).
    """

    def __init__(self, owner: tuple[int, int] | None, root: Path | None = None) -> None:
        self._parent = Path(tempfile.mkdtemp(prefix="ai-fix-results-", dir=root))  # mode 0700
        self.path = self._parent / "results"
        self.path.mkdir(mode=0o755)
        if owner is not None:
            os.chown(self.path, *owner)
        self._armed = False

    def begin(self, env: Mapping[str, str], base_addopts: str) -> dict[str, str]:
        """Empty the directory for the next command; return that command's environment.

        ``env`` is the command's own extra environment (it may set ``PYTEST_ADDOPTS`` itself);
        ``base_addopts`` is the value the container already has from its image and config.
        """
        self._armed = self._empty()
        before = env.get("PYTEST_ADDOPTS", base_addopts).strip()
        return {**env, "PYTEST_ADDOPTS": f"{before} {ADDOPTS}" if before else ADDOPTS}

    def read(self) -> str | None:
        """The report the command wrote, whole; None when there is none or it is not a plain, bounded file."""
        armed, self._armed = self._armed, False
        if not armed:
            return None
        try:
            dir_fd = os.open(self.path, _DIR_FLAGS)
        except OSError as exc:
            log.warning("cannot open the results directory %s: %s", self.path, exc)
            return None
        try:
            fd = os.open(_NAME, _FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP: a symlink; ENXIO and friends: something that is not a file
            log.warning("refused the test report %s: %s", _NAME, exc)
            return None
        finally:
            os.close(dir_fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            log.warning("refused the test report %s: not a regular file (mode %o)", _NAME, st.st_mode)
            return None
        with os.fdopen(fd, "rb") as report:
            if st.st_size > MAX_REPORT_BYTES:
                log.warning("refused the test report %s: %d bytes, over the cap of %d", _NAME, st.st_size,
                            MAX_REPORT_BYTES)
                return None
            data = report.read(MAX_REPORT_BYTES + 1)
        if len(data) > MAX_REPORT_BYTES:  # grew after fstat
            log.warning("refused the test report %s: it grew past the cap of %d bytes", _NAME, MAX_REPORT_BYTES)
            return None
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        shutil.rmtree(self._parent, ignore_errors=True)

    def _empty(self) -> bool:
        """Remove whatever the previous command left; True when no report is left over. ``rmtree`` walks
        with descriptors and never follows a symlink; only entries of our own directory are unlinked, so
        nothing outside it is touched."""
        try:
            with os.scandir(self.path) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        try:
                            os.unlink(entry.path)
                        except FileNotFoundError:
                            pass
        except OSError as exc:
            log.warning("could not empty the results directory %s: %s", self.path, exc)
        if os.path.lexists(self.path / _NAME):
            log.warning("the test report in %s could not be removed: the next command gets no report", self.path)
            return False
        return True
