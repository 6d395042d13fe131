"""The App's Docker sandbox, unchanged, with a record of what it handed the engine and the truth of each test run.

The engine gets exactly what a job gets: the same sessions, commands and results. Beside that, each
run of the test command gets the benchmark's own reading (`bench.realrepo.junit`): the JUnit report the
result carries when the sandbox provides one (`CommandResult.report`), or else one more run of the same
command in the same session with `--junitxml` pointed into the worktree, read from the host and deleted
before the engine continues. Reruns are cached by the worktree's changes, so a state is run once, and
their time is kept apart (`truth_s`) so it is not counted as the engine's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree.ElementTree import ParseError

from bench.realrepo.junit import Results, parse
from runner.git import git
from runner.ports import CommandResult, SandboxSession, SetupResult
from runner.workspace import Worktree

if TYPE_CHECKING:
    from runner import DockerFactory

_REPORT = ".ai-fix-bench-junit.xml"
"""Written by the benchmark's reruns at the top of the worktree (mounted at /workspace), removed at once."""


@dataclass(frozen=True)
class Run:
    result: CommandResult
    truth: Results | None
    """None for a command other than the tests, or a run that wrote no readable report."""


class Recorder:
    """A `SandboxFactory` and `SetupRunner` over the App's own Docker factory, for one job."""

    def __init__(self, factory: DockerFactory, test_command: str, cache: dict[str, Results | None]) -> None:
        self._factory, self.test_command, self._cache = factory, test_command, cache
        self.runs: list[Run] = []
        self.truth_s = 0.0
        """Seconds spent on the benchmark's own reruns (not the engine's)."""

    def prepare(self, worktree: Worktree, image: str | None, commands: Sequence[str], repo_key: str,
                job_id: str, timeout_s: float) -> SetupResult:
        return self._factory.prepare(worktree, image, commands, repo_key, job_id, timeout_s)

    def __call__(self, worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        return _Session(self, self._factory(worktree, image, job_id), worktree)

    def truth(self, result: CommandResult | None) -> Results | None:
        """The ground truth recorded for this very result (the engine's baseline or an attempt's run)."""
        return next((run.truth for run in self.runs if run.result is result), None) if result else None

    def read_truth(self, result: CommandResult, session: SandboxSession, tree: Worktree,
                   timeout_s: float) -> Results | None:
        """The JUnit reading of a test run: the report the result carries, or a cached rerun of the command."""
        if result.report:
            try:
                return parse(result.report)
            except ParseError:
                pass
        key = _fingerprint(tree)
        if key not in self._cache:
            started = time.monotonic()
            self._cache[key] = _rerun(session, tree, result.command, timeout_s)
            self.truth_s += time.monotonic() - started
        return self._cache[key]


class _Session:
    def __init__(self, recorder: Recorder, inner: SandboxSession, tree: Worktree) -> None:
        self._recorder, self._inner, self._tree = recorder, inner, tree

    def run(self, command: str, timeout_s: float) -> CommandResult:
        result = self._inner.run(command, timeout_s)
        truth = None
        if command == self._recorder.test_command:
            truth = self._recorder.read_truth(result, self._inner, self._tree, timeout_s)
        self._recorder.runs.append(Run(result, truth))
        return result

    def close(self) -> None:
        self._inner.close()


def _rerun(session: SandboxSession, tree: Worktree, command: str, timeout_s: float) -> Results | None:
    report = tree.path / _REPORT
    report.unlink(missing_ok=True)
    session.run(f"{command} --junitxml=/workspace/{_REPORT} -o junit_family=xunit1", timeout_s)
    try:
        # No report at all: pytest stopped before collecting (a conftest that does not import, pytest itself
        # broken), so no test ran.
        return parse(report.read_text(encoding="utf-8", errors="replace")) if report.is_file() else Results(())
    except ParseError:
        return None
    finally:
        report.unlink(missing_ok=True)


def _fingerprint(tree: Worktree) -> str:
    """The worktree's state as far as tests care: its commit, tracked changes and untracked Python files."""
    changes = git(["diff", "HEAD", "--binary"], cwd=tree.path)
    untracked = git(["ls-files", "--others", "--exclude-standard", "-z", "--", "*.py"], cwd=tree.path)
    digest = hashlib.sha256(changes.encode("utf-8", "surrogateescape"))
    for name in sorted(filter(None, untracked.split("\0"))):
        digest.update(name.encode() + b"\0" + (tree.path / name).read_bytes())
    return f"{tree.base_sha}:{digest.hexdigest()}"
