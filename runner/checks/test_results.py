"""Reading test results, comparing them with the baseline, and what to show a model.

Pre-existing failures are common in real repositories; blaming them on the edit would make the App
chase ghosts. So a failure counts only when it is new compared with the untouched baseline. The
comparison is made on what the runner itself reported: its JUnit report first (`junit`), else its own
closing summary (`console`), never on `FAILED` lines found anywhere in an output the sandbox may have
cut in the middle. A run in which no test executed vouches for nothing, whatever the baseline did.

`clean` and `cut` shape only what is SHOWN (to the model, in the PR), never what is compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from runner.checks import console, junit
from runner.checks.test_run import Source, Status, TestRun
from runner.ports import CommandResult

__all__ = ["Comparison", "Source", "Status", "TestRun", "clean", "compare", "cut", "read", "unusable"]

_TIMING = re.compile(r"\b(?:in )?\d+(?:\.\d+)?\s?(?:s|ms|sec|seconds)\b")
_ABS_PATH = re.compile(r"(?<![\w/.])/(?:workspace|tmp|home|root|usr|opt)/[^\s:'\")]*?/?(?=[\w.-]+\.\w+[:\s'\")]|$)")


def read(result: CommandResult) -> TestRun:
    """The run as its runner reported it: the JUnit report, else the closing summary, else only the exit code.

    A timed-out command's report is not read: the runner was killed before writing its own, so a report
    there was written by something else (a nested test session), or is partial.
    """
    run = junit.parse(result.report, result.exit_code) if result.report and not result.timed_out else None
    if run is None:
        run = console.parse(result.output, result.exit_code)
    if run is None:
        run = TestRun("exit-code", result.exit_code)
    if not run.first_error and run.collection_errors:
        run = replace(run, first_error=_first_error(result.output))
    return replace(run, timed_out=result.timed_out, command=result.command, duration_s=result.duration_s)


@dataclass(frozen=True)
class Comparison:
    new: list[str]
    """Failures the change introduced (test ids, or a description when ids are unknown)."""
    fixed: list[str]
    """Baseline failures that now pass."""
    still_failing: list[str]
    """Baseline failures that still fail: not blamed on the change."""
    problem: str = ""
    """Why the run vouches for nothing even without a new failure: no test ran, or it timed out again."""

    @property
    def ok(self) -> bool:
        return not self.new and not self.problem


def compare(baseline: TestRun | None, after: TestRun) -> Comparison:
    """New failures of `after` relative to `baseline` (no baseline: every failure is new), on complete id sets."""
    command = f"`{after.command}`" if after.command else "the test command"
    if after.timed_out:
        if baseline is None or not baseline.timed_out:
            return Comparison([f"{command} timed out after {after.duration_s:.0f} s"], [], [])
        return Comparison([], [], [], f"{command} timed out before and after the change")
    before_failing = baseline is not None and baseline.status not in ("passed", "timed_out")
    if after.status == "passed":
        return Comparison([], sorted(baseline.failures or {command}) if baseline and before_failing else [], [])
    # Only a run we could read can say that no test ran; an unreadable one is judged by its exit code below.
    problem = _not_ran(after) if not after.ran and after.source != "exit-code" else ""
    if baseline is None or not before_failing:
        named = sorted(after.failures)
        if not after.complete:
            named.append(f"and {after.failed + after.errors - len(after.failures)} more not named in its output")
        if not named and not problem:
            named = [f"{command} exited {after.exit_code}"]
        return Comparison(named, [], [], problem)
    if not _readable(baseline) or not _readable(after):
        # Both runs fail and we cannot tell which tests: we cannot claim the change is clean, but we do not
        # know it broke anything either. Report it as unknown rather than blame or absolve the edit.
        return Comparison([f"{command} still fails (exit {after.exit_code}); which tests fail cannot be read "
                           "from its output"], [], [], problem)
    fixed = sorted(baseline.failures - after.failures) if after.ran else []  # nothing ran: nothing was fixed
    return Comparison(sorted(after.failures - baseline.failures), fixed, sorted(after.failures & baseline.failures),
                      problem)


def _readable(run: TestRun) -> bool:
    """The run names every failing test: its failures can be compared id by id."""
    return run.source != "exit-code" and run.complete and bool(run.failures or run.status != "failed")


def _not_ran(run: TestRun) -> str:
    if run.collection_errors:
        return "no test ran: collection error in " + ", ".join(run.collection_errors[:5])
    return "no test ran"


# ---- a baseline that cannot work ---------------------------------------------------------------------
_NOT_FOUND = re.compile(r"^.*(?:command not found|not found|No such file or directory|Permission denied)\s*$", re.M)
# What pytest says when it cannot start (exit 4), most telling first.
_PYTEST_USAGE = tuple(re.compile(p, re.M) for p in (
    r"^.*: error: .+$", r"^ERROR: file or directory not found: .+$", r"^ImportError while loading conftest .+$",
    r"^ERROR: .+$"))
# The error that says why a module did not import, most specific first ("Failed to import test module: x" is
# unittest's heading, not the reason).
_ERROR_LINES = tuple(re.compile(p, re.M) for p in (
    r"^(?:E\s+)?((?:ModuleNotFoundError|SyntaxError): .+)$",
    r"^(?:E\s+)?(ImportError: (?!Failed to import test module).+)$",
    r"^(?:E\s+)?(\w*(?:Error|Exception): .+)$"))


def unusable(baseline: TestRun, output: str) -> str | None:
    """Why the test command cannot work on the untouched tree, or None when it works (pre-existing failures
    are fine: they are what the baseline is for). The reasons: not found or not executable (exit 127/126),
    pytest cannot start (exit 4: a usage error, a missing path, a conftest that does not import) or collects
    nothing (exit 5), every test module failing to import, no test at all."""
    if baseline.timed_out:
        return None
    if baseline.exit_code in (126, 127):
        found = _NOT_FOUND.search(output)
        what = "was not found" if baseline.exit_code == 127 else "cannot be executed"
        return f"the test command {what} (exit {baseline.exit_code})" + (f": {found.group(0).strip()}"
                                                                          if found else "")
    usage = next((m.group(0).strip() for p in _PYTEST_USAGE if (m := p.search(output))), "")
    pytest = baseline.source in ("junit", "pytest-summary") or "pytest" in baseline.command or bool(usage)
    if pytest and baseline.exit_code == 4:
        error = _first_error(output) if "conftest" in usage else ""
        return "pytest could not start (exit 4)" + "".join(f": {part}" for part in (usage, error) if part)
    if pytest and baseline.exit_code == 5:
        return "pytest collected no tests (exit 5)"
    if baseline.status == "collection_error":
        why = baseline.first_error or _first_error(output)
        return _not_ran(baseline) + (f": {why}" if why else "")
    if baseline.status == "no_tests":
        return "the test command ran no test"
    return None


def _first_error(output: str) -> str:
    found = next((m for p in _ERROR_LINES if (m := p.search(output))), None)
    return found.group(1).strip()[:300] if found else ""


# ---- what is shown ---------------------------------------------------------------------------------
def clean(output: str) -> str:
    """Drop what changes from run to run (timings, absolute paths) so outputs compare and read well."""
    text = output.replace("\r\n", "\n")
    text = _ABS_PATH.sub("", text)
    return _TIMING.sub("", text)


def cut(output: str, limit: int, keep: list[str] | None = None) -> str:
    """Head and tail within `limit` characters, keeping the lines naming `keep` (failing tests)."""
    text = clean(output)
    if len(text) <= limit:
        return text
    lines = text.splitlines()
    named = [line for line in lines if keep and any(k in line for k in keep) and len(line) < 400][:50]
    named_block = "\n".join(dict.fromkeys(named))
    room = max(limit - len(named_block) - 120, limit // 2)
    head_room = room // 4
    head = text[:head_room].rsplit("\n", 1)[0]
    tail = text[-(room - head_room):].split("\n", 1)[-1]
    omitted = len(text) - len(head) - len(tail)
    parts = [head, f"[... {omitted} characters cut ...]"]
    if named_block:
        parts += ["[failing tests named in the cut part:]", named_block]
    parts.append(tail)
    return "\n".join(parts)
