"""What the engine's outcome says about its tests, read defensively.

The outcome's test fields are growing (structured results, counts, "no test ran", an unusable
baseline): this reads what exists, and nothing breaks where a field does not exist yet. Counts come
from the first of: a test-run record on the attempt or outcome (any field holding `passed`, `failed`,
`errors`, `skipped` counts), or the engine's own reader `runner.checks.test_results.read` applied to the
command result, when it has one. Otherwise they are unknown (None), and the table says so.
"""

from __future__ import annotations

import re
from typing import Any

from runner.checks import test_results
from runner.ports import CommandResult

_COUNTS = ("collected", "passed", "failed", "errors", "skipped")
_NOT_RAN = re.compile(r"no tests? (?:ran|were run|was run|run)|did not run|not a single test|collected 0 items|"
                      r"collection error|could not be collected|no_tests|collection_error", re.IGNORECASE)


def counts(record: object | None, result: CommandResult | None) -> dict[str, Any] | None:
    """The engine's counts for one test run: {collected, passed, failed, errors, skipped, status?}, or None."""
    run = _run_record(record) if record is not None else None
    if run is None and result is not None:
        reader = getattr(test_results, "read", None)
        run = reader(result) if callable(reader) else None
    if run is None:
        return None
    data: dict[str, Any] = {name: getattr(run, name, None) for name in _COUNTS}
    status = getattr(run, "status", None)
    if status is not None:
        data["status"] = str(status)
    return data


def says_no_tests(attempt: object | None, after: dict[str, Any] | None) -> bool:
    """The outcome states that the attempt's tests did not run: a status, a `ran` flag, or its words."""
    if after is not None and after.get("status") in ("no_tests", "collection_error"):
        return True
    run = _run_record(attempt) if attempt is not None else None
    # `ran` False on a run the engine could not read ("unreadable") means it cannot say, not that none ran.
    if run is not None and getattr(run, "ran", True) is False and \
            str(getattr(run, "status", "")) not in ("unreadable", "timed_out"):
        return True
    words = [*getattr(attempt, "new_failures", []), getattr(attempt, "error", "")]
    return any(_NOT_RAN.search(str(word)) for word in words)


def says_nothing_fixed(attempt: object | None) -> bool:
    """The outcome states that every test failing before the change still fails after it (the engine's
    `Attempt.fixes_nothing`; an engine without it does not say so)."""
    return bool(getattr(attempt, "fixes_nothing", False))


# The record an attempt holds of its baseline is not its own run: the attempt's counts are `tests_after`.
_PREFERRED = ("tests_after", "baseline_tests")
_NOT_ITS_OWN = ("tests_before",)


def _run_record(holder: object) -> object | None:
    """A field of `holder` that looks like a test-run record (has the counts), if any: the run's own record by
    name first, never the baseline's record an attempt keeps beside its own."""
    fields = getattr(holder, "__dataclass_fields__", None) or {}
    ordered = [*(n for n in _PREFERRED if n in fields), *(n for n in fields if n not in _PREFERRED)]
    for name in ordered:
        if name in _NOT_ITS_OWN:
            continue
        value: object = getattr(holder, name, None)
        if value is not None and all(isinstance(getattr(value, c, None), int) for c in _COUNTS[1:]):
            return value
    return None
