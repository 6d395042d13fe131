"""One attempt: the Senior chooses files and describes the change, the Junior edits, checks judge.

Patterns (per repository or per run):
- `plan`: Senior plans, Junior turns the plan into edits (aider's architect/editor).
- `review`: Junior edits from the issue, Senior reviews the diff and the test results, Junior fixes.
- `plan+review`: both.
Malformed or unmatched edits, NEW lint errors, NEW test failures and review findings are reflected
back to the Junior from one budget, so an attempt always ends. Everything is recorded in `Attempt`;
how the attempt ended (its record, the contents to commit, its worktree, the stop) is an `AttemptResult`.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from runner import context, prompts
from runner.checks import lint, test_results
from runner.checks.sandboxes import Checks
from runner.edit.apply import apply_edits
from runner.edit.parse import parse_whole
from runner.errors import LimitReached, ModelError
from runner.limits import Budget
from runner.models import ModelPair
from runner.outcome import FIXES_NOTHING, Attempt, LLMCall, TestCounts
from runner.ports import ChatModel, CommandResult, Issue, MapProvider, Message
from runner.replies import closest_paths, feedback_line, fence_for, parse_file_list, review_approves
from runner.workspace import Worktree

Pattern = Literal["plan", "review", "plan+review"]


@dataclass(frozen=True)
class EngineSettings:
    pattern: Pattern = "plan"
    max_reflections: int = 3
    """Junior retries per attempt, shared by edit, lint, test and review feedback."""
    review_rounds: int = 1
    max_files: int = 12
    show_all_below_chars: int = 60_000
    """When every candidate file fits in this, the Senior sees them all and is not asked to choose."""
    file_budget_chars: int = 120_000
    map_tokens: int = 2048
    test_output_chars: int = 8_000
    test_timeout_s: float = 600.0
    deny: tuple[str, ...] = ()
    preselected: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttemptContext:
    """What every attempt of a job shares; each attempt adds its worktree, checks, number and model pairs."""

    chat: ChatModel
    budget: Budget
    files: Sequence[str]
    """The repository's tracked files: the paths an edit or the Senior may name."""
    issue: Issue
    settings: EngineSettings
    original: Callable[[str], str | None]
    """A file's text at the base commit (None: it did not exist): what an attempt's changes are measured against."""
    repo_map: MapProvider


@dataclass(frozen=True)
class AttemptResult:
    """How an attempt ended: what the loop ranks, commits and cleans up."""

    attempt: Attempt
    contents: Mapping[str, str | None]
    """Final text of every file the attempt changed (None: deleted): exactly what gets committed."""
    tree: Worktree
    stop: LimitReached | ModelError | None = None
    """The provider, cost or time stop that ended the attempt early (also in `attempt.error`); it ends the loop."""


@dataclass
class _Feedback:
    edit_errors: list[str] = field(default_factory=list)
    applied: int = 0
    lint_errors: list[str] = field(default_factory=list)
    test_output: str = ""
    new_failures: list[str] = field(default_factory=list)
    test_problem: str = ""
    """Why the tests vouch for nothing even without a new failure (no test ran, every old failure still fails)."""
    unfixed: list[str] = field(default_factory=list)
    """The tests that failed before the change and still fail, when it fixed none of them."""
    review: str = ""


_CRASH = re.compile(r"^Traceback \(most recent call last\):\n(?:.*\n)*?(\w+(?:Error|Exception)\b.*)$", re.M)


def _could_not_start(after: test_results.TestRun, result: CommandResult) -> str | None:
    """Why a run we could not read ran no test at all, or None: the runner said it could not start (pytest exit 4,
    exit 126/127), or pytest itself crashed on import (exit 1, no report, no summary, a bare traceback)."""
    cannot = test_results.unusable(after, result.output)
    if cannot or "pytest" not in after.command or after.exit_code != 1 or result.report:
        return cannot
    crash = _CRASH.search(result.output)
    return f"pytest itself crashed before running any test: {crash.group(1).strip()[:300]}" if crash else None


