"""Reading test output: which tests failed, which failures are new, and what to show a model.

Pre-existing failures are common in real repositories; blaming them on the edit would make the
App chase ghosts. So a failure counts only when it is new compared with the untouched baseline,
and the output shown to the model is cleaned (timings, absolute paths) and cut head-and-tail
so that the failing test names and the last traceback survive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.ports import CommandResult

# pytest's short summary ("FAILED tests/x.py::test_y - msg", "ERROR tests/x.py"), unittest ("FAIL: test_x (m.C)"),
# go test ("--- FAIL: TestX"), cargo ("test foo ... FAILED"), node/jest ("✕ name" is too loose: not parsed).
_PATTERNS = (
    re.compile(r"^(?:FAILED|ERROR) (\S+?)(?: - .*)?$"),
    re.compile(r"^(?:FAIL|ERROR): (\S+ \([\w.]+\))"),
    re.compile(r"^--- FAIL: (\S+)"),
    re.compile(r"^test (\S+) \.\.\. FAILED$"),
)
_TIMING = re.compile(r"\b(?:in )?\d+(?:\.\d+)?\s?(?:s|ms|sec|seconds)\b")
_ABS_PATH = re.compile(r"(?<![\w/.])/(?:workspace|tmp|home|root|usr|opt)/[^\s:'\")]*?/?(?=[\w.-]+\.\w+[:\s'\")]|$)")


def failed_tests(output: str) -> set[str] | None:
    """Test ids that failed, or None when the output names none (an unknown runner, a crash)."""
    found: set[str] = set()
    for line in output.splitlines():
        for pattern in _PATTERNS:
            match = pattern.match(line.strip())
            if match:
                found.add(match.group(1))
                break
    return found or None


@dataclass(frozen=True)
class Comparison:
    new: list[str]
    """Failures the change introduced (test ids, or a description when ids are unknown)."""
    fixed: list[str]
    """Baseline failures that now pass."""
    still_failing: list[str]
    """Baseline failures that still fail: not blamed on the change."""

    @property
    def ok(self) -> bool:
        return not self.new


def compare(baseline: CommandResult | None, after: CommandResult) -> Comparison:
    """New failures of `after` relative to `baseline` (no baseline: every failure is new)."""
    if after.timed_out and not (baseline and baseline.timed_out):
        return Comparison([f"`{after.command}` timed out after {after.duration_s:.0f} s"], [], [])
    after_failed = failed_tests(after.output) if not after.passed else set()
    if baseline is None or baseline.passed:
        if after.passed:
            return Comparison([], [], [])
        return Comparison(sorted(after_failed or {f"`{after.command}` exited {after.exit_code}"}), [], [])
    before_failed = failed_tests(baseline.output)
    if after.passed:
        return Comparison([], sorted(before_failed or {f"`{baseline.command}`"}), [])
    if before_failed is None or after_failed is None:
        # Both runs fail and we cannot tell which tests: we cannot claim the change is clean, but we do not
        # know it broke anything either. Report it as unknown rather than blame or absolve the edit.
        return Comparison([f"`{after.command}` still fails (exit {after.exit_code}); which tests fail cannot be "
                           "read from its output"], [], [])
    return Comparison(sorted(after_failed - before_failed), sorted(before_failed - after_failed),
                      sorted(after_failed & before_failed))


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
