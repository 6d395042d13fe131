"""The job's limits: what it may spend, until when it may run, and whether it is still wanted.

Every attempt of a job draws on one `Budget`. Running out is a typed stop, one type per way, so the
attempt loop ends the same way for each and the outcome says which it was: `Cancelled` (a
maintainer's `/cancel` or a newer trigger), `CostLimitReached`, `TimeLimitReached`.

The budget keeps every model call it was charged for, so a cost stop can say what spent the money:
which models, for which role, how many calls, and whether their price was only an estimate (a model
with no known price, which the operator can price in `AI_FIX_MODEL_PRICES`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from runner.errors import Cancelled, CostLimitReached, TimeLimitReached
from runner.ports import Completion
from runner.prices import FALLBACK, describe

_SHOWN_GROUPS = 3
"""Models named in a cost stop; the rest are summed up in one clause."""


@dataclass(frozen=True)
class Charge:
    """One model call the budget paid for: who made it (`role`: senior or junior), to which model, for how much."""

    role: str
    model: str
    cost_usd: float
    estimated: bool = False
    """The model had no known price: `cost_usd` is the high fallback estimate."""
    purpose: str = ""
    """Why the call was made ("plan the change", "fix new test failures"...); empty when the caller did not say."""


@dataclass
class Budget:
    """Checked before every model call and before an attempt's lint and tests (minutes each)."""

    max_cost_usd: float
    deadline: float
    """On `clock`'s scale."""
    should_stop: Callable[[], bool] = lambda: False
    clock: Callable[[], float] = time.monotonic
    charges: list[Charge] = field(default_factory=list)

    @property
    def spent_usd(self) -> float:
        return sum(c.cost_usd for c in self.charges)

    def charge(self, role: str, done: Completion, purpose: str = "") -> None:
        """Record a call `role` made, why, and what it cost."""
        self.charges.append(Charge(role, done.model, done.cost_usd, done.cost_estimated, purpose))

    def check(self) -> None:
        """Raise the stop that applies, if any; a cancel comes first, since no result of the job is wanted."""
        if self.should_stop():
            raise Cancelled("the job was cancelled")
        spent = self.spent_usd
        if spent >= self.max_cost_usd:
            raise CostLimitReached(cost_stop(self.max_cost_usd, spent, self.charges),
                                   hint=_cost_hint(self.charges))
        if self.seconds_left() <= 0:
            raise TimeLimitReached("the time limit was reached", hint="raise `timeout_minutes`")

    def seconds_left(self) -> float:
        """Negative once the deadline has passed; commands are given at most this long."""
        return self.deadline - self.clock()


def cost_stop(cap: float, spent: float, charges: Sequence[Charge]) -> str:
    """`the cost cap of $2 was reached: 5 calls to ollama/x (junior 3, senior 2; estimated, no known price)
    spent $2.31`: the models that spent the most first, the calls' roles, and which prices were guesses."""
    head = f"the cost cap of {_usd(cap)} was reached"
    groups = _groups(charges)
    if not groups:
        return f"{head} before any model call"
    if len(groups) > 1:
        head += f" ({_usd(spent)} spent)"
    shown = [_clause(group) for group in groups[:_SHOWN_GROUPS]]
    rest = [c for group in groups[_SHOWN_GROUPS:] for c in group]
    if rest:
        shown.append(f"{_count(len(rest))} to {len(groups) - _SHOWN_GROUPS} other model(s) spent "
                     f"{_usd(sum(c.cost_usd for c in rest))}")
    return f"{head}: " + ", ".join(shown) + _purposes(charges)


def _purposes(charges: Sequence[Charge]) -> str:
    """`; the calls were made to plan the change (1), write the edits (1), fix new test failures (3)`, in the
    order the job made them: what the budget went on, which a count by model alone does not say."""
    counts: dict[str, int] = {}
    for c in charges:
        if c.purpose:
            counts[c.purpose] = counts.get(c.purpose, 0) + 1
    if not counts:
        return ""
    return "; the calls were made to " + ", ".join(f"{purpose} ({n})" for purpose, n in counts.items())


def _groups(charges: Sequence[Charge]) -> list[list[Charge]]:
    """Calls by (model, estimated), the costliest group first (ties: the first called first)."""
    by_key: dict[tuple[str, bool], list[Charge]] = {}
    for c in charges:
        by_key.setdefault((c.model, c.estimated), []).append(c)
    return sorted(by_key.values(), key=lambda group: -sum(c.cost_usd for c in group))


def _clause(group: list[Charge]) -> str:
    roles: dict[str, int] = {}
    for c in group:
        roles[c.role] = roles.get(c.role, 0) + 1
    ranked = sorted(roles.items(), key=lambda item: -item[1])
    why = ranked[0][0] if len(ranked) == 1 else ", ".join(f"{role} {n}" for role, n in ranked)
    if group[0].estimated:
        why += "; estimated, no known price"
    return f"{_count(len(group))} to {group[0].model} ({why}) spent {_usd(sum(c.cost_usd for c in group))}"


def _cost_hint(charges: Sequence[Charge]) -> str:
    guessed = list(dict.fromkeys(c.model for c in charges if c.estimated))
    if not guessed:
        return "raise `max_cost_usd` in .github/ai-fix.yml"
    return (f"the calls to {', '.join(guessed)} were charged an estimate, {describe(FALLBACK)}, for want of a "
            "known price: the App's operator can set the real price in AI_FIX_MODEL_PRICES (0 for a free local "
            "model); or raise `max_cost_usd` in .github/ai-fix.yml")


def _count(n: int) -> str:
    return f"{n} call" + ("" if n == 1 else "s")


def _usd(amount: float) -> str:
    return f"${amount:.4g}"
