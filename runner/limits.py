"""The job's limits: what it may spend, until when it may run, and whether it is still wanted.

Every attempt of a job draws on one `Budget`. Running out is a typed stop, one type per way, so the
attempt loop ends the same way for each and the outcome says which it was: `Cancelled` (a
maintainer's `/cancel` or a newer trigger), `CostLimitReached`, `TimeLimitReached`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from runner.errors import Cancelled, CostLimitReached, TimeLimitReached


@dataclass
class Budget:
    """Checked before every model call and before an attempt's lint and tests (minutes each)."""

    max_cost_usd: float
    deadline: float
    """On `clock`'s scale."""
    spent_usd: float = 0.0
    should_stop: Callable[[], bool] = lambda: False
    clock: Callable[[], float] = time.monotonic

    def check(self) -> None:
        """Raise the stop that applies, if any; a cancel comes first, since no result of the job is wanted."""
        if self.should_stop():
            raise Cancelled("the job was cancelled")
        if self.spent_usd >= self.max_cost_usd:
            raise CostLimitReached(f"the cost cap of ${self.max_cost_usd:.4g} was reached",
                                   hint="raise `max_cost_usd` in .github/ai-fix.yml")
        if self.seconds_left() <= 0:
            raise TimeLimitReached("the time limit was reached", hint="raise `timeout_minutes`")

    def spend(self, usd: float) -> None:
        self.spent_usd += usd

    def seconds_left(self) -> float:
        """Negative once the deadline has passed; commands are given at most this long."""
        return self.deadline - self.clock()
