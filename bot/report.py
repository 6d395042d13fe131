"""Turn an `Outcome` into what maintainers read: the PR body, the progress comment, replies.

The text only states what the outcome records; templates live beside this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from bot.github import clip
from runner import Attempt, CommandResult, Outcome, TestCounts, Verdict, is_test_path

_VERDICTS = {
    Verdict.PLAUSIBLE: "plausible: the edits applied, with no new lint error and no new test failure",
    Verdict.NOT_PLAUSIBLE: "not plausible",
    Verdict.NO_EDIT: "no edit applied",
    Verdict.ERROR: "stopped by an error",
}


def _result(run: CommandResult | None, counts: TestCounts | None = None) -> str:
    if run is None:
        return "not run"
    if run.timed_out:
        return f"timed out after {run.duration_s:.0f} s"
    done = f"{'passed' if run.passed else 'failed'} (exit {run.exit_code}, {run.duration_s:.1f} s)"
    return f"{done}: {counts}" if counts is not None and counts.status != "unreadable" else done


def tests_line(outcome: Outcome, attempt: Attempt | None) -> str:
    """The tests' counts before and after the change, plainly: "4 passed, 1 failed before; 5 passed after"."""
    if outcome.test_command is None:
        return ""
    before = str(outcome.baseline_tests) if outcome.baseline_tests else "not run"
    after = str(attempt.tests_after) if attempt and attempt.tests_after else "not run"
    return f"{before} before the change; {after} after."


_CLOSING = re.compile(r"\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(\s*:?\s+)(?=[\w.-]*/?[\w.-]*#\d|https?://)", re.I)
_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")


def neutralize(text: str) -> str:
    """Model- and repository-written text quoted in a PR body must not act on GitHub: no closing keywords
    (merging would close other issues) and no @mentions (pings), so both get a zero-width break."""
    return _MENTION.sub("@\u200b", _CLOSING.sub(lambda m: m.group(1) + "\u200b" + m.group(2), text))


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:]


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["tail"] = _tail
    env.filters["neutral"] = neutralize
    env.globals["result"] = _result
    return env


def _render(name: str, **context: Any) -> str:
    return clip(_env().get_template(name).render(**context).strip() + "\n")


def chosen_attempt(outcome: Outcome) -> Attempt | None:
    """The attempt whose patch was committed (the runner records its number)."""
    return next((a for a in outcome.attempts if a.number == outcome.chosen), outcome.final_attempt)


def not_plausible_reason(outcome: Outcome, attempt: Attempt | None) -> str:
    if attempt is None:
        return "no attempt finished"
    if attempt.edit_errors:
        return f"{len(attempt.edit_errors)} edit(s) could not be applied"
    if attempt.lint_errors:
        return f"it introduces {len(attempt.lint_errors)} lint error(s)"
    if outcome.test_command is None:
        return "there is no test command to check it with, so it is untested"
    if attempt.test is None:
        return "the tests did not run"
    after = attempt.tests_after
    if after is not None and after.status in ("no_tests", "collection_error"):
        return f"the tests checked nothing after the change ({after})"
    if attempt.new_failures:
        return f"{len(attempt.new_failures)} test failure(s) are new with this change"
    if attempt.fixes_nothing:
        return "every test that failed before the change still fails: nothing shows that it fixes the issue"
    return outcome.error or "it was not verified"


def verdict_text(outcome: Outcome) -> str:
    return _VERDICTS[outcome.verdict]


def pr_title(outcome: Outcome, issue_title: str) -> str:
    prefix = "" if outcome.verdict is Verdict.PLAUSIBLE else "[draft] "
    return f"{prefix}Fix #{outcome.issue_number}: {issue_title}"[:250]


def pr_body(outcome: Outcome, aliases: Iterable[str]) -> str:
    chosen = chosen_attempt(outcome)
    return _render("pr_body.md.j2", outcome=outcome, chosen=chosen, plan=_tail(chosen.plan, 20_000) if chosen else "",
                   test_files=test_files(outcome.changed_files), tests=tests_line(outcome, chosen),
                   reason=not_plausible_reason(outcome, chosen), verdict_text=verdict_text(outcome),
                   total_tokens=sum(a.tokens for a in outcome.attempts),
                   total_cost=sum(a.cost_usd for a in outcome.attempts), aliases=", ".join(sorted(aliases)))


def progress(state: str, **context: Any) -> str:
    defaults: dict[str, Any] = {"job_id": "", "models": "", "created": False, "pull_url": "", "verdict_text": "",
                                "detail": ""}
    merged = defaults | context
    merged["detail"] = neutralize(str(merged["detail"]))  # setup output and model text end up here
    return _render("progress.md.j2", state=state, **merged)


def test_files(paths: Iterable[str]) -> list[str]:
    """Changed files that look like tests: a change that edits the tests it is judged by must say so. The rule
    is the one the repo map weighs tests by (`runner.file_kinds.is_test_path`)."""
    return [p for p in paths if is_test_path(p)]


def reply(kind: str, **context: Any) -> str:
    defaults: dict[str, Any] = {"detail": "", "sender": "", "label": "ai-fix", "aliases": ""}
    return _render("reply.md.j2", kind=kind, **(defaults | context))
