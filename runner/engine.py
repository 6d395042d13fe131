"""One attempt: the Senior describes the change, the Junior writes edits, tests judge them.

Malformed or unmatched edits and NEW test failures are reflected back to the Junior, all from one
budget, so an attempt always ends. Every call, edit and command is recorded in the `Attempt`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runner import context, prompts
from runner.apply import apply_edits
from runner.edits import parse
from runner.errors import Cancelled, CostLimitReached
from runner.llm import ChatModel, Message
from runner.models import ModelPair
from runner.outcome import Attempt, CommandRun, LLMCall

MAX_REFLECTIONS = 3
TEST_OUTPUT_CHARS = 8_000


class CommandResultLike(Protocol):
    @property
    def command(self) -> str: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def output(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def timed_out(self) -> bool: ...


class CommandRunner(Protocol):
    """Runs a shell command against the worktree, in the sandbox."""

    def run(self, command: str, timeout_s: float) -> CommandResultLike: ...


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}"


@dataclass
class Budget:
    """The job's limits; checked before every model call."""

    max_cost_usd: float
    deadline: float
    spent_usd: float = 0.0
    should_stop: Callable[[], bool] = lambda: False

    def check(self) -> None:
        if self.should_stop():
            raise Cancelled("the job was cancelled")
        if self.spent_usd >= self.max_cost_usd:
            raise CostLimitReached(f"the cost cap of ${self.max_cost_usd:.4g} was reached",
                                   hint="raise `max_cost_usd` in .github/ai-fix.yml")
        if time.monotonic() >= self.deadline:
            raise CostLimitReached("the time limit was reached", hint="raise `timeout_minutes`")


def as_run(result: CommandResultLike) -> CommandRun:
    return CommandRun(command=result.command, exit_code=result.exit_code, duration_s=result.duration_s,
                      output=result.output, timed_out=result.timed_out)


def fence_for(texts: Sequence[str]) -> str:
    """A fence longer than any backtick run at line starts in the shown files."""
    fence = "```"
    while any(line.lstrip().startswith(fence) for text in texts for line in text.splitlines()):
        fence += "`"
    return fence


def cut(text: str, limit: int = TEST_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-(limit - head):]}"


class AttemptRunner:
    def __init__(self, chat: ChatModel, budget: Budget, root: Path, files: list[str], issue: Issue,
                 pair: ModelPair, number: int, deny: Sequence[str] = ()) -> None:
        self.chat, self.budget, self.root, self.files = chat, budget, root, files
        self.issue, self.pair, self.deny = issue, pair, deny
        self.attempt = Attempt(number=number, senior=pair.senior, junior=pair.junior)
        self.contents: dict[str, str] = {}

    def _call(self, role: str, model: str, messages: list[Message]) -> str:
        self.budget.check()
        done = self.chat.complete(model, messages)
        self.budget.spent_usd += done.cost_usd
        self.attempt.calls.append(LLMCall(role, model, done.prompt_tokens, done.completion_tokens,
                                          done.cost_usd, done.duration_s))
        return done.text

    def plan(self) -> str:
        chosen = context.select(self.root, self.files, self.issue.text)
        shown = context.read_files(self.root, chosen)
        listed = self.files[: context.MAX_LISTED]
        user = prompts.render("senior_user.md.j2", issue_number=self.issue.number, issue_title=self.issue.title,
                              issue_body=self.issue.body, file_count=len(self.files), file_list=listed,
                              files_truncated=len(self.files) > len(listed), file_contents=shown,
                              fence=fence_for([t for _, t in shown]))
        plan = self._call("senior", self.pair.senior, [
            {"role": "system", "content": prompts.render("senior_system.md")},
            {"role": "user", "content": user}])
        self.attempt.plan = plan
        return plan

    def _junior_files(self, plan: str) -> list[tuple[str, str]]:
        named = context.mentioned(self.files, plan) or context.select(self.root, self.files, self.issue.text)
        return context.read_files(self.root, [*self.contents, *named])

    def run(self, tests: CommandRunner | None, test_command: str | None, baseline: CommandRun | None,
            test_timeout_s: float) -> Attempt:
        started = time.monotonic()
        plan = self.plan()
        shown = self._junior_files(plan)
        messages: list[Message] = [
            {"role": "system", "content": prompts.render("junior_system.md")},
            {"role": "user", "content": prompts.render("junior_user.md.j2", plan=plan, file_contents=shown,
                                                       fence=fence_for([t for _, t in shown]))}]
        reflections = 0
        while True:
            reply = self._call("junior", self.pair.junior, messages)
            messages.append({"role": "assistant", "content": reply})
            parsed = parse(reply)
            applied = apply_edits(self.root, parsed.blocks, self.deny)
            self.contents.update(applied.contents)
            self.attempt.edits_proposed += len(parsed.blocks)
            self.attempt.edits_applied += len(applied.applied)
            errors = parsed.errors + applied.errors
            if not parsed.blocks and not parsed.errors:
                errors = ["your reply contained no SEARCH/REPLACE block"]
            self.attempt.edit_errors = errors
            self.attempt.changed_files = sorted(self.contents)
            test_output = ""
            if not errors and self.contents and tests and test_command:
                result = as_run(tests.run(test_command, test_timeout_s))
                self.attempt.test = result
                if not result.passed and (baseline is None or baseline.passed):
                    test_output = cut(result.output)
            if (not errors and not test_output) or reflections >= MAX_REFLECTIONS:
                break
            reflections += 1
            shown = context.read_files(self.root, [*self.contents, *context.mentioned(self.files, plan)])
            messages.append({"role": "user", "content": prompts.render(
                "junior_fix.md.j2", edit_errors=errors, applied=len(applied.applied), test_output=test_output,
                test_command=test_command or "", file_contents=shown,
                fence=fence_for([t for _, t in shown] + [test_output]))})
        self.attempt.duration_s = time.monotonic() - started
        return self.attempt
