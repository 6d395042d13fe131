"""Every GitHub write a job makes, each safe to repeat: a step re-run after a crash duplicates nothing.

Each write finds before it creates: the progress comment by the hidden marker in its body, the pull
request by its head branch, the check run by head SHA and name. Reactions are idempotent on GitHub.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot import report
from bot.github import Conclusion, GitHubError, Installation
from bot.routing import JobSpec
from runner import Outcome, Verdict

log = logging.getLogger("ai_fix.publish")
CHECK_NAME = "ai-fix"


def branch_for(issue_number: int) -> str:
    return f"ai-fix/issue-{issue_number}"


def progress_marker(issue_number: int) -> str:
    return f"<!-- ai-fix:progress issue={issue_number} -->"


def progress(gh: Installation, spec: JobSpec, state: str, **context: Any) -> int:
    """The issue's one progress comment, edited in place across runs (created when there is none)."""
    body = progress_marker(spec.issue_number) + "\n" + report.progress(state, **context)
    found = gh.find_comment(spec.owner, spec.repo, spec.issue_number, progress_marker(spec.issue_number))
    if found is not None:
        gh.edit_comment(spec.owner, spec.repo, found, body)
        return found
    return gh.comment(spec.owner, spec.repo, spec.issue_number, body)


def comment_once(gh: Installation, spec: JobSpec, delivery: str, body: str) -> int:
    """A reply to one delivery: posted once, however often the step that posts it runs."""
    marker = f"<!-- ai-fix:reply delivery={delivery} -->"
    found = gh.find_comment(spec.owner, spec.repo, spec.issue_number, marker)
    return found if found is not None else gh.comment(spec.owner, spec.repo, spec.issue_number,
                                                      marker + "\n" + body)


def say_failed(gh: Installation, spec: JobSpec, job_id: str, error_type: str, message: str) -> None:
    """Best effort: the progress comment must not keep saying "working" after a failure."""
    detail = f"an internal error ({error_type}) in job {job_id}; the App's log has the details."
    if error_type == GitHubError.__name__:
        detail = f"a GitHub API call failed: {message}"
    try:
        progress(gh, spec, "error", detail=detail)
    except GitHubError:
        log.warning("job %s: could not update the progress comment", job_id)


@dataclass(frozen=True)
class Published:
    verdict: str
    error: str | None
    pull_number: int | None = None
    created: bool = False

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"verdict": self.verdict, "error": self.error}
        if self.pull_number is not None:
            result |= {"pull_number": self.pull_number, "created": self.created}
        return result


def publish(gh: Installation, spec: JobSpec, outcome: Outcome, title: str, aliases: list[str]) -> Published:
    """The outcome on GitHub: the pull request (the runner pushed its branch), its check run, the progress comment."""
    owner, repo = spec.owner, spec.repo
    if not outcome.head_sha:
        state = "error" if outcome.verdict is Verdict.ERROR else "no_edit"
        detail = f"{outcome.error} ({outcome.hint})" if outcome.hint else outcome.error
        if state == "no_edit" and outcome.final_attempt and outcome.final_attempt.edit_errors:
            detail = "The edits the model wrote did not apply:\n" + "\n".join(
                f"- {e}" for e in outcome.final_attempt.edit_errors[:10])
        progress(gh, spec, state, detail=detail)
        return Published(outcome.verdict.value, outcome.error)
    body = report.pr_body(outcome, aliases)
    draft = outcome.verdict is not Verdict.PLAUSIBLE or outcome.always_draft
    existing = gh.find_pull(owner, repo, outcome.branch)
    if existing:
        gh.update_pull(owner, repo, existing.number, title=report.pr_title(outcome, title), body=body)
        pull, created = existing, False
    else:
        pull = gh.create_pull(owner, repo, title=report.pr_title(outcome, title), head=outcome.branch,
                              base=outcome.base_branch, body=body, draft=draft)
        created = True
    check(gh, spec, outcome, body)
    progress(gh, spec, "pull", created=created, pull_url=pull.html_url, verdict_text=report.verdict_text(outcome))
    return Published(outcome.verdict.value, outcome.error, pull.number, created)


def check(gh: Installation, spec: JobSpec, outcome: Outcome, summary: str) -> None:
    """One completed check run per head the App pushed: success when plausible, neutral otherwise."""
    assert outcome.head_sha
    conclusion: Conclusion = "success" if outcome.verdict is Verdict.PLAUSIBLE else "neutral"
    title = f"ai-fix: {report.verdict_text(outcome)}"
    found = gh.find_check_run(spec.owner, spec.repo, outcome.head_sha, CHECK_NAME)
    if found is not None:
        gh.update_check_run(spec.owner, spec.repo, found, conclusion=conclusion, title=title, summary=summary)
    else:
        gh.create_check_run(spec.owner, spec.repo, name=CHECK_NAME, head_sha=outcome.head_sha, conclusion=conclusion,
                            title=title, summary=summary)
