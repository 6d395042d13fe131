"""The job's limits: each way of running out is its own typed stop, with the words users read."""

from __future__ import annotations

import time

import pytest

from runner.errors import Cancelled, CostLimitReached, LimitReached, RunnerError, TimeLimitReached
from runner.limits import Budget


def test_within_its_limits_a_job_goes_on() -> None:
    budget = Budget(max_cost_usd=1.0, deadline=time.monotonic() + 60)
    budget.spend(0.5)
    budget.check()
    assert budget.spent_usd == 0.5 and 0 < budget.seconds_left() <= 60


def test_the_time_limit_is_its_own_stop() -> None:
    now = [100.0]
    budget = Budget(max_cost_usd=1.0, deadline=160.0, clock=lambda: now[0])
    budget.check()
    now[0] = 160.0
    with pytest.raises(TimeLimitReached) as stopped:
        budget.check()
    assert stopped.value.message == "the time limit was reached"
    assert stopped.value.hint == "raise `timeout_minutes`"
    assert not isinstance(stopped.value, CostLimitReached)
    assert isinstance(stopped.value, LimitReached) and isinstance(stopped.value, RunnerError)
    assert budget.seconds_left() == 0.0


def test_the_cost_cap_is_its_own_stop() -> None:
    budget = Budget(max_cost_usd=0.25, deadline=time.monotonic() + 60)
    budget.spend(0.25)
    with pytest.raises(CostLimitReached) as stopped:
        budget.check()
    assert stopped.value.message == "the cost cap of $0.25 was reached"
    assert stopped.value.hint == "raise `max_cost_usd` in .github/ai-fix.yml"
    assert not isinstance(stopped.value, TimeLimitReached)


def test_a_cancel_comes_before_any_limit() -> None:
    budget = Budget(max_cost_usd=0.25, deadline=0.0, should_stop=lambda: True, clock=lambda: 1.0)
    budget.spend(1.0)
    with pytest.raises(Cancelled, match="^the job was cancelled$"):
        budget.check()
