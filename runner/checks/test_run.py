"""One test command's result as the verdict reads it: counts, exact failing ids, and whether tests ran at all.

The readers (`junit` for structured reports, `console` for a runner's own closing summary) build it;
`test_results` compares two of them. Nothing here looks at text: a `TestRun` is what was read, so the
verdict never depends on where an output was cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from runner.outcome import TestCounts

Source = Literal["junit", "pytest-summary", "unittest", "go", "cargo", "exit-code"]
"""Where the result was read from; "exit-code" when the output had nothing we can read."""
Status = Literal["passed", "failed", "no_tests", "collection_error", "timed_out", "unreadable"]


@dataclass(frozen=True)
class TestRun:
    __test__ = False  # not a pytest test class, whatever its name

    source: Source
    exit_code: int
    timed_out: bool = False
    collected: int | None = None
    """Tests found (collection errors not included); None when the runner does not say."""
    passed: int = 0
    failed: int = 0
    errors: int = 0
    """Tests that errored (setup, teardown) and modules that could not be collected, as pytest counts them."""
    skipped: int = 0
    failures: frozenset[str] = frozenset()
    """Exact ids of the failed and errored tests (and of the modules that could not be collected)."""
    collection_errors: tuple[str, ...] = ()
    """Modules (or crates) whose tests could not even be collected: an import or compile error."""
    complete: bool = True
    """`failures` names every failure the counts report; False when some names were not in what was read
    (a summary longer than the output kept), so comparing ids would be guessing."""
    command: str = ""
    duration_s: float = 0.0
    first_error: str = field(default="", compare=False)
    """The first error message of a collection error (ImportError: ...), for a person to act on."""

    @property
    def ran(self) -> bool:
        """At least one test executed. A command whose output we cannot read ran when it exited 0: we
        cannot count its tests, and refusing every unknown runner would make no change plausible."""
        if self.source == "exit-code":
            return self.exit_code == 0 and not self.timed_out
        return self.passed + self.failed + self.errors - len(self.collection_errors) > 0

    @property
    def status(self) -> Status:
        if self.timed_out:
            return "timed_out"
        if self.source == "exit-code":
            return "passed" if self.exit_code == 0 else "unreadable"
        if not self.ran:
            return "collection_error" if self.collection_errors else "no_tests"
        if self.exit_code != 0 or self.failed or self.errors:
            return "failed"
        return "passed"

    @property
    def counts(self) -> TestCounts:
        """The plain record an attempt and the outcome keep (no ids: the comparison lists those)."""
        return TestCounts(self.status, self.ran, self.collected, self.passed, self.failed, self.errors,
                          self.skipped, self.collection_errors)
