"""The job's limits: each way of running out is its own typed stop, with the words users read."""

from __future__ import annotations

import time

import pytest

from runner.errors import Cancelled, CostLimitReached, LimitReached, RunnerError, TimeLimitReached
from runner.limits import Budget
from runner.ports import Completion


def _call(model: str, cost: float, estimated: bool = False) -> Completion:
    return Completion("reply", model, 1000, 100, cost, 1.0, cost_estimated=estimated)


def test_within_its_limits_a_job_goes_on() -> None:
    budget = Budget(max_cost_usd=1.0, deadline=time.monotonic() + 60)
    budget.charge("senior", _call("openai/gpt-4o", 0.5))
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
    budget.charge("senior", _call("openai/gpt-4o", 0.25))
    with pytest.raises(CostLimitReached) as stopped:
        budget.check()
    assert stopped.value.message == "the cost cap of $0.25 was reached: 1 call to openai/gpt-4o (senior) spent $0.25"
    assert stopped.value.hint == "raise `max_cost_usd` in .github/ai-fix.yml"
    assert not isinstance(stopped.value, TimeLimitReached)


def test_a_cancel_comes_before_any_limit() -> None:
    budget = Budget(max_cost_usd=0.25, deadline=0.0, should_stop=lambda: True, clock=lambda: 1.0)
    budget.charge("junior", _call("openai/gpt-4o", 1.0))
    with pytest.raises(Cancelled, match="^the job was cancelled$"):
        budget.check()


def test_a_cost_stop_names_the_calls_that_spent_the_budget_and_which_prices_were_guessed() -> None:
    budget = Budget(max_cost_usd=2.0, deadline=time.monotonic() + 60)
    for role, cost in [("senior", 0.5), ("junior", 0.45), ("junior", 0.46), ("senior", 0.44), ("junior", 0.46)]:
        budget.check()
        budget.charge(role, _call("ollama/qwen", cost, estimated=True))
    with pytest.raises(CostLimitReached) as stopped:
        budget.check()
    assert stopped.value.message == ("the cost cap of $2 was reached: 5 calls to ollama/qwen (junior 3, senior 2; "
                                     "estimated, no known price) spent $2.31")
    assert stopped.value.hint == (
        "the calls to ollama/qwen were charged an estimate, $15/$75 per million input/output tokens, for want of a "
        "known price: the App's operator can set the real price in AI_FIX_MODEL_PRICES (0 for a free local model); "
        "or raise `max_cost_usd` in .github/ai-fix.yml")


def test_several_models_costliest_first_the_rest_summed_up() -> None:
    budget = Budget(max_cost_usd=1.0, deadline=time.monotonic() + 60)
    calls = [("senior", "anthropic/claude-opus-4-1", 0.6, False), ("junior", "openai/gpt-4o-mini", 0.01, False),
             ("junior", "openai/unknown", 0.2, True), ("junior", "openai/gpt-4o-mini", 0.01, False),
             ("senior", "gemini/gemini-2.5-pro", 0.1, False), ("junior", "deepseek/deepseek-chat", 0.05, False),
             ("senior", "anthropic/claude-opus-4-1", 0.1, False)]
    for role, model, cost, estimated in calls:
        budget.charge(role, _call(model, cost, estimated))
    with pytest.raises(CostLimitReached) as stopped:
        budget.check()
    assert stopped.value.message == (
        "the cost cap of $1 was reached ($1.07 spent): 2 calls to anthropic/claude-opus-4-1 (senior) spent $0.7, "
        "1 call to openai/unknown (junior; estimated, no known price) spent $0.2, "
        "1 call to gemini/gemini-2.5-pro (senior) spent $0.1, "
        "3 calls to 2 other model(s) spent $0.07")
    assert "the calls to openai/unknown were charged an estimate" in stopped.value.hint


def test_free_calls_never_reach_a_cap_and_a_zero_cap_stops_before_any_call() -> None:
    budget = Budget(max_cost_usd=0.01, deadline=time.monotonic() + 60)
    for _ in range(50):
        budget.charge("junior", _call("ollama/qwen", 0.0))
    budget.check()
    assert len(budget.charges) == 50 and budget.spent_usd == 0.0
    with pytest.raises(CostLimitReached) as stopped:
        Budget(max_cost_usd=0.0, deadline=time.monotonic() + 60).check()
    assert stopped.value.message == "the cost cap of $0 was reached before any model call"


def test_a_cost_stop_says_what_the_calls_were_made_for() -> None:
    budget = Budget(max_cost_usd=1.0, deadline=time.monotonic() + 60)
    for role, purpose in [("senior", "plan the change"), ("junior", "write the edits"),
                          ("junior", "fix new test failures"), ("junior", "fix new test failures")]:
        budget.charge(role, _call("ollama/qwen", 0.3, estimated=True), purpose)
    with pytest.raises(CostLimitReached) as stopped:
        budget.check()
    assert stopped.value.message == (
        "the cost cap of $1 was reached: 4 calls to ollama/qwen (junior 3, senior 1; estimated, no known price) "
        "spent $1.2; the calls were made to plan the change (1), write the edits (1), fix new test failures (2)")
