"""What each run should end in, and whether it did: the benchmark's expectations as one pure function.

Four runs per instance. The known fix must be plausible. Each negative control must not be, and
must say why in the terms a maintainer checks: the no-op leaves FAIL_TO_PASS failing (the outcome says
every test that failed before still fails), the regression
names the exact (space-containing) ids it broke as new failures, the import break says no test ran.

A run is `invalid` rather than wrong when the ground truth (the benchmark's own reading of the JUnit
report) contradicts the run's premise: the known fix does not make FAIL_TO_PASS pass in this
environment, the regression did not break what it should, the import break still ran tests. Those
say the instance or the control needs work, not that the verdict is wrong, and are left out of the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bench.realrepo.junit import Results

Kind = Literal["fix", "noop", "regression", "import_break"]
KINDS: tuple[Kind, ...] = ("fix", "noop", "regression", "import_break")
EXPECTED: dict[Kind, str] = {
    "fix": "plausible; FAIL_TO_PASS pass",
    "noop": "not plausible; FAIL_TO_PASS still fail",
    "regression": "not plausible; the broken ids (with spaces) are new failures",
    "import_break": "not plausible; says no test ran",
}


@dataclass(frozen=True)
class Observed:
    """What the engine reported, and what the benchmark's own reading of the same runs found."""

    verdict: str
    new_failures: tuple[str, ...]
    says_no_tests: bool
    """The outcome states that no test ran (a status, a count of 0, or words to that effect)."""
    before: Results | None
    after: Results | None
    says_nothing_fixed: bool = False
    """The outcome states that every test failing before the change still fails (nothing shows a fix)."""


@dataclass(frozen=True)
class Judgement:
    result: Literal["right", "wrong", "invalid"]
    why: str = ""


def judge(kind: Kind, seen: Observed, fail_to_pass: Sequence[str], breaks: Sequence[str] = ()) -> Judgement:
    premise = _premise(kind, seen, fail_to_pass, breaks)
    if premise:
        return Judgement("invalid", premise)
    plausible = seen.verdict == "plausible"
    if kind == "fix":
        return Judgement("right") if plausible else Judgement("wrong", f"verdict {seen.verdict}; new failures: "
                                                                       f"{_few(seen.new_failures)}")
    if plausible:
        return Judgement("wrong", {"noop": "plausible although FAIL_TO_PASS still fail",
                                   "regression": f"plausible although {len(breaks)} tests broke",
                                   "import_break": "plausible although no test ran"}[kind])
    if kind == "regression":
        missing = [test for test in breaks if test not in seen.new_failures]
        if missing:
            return Judgement("wrong", f"new failures miss {_few(missing)}; they read {_few(seen.new_failures)}")
    if kind == "noop" and not seen.says_nothing_fixed:
        return Judgement("wrong", f"does not say that nothing was fixed; new failures: {_few(seen.new_failures)}")
    if kind == "import_break" and not seen.says_no_tests:
        return Judgement("wrong", f"does not say no test ran; new failures: {_few(seen.new_failures)}")
    return Judgement("right")


def _premise(kind: Kind, seen: Observed, fail_to_pass: Sequence[str], breaks: Sequence[str]) -> str:
    """Why the run cannot judge the verdict ('' when it can)."""
    before, after = seen.before, seen.after
    if before is None or after is None:
        return "no ground truth: the tests did not run " + ("at baseline" if before is None else "after the edit")
    if not before.ran:
        return "no test ran at baseline: the test command does not work in this environment"
    if not _all(before, fail_to_pass, {"failed", "error"}, anyhow=True):
        return "FAIL_TO_PASS do not fail at baseline here"
    if kind == "fix" and not _all(after, fail_to_pass, {"passed"}):
        return "the known fix does not make FAIL_TO_PASS pass here: " + _few(
            [t for t in fail_to_pass if not _all(after, [t], {"passed"})])
    if kind == "noop" and _all(after, fail_to_pass, {"passed"}):
        return "FAIL_TO_PASS pass after the no-op"
    if kind == "regression":
        if not breaks:
            return "no regression control for this instance"
        wrong = [t for t in breaks if t not in after.failing or t in before.failing]
        if wrong:
            return "the regression did not break (only) " + _few(wrong)
    if kind == "import_break" and after.ran:
        return "tests still ran after the import break"
    return ""


def _all(results: Results, tests: Sequence[str], wanted: set[str], anyhow: bool = False) -> bool:
    """Every test named (or, with `anyhow`, at least one) has a status in `wanted`."""
    hits = [bool(statuses) and all(s in wanted for s in statuses) for statuses in map(results.statuses, tests)]
    return any(hits) if anyhow else bool(hits) and all(hits)


def _few(items: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(f"`{i}`" for i in list(items)[:n])
    return (shown + f" (+{len(items) - n})") if len(items) > n else (shown or "none")
