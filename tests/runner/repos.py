"""Small real repositories and a host-side command runner for runner tests.

Commands run as host subprocesses here: the Docker sandbox has its own tests, and the end-to-end
tests run everything in it. These repositories contain only code written for the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from runner.ports import CommandResult

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"
CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
CALC_TESTS = ("from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
              "def test_mul():\n    assert mul(2, 3) == 6\n")


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n```\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


FIX_ADD = block("calc.py", "    return a - b\n", "    return a + b\n")


class HostSession:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.commands: list[str] = []

    def run(self, command: str, timeout_s: float) -> CommandResult:
        self.commands.append(command)
        started = time.monotonic()
        proc = subprocess.run(command, shell=True, cwd=self.root, capture_output=True, text=True, timeout=timeout_s)
        return CommandResult(command, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)

    def close(self) -> None:
        pass


class ReportingHostSession(HostSession):
    """A host session that, like the sandbox, asks pytest for a JUnit report (xunit1) in a results directory
    outside the worktree, emptied before each command, and hands it back in `CommandResult.report`."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.results = Path(tempfile.mkdtemp(prefix="ai-fix-results-"))

    def run(self, command: str, timeout_s: float) -> CommandResult:
        self.commands.append(command)
        for stale in self.results.iterdir():
            stale.unlink()
        report = self.results / "report.xml"
        env = {**os.environ, "PYTEST_ADDOPTS": f"--junitxml={report} -o junit_family=xunit1"}
        started = time.monotonic()
        proc = subprocess.run(command, shell=True, cwd=self.root, capture_output=True, text=True, timeout=timeout_s,
                              env=env)
        return CommandResult(command, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started,
                             report=report.read_text(encoding="utf-8") if report.exists() else None)

    def close(self) -> None:
        shutil.rmtree(self.results, ignore_errors=True)


def make_origin(tmp_path: Path, files: Mapping[str, str] | None = None, config: str | None = None) -> Path:
    """A bare repository (branch main) holding `files` (default: calc with a bug and its tests)."""
    src = tmp_path / "src"
    src.mkdir()
    contents = dict(files or {"calc.py": CALC, "test_calc.py": CALC_TESTS})
    contents[".github/ai-fix.yml"] = config if config is not None else f"test: {PYTEST}\n"
    for rel, text in contents.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=src, check=True)
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    return bare


def branch_file(origin: Path, path: str, branch: str = "ai-fix/issue-1") -> str:
    return subprocess.run(["git", "show", f"{branch}:{path}"], cwd=origin, capture_output=True, text=True,
                          check=True).stdout
