"""The results directory on the host: what a command's pytest is told, and what is read back.

No Docker: the directory is a host directory, so what a hostile command can leave in it is planted
here directly (test_hostile.py does the same from inside a container).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.sandbox.results import ADDOPTS, MAX_REPORT_BYTES, REPORT, RESULTS_DIR, ResultsDir

XML = '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1"/></testsuites>'


@pytest.fixture
def results(tmp_path: Path) -> Iterator[ResultsDir]:
    made = ResultsDir(None, tmp_path)
    yield made
    made.close()


def test_pytest_is_told_to_write_junit_xml_outside_the_worktree(results: ResultsDir) -> None:
    assert ADDOPTS == f"--junitxml={RESULTS_DIR}/junit.xml -o junit_family=xunit1" and REPORT.startswith("/ai-fix/")
    assert results.begin({}, "") == {"PYTEST_ADDOPTS": ADDOPTS}
    # Appended to what the image or the sandbox's environment has; a command's own value is used instead of those.
    assert results.begin({}, "-p no:cacheprovider") == {"PYTEST_ADDOPTS": f"-p no:cacheprovider {ADDOPTS}"}
    assert results.begin({"PYTEST_ADDOPTS": "-x", "PIP_CERT": "/c"}, "-q") == {
        "PYTEST_ADDOPTS": f"-x {ADDOPTS}", "PIP_CERT": "/c"}


def test_the_report_is_read_whole_once_and_only_for_the_command_it_belongs_to(results: ResultsDir) -> None:
    results.begin({}, "")
    big = XML + " " * (5 * 1024 * 1024)  # far beyond the 64 KiB the console output keeps
    (results.path / "junit.xml").write_text(big)
    assert results.read() == big
    assert results.read() is None  # read once; a second read is not the same command's
    results.begin({}, "")
    assert not any(results.path.iterdir())  # the next command starts with nothing left over
    assert results.read() is None


def test_what_a_command_leaves_is_removed_without_following_links(results: ResultsDir, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("host file")
    (results.path / "nested" / "deeper").mkdir(parents=True)
    (results.path / "nested" / "deeper" / "x").write_text("x")
    (results.path / "dir-link").symlink_to(outside)
    (results.path / "nested" / "file-link").symlink_to(outside / "keep.txt")
    os.mkfifo(results.path / "fifo")
    results.begin({}, "")
    assert list(results.path.iterdir()) == []
    assert (outside / "keep.txt").read_text() == "host file"


@pytest.mark.parametrize("plant", ["symlink to a host file", "symlink to a directory", "symlink to /dev/zero",
                                   "device", "fifo", "directory", "over the cap"])
def test_anything_but_a_bounded_regular_file_is_refused_never_followed_nor_waited_on(
    results: ResultsDir, tmp_path: Path, plant: str
) -> None:
    secret = tmp_path / "host-secret.xml"
    secret.write_text(XML.replace("pytest", "HOST-SECRET"))
    results.begin({}, "")
    report = results.path / "junit.xml"
    if plant == "symlink to a host file":
        report.symlink_to(secret)
    elif plant == "symlink to a directory":
        report.symlink_to(tmp_path)
    elif plant == "symlink to /dev/zero":  # endless: followed, it would be read until the cap
        report.symlink_to("/dev/zero")
    elif plant == "device":  # /dev/zero's own numbers (a sandbox has no CAP_MKNOD; this process may)
        zero = os.stat("/dev/zero").st_rdev
        try:
            os.mknod(report, stat.S_IFCHR | 0o600, zero)
        except PermissionError:
            report.symlink_to("/dev/zero")
    elif plant == "fifo":
        os.mkfifo(report)  # no writer: a blocking open would hang here forever
    elif plant == "directory":
        report.mkdir()
    else:
        with report.open("wb") as f:  # sparse: a gigabyte on paper, nothing on disk
            f.truncate(1 << 30)
        assert report.stat().st_size > MAX_REPORT_BYTES
    started = time.monotonic()
    assert results.read() is None
    assert time.monotonic() - started < 5


def test_close_removes_the_directory(tmp_path: Path) -> None:
    results = ResultsDir(None, tmp_path)
    results.begin({}, "")
    (results.path / "junit.xml").write_text(XML)
    parent = results.path.parent
    assert oct(parent.stat().st_mode & 0o777) == "0o700"  # nothing beside the mount is reachable from the sandbox
    results.close()
    assert not parent.exists()
    results.close()  # idempotent