class AttemptRunner:
    """One attempt in its own worktree: `attempt` is its record, filled in as it goes; `run` returns the result."""

    def __init__(self, ctx: AttemptContext, tree: Worktree, checks: Checks, number: int,
                 pairs: Sequence[ModelPair]) -> None:
        self.ctx, self.tree, self.root, self.checks = ctx, tree, tree.path, checks
        self.pairs = list(pairs)
        """The pair to start with, then the fallbacks when a provider stays down."""
        self.pair_index = 0
        self.attempt = Attempt(number=number, senior=pairs[0].senior, junior=pairs[0].junior,
                               pattern=ctx.settings.pattern)
        self.contents: dict[str, str | None] = {}
        """Final text of every file the attempt changed (None: deleted): exactly what gets committed."""
        self.tracked = set(ctx.files)
        self._truncated = False
        """The last reply stopped at the output limit."""
        self._last_test_summary = "not run"
        """The tests' one-line verdict on the contents last checked, for the Senior's review."""
        self._checked: dict[str, str | None] | None = None
        """The contents the last lint and tests ran on (None: not yet)."""

    # ---- model calls ---------------------------------------------------------------------------
    def _call(self, role: str, messages: list[Message], purpose: str) -> str:
        """One call for `role`, falling back to the next model pair when a provider stays down. `purpose` says
        why the call is made, so a cost-cap stop can say what the money went on."""
        while True:
            pair = self.pairs[self.pair_index]
            model = pair.senior if role == "senior" else pair.junior
            self.ctx.budget.check()
            try:
                done = self.ctx.chat.complete(model, messages)
            except ModelError as exc:
                if self.pair_index + 1 >= len(self.pairs):
                    raise
                self.pair_index += 1
                nxt = self.pairs[self.pair_index]
                self.attempt.fallbacks.append(f"{model} failed: {exc.message[:300]}; switched to "
                                              f"{nxt.senior} + {nxt.junior}")
                self.attempt.senior, self.attempt.junior = nxt.senior, nxt.junior
                continue
            self.ctx.budget.charge(role, done, purpose)
            self._truncated = done.finish_reason == "length"
            self.attempt.calls.append(LLMCall(role, model, done.prompt_tokens, done.completion_tokens,
                                              done.cost_usd, done.duration_s, done.cost_estimated))
            return done.text

    # ---- the Senior ----------------------------------------------------------------------------
    def _issue_vars(self) -> dict[str, object]:
        issue = self.ctx.issue
        return {"issue_number": issue.number, "issue_title": issue.title, "issue_body": issue.body}

    def choose_files(self, senior: list[Message]) -> tuple[list[str], str]:
        """Files the Senior reads, and the map it was shown (empty when it saw every file)."""
        if self.ctx.settings.preselected:
            return [p for p in self.ctx.settings.preselected if p in self.tracked], ""
        ranked, rendered = self.ctx.repo_map(self.ctx.issue.text, self.ctx.settings.map_tokens)
        candidates = context.read_files(self.root, ranked, budget=self.ctx.settings.show_all_below_chars + 1)
        if sum(len(text) for _, text in candidates) <= self.ctx.settings.show_all_below_chars and \
                len(candidates) == len(context.readable(self.root, ranked)):
            return [path for path, _ in candidates], ""
        senior.append({"role": "user", "content": prompts.render(
            "senior_select.md.j2", repo_map=rendered, max_files=self.ctx.settings.max_files, **self._issue_vars())})
        reply = self._call("senior", senior, "choose the files to read")
        senior.append({"role": "assistant", "content": reply})
        wanted = parse_file_list(reply)
        unknown = [p for p in wanted if p not in self.tracked]
        if unknown:
            senior.append({"role": "user", "content": prompts.render(
                "senior_select_retry.md.j2", unknown=[(p, closest_paths(p, self.ctx.files)) for p in unknown])})
            reply = self._call("senior", senior, "choose the files again (it named unknown paths)")
            senior.append({"role": "assistant", "content": reply})
            wanted = parse_file_list(reply)
        chosen = [p for p in wanted if p in self.tracked][: self.ctx.settings.max_files]
        return (chosen or ranked[:5]), rendered

    def _shown(self, paths: Sequence[str]) -> list[tuple[str, str]]:
        return context.read_files(self.root, [*self.contents, *paths], budget=self.ctx.settings.file_budget_chars)

    def plan(self, senior: list[Message], files: list[str], repo_map: str) -> str:
        shown = self._shown(files)
        senior.append({"role": "user", "content": prompts.render(
            "senior_plan.md.j2", continued=bool(repo_map), repo_map="", file_contents=shown,
            fence=fence_for([t for _, t in shown]), **self._issue_vars())})
        plan = self._call("senior", senior, "plan the change")
        senior.append({"role": "assistant", "content": plan})
        self.attempt.plan = plan
        return plan

    def review(self, feedback_tests: str) -> str:
        diff = "".join(
            "".join(difflib.unified_diff((self.ctx.original(p) or "").splitlines(keepends=True),
                                         text.splitlines(keepends=True), f"a/{p}", f"b/{p}"))
            for p, text in sorted(self.contents.items()) if text is not None) + "".join(
            f"deleted: {p}\n" for p, text in sorted(self.contents.items()) if text is None)
        messages: list[Message] = [
            {"role": "system", "content": prompts.render("senior_review_system.md")},
            {"role": "user", "content": prompts.render(
                "senior_review.md.j2", diff=diff, test_command=self.checks.test_command or "",
                test_summary=feedback_tests, **self._issue_vars())}]
        verdict = self._call("senior", messages, "review the diff")
        self.attempt.review = verdict
        return verdict

    # ---- checks --------------------------------------------------------------------------------
    def _timeout(self) -> float:
        """A command may not outlive the job: its limit is the smaller of the per-command cap and the time left."""
        return max(1.0, min(self.ctx.settings.test_timeout_s, self.ctx.budget.seconds_left()))

    def _lint(self) -> list[str]:
        after = {path: text for path, text in self.contents.items() if text is not None}
        before = {path: self.ctx.original(path) for path in after}
        errors = [lint.with_context(e, after[e.path]) for e in lint.new_errors(before, after)]
        checks = self.checks
        if checks.session and checks.lint_command:
            run = checks.session.run(checks.lint_command, self._timeout())
            self.attempt.lint = run
            if not run.passed:
                fresh = lint.new_output_lines(checks.baseline_lint.output if checks.baseline_lint else "", run.output)
                if fresh:
                    header = feedback_line("junior_feedback_lint.md.j2", lint_command=checks.lint_command)
                    errors.append(header + "\n" + "\n".join(fresh[:40]))
        return errors

    def _test(self, feedback: _Feedback) -> str:
        """Run the tests; fill feedback with NEW failures; return a one-line summary for a review."""
        checks = self.checks
        if not (checks.session and checks.test_command):
            return "not run (no test command)"
        result = checks.session.run(checks.test_command, self._timeout())
        after, before = test_results.read(result), checks.baseline_run
        comparison, counts = test_results.compare(before, after), after.counts
        cannot = _could_not_start(after, result) if after.status == "unreadable" else None
        if cannot:
            # The runner said it could not start (pytest exit 4: a conftest that no longer imports; exit 127):
            # no test ran, which is the problem, rather than "which tests fail cannot be read".
            comparison = test_results.Comparison([], [], [], f"no test ran: {cannot}")
            counts = TestCounts("no_tests", False, 0)
        attempt = self.attempt
        attempt.test, attempt.tests_after = result, counts
        attempt.tests_before = before.counts if before else None
        attempt.new_failures, attempt.still_failing = comparison.new, comparison.still_failing
        attempt.fixed_tests = comparison.fixed
        counted = f"{counts}" + (f"; {before.counts} before the change" if before else "")
        if comparison.ok and attempt.fixes_nothing:
            # Nothing new fails, but nothing that failed passes now either: a cosmetic edit ends exactly so.
            feedback.test_problem, feedback.unfixed = FIXES_NOTHING, comparison.still_failing
            feedback.test_output = test_results.cut(result.output, self.ctx.settings.test_output_chars,
                                                    keep=comparison.still_failing)
            return f"{FIXES_NOTHING} ({counted})"
        if comparison.ok:
            note = f"; {len(comparison.still_failing)} failed before the change too" if comparison.still_failing else ""
            fixed = f"; fixes {len(comparison.fixed)} that failed before" if comparison.fixed else ""
            return ("passed" if result.passed else "no new failures") + f" ({counted})" + fixed + note
        feedback.new_failures, feedback.test_problem = comparison.new, comparison.problem
        feedback.test_output = test_results.cut(result.output, self.ctx.settings.test_output_chars, keep=comparison.new)
        if not comparison.new:
            return comparison.problem
        return f"new failures: {', '.join(comparison.new)} ({counted})"

    # ---- the attempt ---------------------------------------------------------------------------
    def run(self) -> AttemptResult:
        """Run the attempt. However it ends (but a cancel, which propagates), what would be committed is checked
        last, so the report describes the committed contents; a cost, time or provider stop ends it early and is
        handed back in the result, for the loop to stop on."""
        started = time.monotonic()
        stop: LimitReached | ModelError | None = None
        try:
            try:
                self._run()
            except (LimitReached, ModelError) as exc:
                stop = exc
            self._check_final()
        finally:
            self.attempt.changed_files = sorted(self.contents)
            self.attempt.duration_s = time.monotonic() - started
        if stop is not None:
            self.attempt.error = stop.message
        return AttemptResult(self.attempt, MappingProxyType(dict(self.contents)), self.tree, stop)

    def _run(self) -> None:
        settings = self.ctx.settings
        senior: list[Message] = [{"role": "system", "content": prompts.render("senior_system.md")}]
        files, repo_map = self.choose_files(senior)
        self.attempt.files_read = files
        shown = self._shown(files)
        fence = fence_for([t for _, t in shown])
        if "plan" in settings.pattern:
            plan = self.plan(senior, files, repo_map)
            first = prompts.render("junior_user.md.j2", plan=plan, file_contents=shown, fence=fence)
        else:
            first = prompts.render("junior_issue.md.j2", file_contents=shown, fence=fence, **self._issue_vars())
        junior: list[Message] = [{"role": "system", "content": prompts.render("junior_system.md")},
                                 {"role": "user", "content": first}]
        reviews = 0
        purpose = "write the edits"
        while True:
            reply = self._call("junior", junior, purpose)
            junior.append({"role": "assistant", "content": reply})
            feedback = self._check(reply)
            ok = not (feedback.edit_errors or feedback.lint_errors or feedback.new_failures or feedback.test_problem)
            if ok and "review" in settings.pattern and reviews < settings.review_rounds and self.contents:
                reviews += 1
                verdict = self.review(self._last_test_summary)
                if not review_approves(verdict):
                    feedback.review = verdict
                    ok = False
            if ok or self.attempt.reflections >= settings.max_reflections:
                return
            self.attempt.reflections += 1
            purpose = _fix_purpose(feedback)
            shown = self._shown(files)
            junior.append({"role": "user", "content": prompts.render(
                "junior_fix.md.j2", edit_errors=feedback.edit_errors, applied=feedback.applied,
                lint_errors=feedback.lint_errors, test_output=feedback.test_output,
                new_failures=feedback.new_failures, test_problem=feedback.test_problem,
                unfixed=feedback.unfixed,
                test_command=self.checks.test_command or "",
                review=feedback.review, file_contents=shown,
                fence=fence_for([t for _, t in shown] + [feedback.test_output, *feedback.lint_errors]))})

    def _drop_reverted(self) -> None:
        """A file edited back to its original text (or created, then deleted) is no change at all."""
        for path, text in list(self.contents.items()):
            if text == self.ctx.original(path):
                del self.contents[path]

    def _check_final(self) -> None:
        """The report describes what gets committed: when the last round's edits failed to apply, the
        contents kept from earlier rounds were never linted or tested as a whole, so check them now."""
        if not self.contents or self._checked == self.contents:
            return
        self.attempt.lint_errors = self._lint()
        self._last_test_summary = self._test(_Feedback())
        self._checked = dict(self.contents)

    def _check(self, reply: str) -> _Feedback:
        parsed = parse_whole(reply, known=self.ctx.files)
        applied = apply_edits(self.root, parsed.blocks, self.ctx.settings.deny)
        self.contents.update(applied.contents)
        self.contents.update({path: None for path in applied.deleted})
        self._drop_reverted()
        self.attempt.edits_proposed += len(parsed.blocks)
        self.attempt.edits_applied += len(applied.applied)
        # A block sent again after it applied is not a failure of the patch: it is only worth a word to the model.
        resent = {f.message for f in applied.failures if f.kind == "already_applied"}
        feedback = _Feedback(edit_errors=parsed.errors + [e for e in applied.errors if e not in resent],
                             applied=len(applied.applied))
        if self._truncated:
            feedback.edit_errors.append(feedback_line("junior_feedback_cut_off.md"))
        if not parsed.blocks and not parsed.errors and not self.contents:
            feedback.edit_errors = [feedback_line("junior_feedback_no_block.md")]
        elif applied.applied and not self.contents and not feedback.edit_errors:
            feedback.edit_errors = [feedback_line("junior_feedback_no_change.md")]
        self.attempt.edit_errors = feedback.edit_errors
        self.attempt.lint_errors = []
        if not self.contents:
            return feedback
        self.ctx.budget.check()  # a cancel or the deadline stops the attempt before minutes of lint and tests
        feedback.lint_errors = self.attempt.lint_errors = self._lint()
        if not feedback.edit_errors and not feedback.lint_errors:
            self._last_test_summary = self._test(feedback)
            self._checked = dict(self.contents)
        return feedback


def _fix_purpose(feedback: _Feedback) -> str:
    """Why the Junior is asked again, in the words a cost-cap stop uses."""
    reasons = [name for name, present in (("edits that did not apply", feedback.edit_errors),
                                           ("new lint errors", feedback.lint_errors),
                                           ("new test failures", feedback.new_failures),
                                           ("tests that showed nothing", feedback.test_problem),
                                           ("the Senior's review", feedback.review)) if present]
    return "fix " + " and ".join(reasons or ["its edits"])
