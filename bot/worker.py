"""The worker: takes jobs from the store, authorises them, runs them, reports back to GitHub.

Two loops, so a `/cancel` or a permission check never waits behind a job of many minutes:
- control: `new` jobs -> authorise by repository permission; runs become `queued`, cancels and
  replies are answered at once;
- run: `queued` run jobs -> runner (solve) -> push, pull request, progress comment.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot import report
from bot.github import GitHubApp, GitHubError, Installation
from bot.routing import JobSpec
from bot.settings import Settings
from bot.store import Job, Store
from runner import Issue, ModelPair, Outcome, SolveDeps, SolveRequest, Verdict, resolve, solve

log = logging.getLogger("ai_fix.worker")
WRITERS = ("admin", "write")
_BRANCH = re.compile(r"^ai-fix/issue-(\d+)$")


def branch_for(issue_number: int) -> str:
    return f"ai-fix/issue-{issue_number}"


class Worker:
    def __init__(self, settings: Settings, store: Store, github: GitHubApp,
                 deps_factory: Callable[[Callable[[], bool]], SolveDeps], wake: threading.Event | None = None,
                 evict_mirrors: Callable[[int], int] = lambda budget: 0) -> None:
        self.settings = settings
        self.store = store
        self.github = github
        self.deps_factory = deps_factory
        self.evict_mirrors = evict_mirrors
        self.aliases = settings.model_aliases()
        self.alternates = settings.alternates()
        self.wake = wake or threading.Event()
        self._run_wake = threading.Event()

    # ---- loops -------------------------------------------------------------------------------
    def serve(self, stop: threading.Event) -> list[threading.Thread]:
        """Start both loops as daemon threads; they end when `stop` is set."""
        threads = [threading.Thread(target=self._loop, args=(stop, self.control_once, self.wake),
                                    name="ai-fix-control", daemon=True),
                   threading.Thread(target=self._loop, args=(stop, self.run_once, self._run_wake),
                                    name="ai-fix-run", daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def _loop(self, stop: threading.Event, step: Callable[[], bool], wake: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = step()
            except Exception:  # a bug in one job must not stop the worker
                log.exception("worker step failed")
                busy = False
            if not busy:
                wake.wait(self.settings.worker_poll_s)
                wake.clear()

    # ---- control -----------------------------------------------------------------------------
    def control_once(self) -> bool:
        job = self.store.claim("new", "checking")
        if job is None:
            return False
        spec = job.spec
        try:
            with self.github.installation(spec.installation_id, spec.repo) as gh:
                self._control(job, spec, gh)
        except Exception as exc:  # never leave a job in `checking`
            log.exception("job %s: the check failed", job.id)
            self.store.finish(job.id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        return True

    def _control(self, job: Job, spec: JobSpec, gh: Installation) -> None:
        permission = gh.permission(spec.owner, spec.repo, spec.sender)
        if permission not in WRITERS:
            log.info("job %s: %s has %s permission; not acting", job.id, spec.sender, permission)
            gh.comment(spec.owner, spec.repo, spec.issue_number,
                       report.reply("not_permitted", sender=spec.sender, label=self.settings.trigger_label))
            self.store.finish(job.id, "rejected", {"permission": permission})
            return
        if spec.on_pull_request and spec.kind in ("run", "cancel"):
            head = gh.pull(spec.owner, spec.repo, spec.issue_number).head_ref
            match = _BRANCH.match(head)
            if not match:
                gh.comment(spec.owner, spec.repo, spec.issue_number, report.reply("not_ours"))
                self.store.finish(job.id, "done", {"reply": "not_ours"})
                return
            spec = replace(spec, issue_number=int(match.group(1)), on_pull_request=False)
            self.store.update_spec(job.id, spec)
        if spec.kind == "run":
            self.store.supersede(spec, job.id)
            if self.store.set_state(job.id, "queued", expect="checking"):
                self._run_wake.set()
            return
        if spec.kind == "cancel":
            stopped = self.store.supersede(spec, job.id)
            gh.react(spec.owner, spec.repo, comment_id=spec.comment_id)
            detail = f"{len(stopped)} job(s)" if stopped else "nothing (no job was running)"
            gh.comment(spec.owner, spec.repo, spec.issue_number, report.reply("cancelled", detail=detail))
            self.store.finish(job.id, "done", {"cancelled": stopped})
            return
        gh.comment(spec.owner, spec.repo, spec.issue_number,
                   report.reply(spec.reply or "help", detail=spec.detail, aliases=", ".join(sorted(self.aliases))))
        self.store.finish(job.id, "done", {"reply": spec.reply})

    # ---- run ---------------------------------------------------------------------------------
    def run_once(self) -> bool:
        job = self.store.claim("queued", "running", kinds=["run"])
        if job is None:
            return False
        spec = job.spec
        try:
            result = self._run(job, spec)
            self.store.finish(job.id, "cancelled" if result.get("cancelled") else "done", result)
        except Exception as exc:  # a failed job is recorded, never left `running`
            log.exception("job %s failed", job.id)
            self.store.finish(job.id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        finally:
            self._evict()
        return True

    def _evict(self) -> None:
        try:
            evicted = self.evict_mirrors(int(self.settings.mirror_budget_gb * 1024**3))
        except Exception:  # disk housekeeping must never fail a job
            log.exception("mirror eviction failed")
            return
        if evicted:
            log.info("evicted %d repository mirror(s) to stay within the disk budget", evicted)

    def _models(self, spec: JobSpec) -> tuple[ModelPair, ModelPair | None]:
        default = resolve(self.settings.default_model, self.aliases)
        return default, resolve(spec.model, self.aliases) if spec.model else None

    def _run(self, job: Job, spec: JobSpec) -> dict[str, Any]:
        owner, repo, number = spec.owner, spec.repo, spec.issue_number
        default, override = self._models(spec)
        chosen = override or default
        with self.github.installation(spec.installation_id, repo) as gh:
            identity = self.github.identity(gh)
            gh.react(owner, repo, comment_id=spec.comment_id, issue_number=None if spec.comment_id else number)
            progress_id = self._progress(gh, spec, report.progress(
                "working", job_id=job.id, models=f"{chosen.senior} + {chosen.junior}"))
            try:
                info = gh.repository(owner, repo)
                issue = gh.issue(owner, repo, number)
                request = SolveRequest(
                    clone_url=info.clone_url, git_env=gh.git_env(), base_branch=info.default_branch,
                    branch=branch_for(number), issue=Issue(number, issue.title, issue.body), default_models=default,
                    model_override=override, alternates=self.alternates, author=(identity.login, identity.email),
                    job_id=str(job.id),
                    push_env=lambda: self.github.git_env(spec.installation_id, repo))

                def cancelled() -> bool:
                    return self.store.cancel_requested(job.id)

                outcome = solve(request, self.deps_factory(cancelled))
            except Exception as exc:
                self._say_failed(gh, spec, progress_id, job.id, exc)
                raise
        with self.github.installation(spec.installation_id, repo) as gh:  # fresh token after a long run
            try:
                return self._report(gh, spec, progress_id, outcome, issue.title, cancelled())
            except Exception as exc:
                self._say_failed(gh, spec, progress_id, job.id, exc)
                raise

    def _say_failed(self, gh: Installation, spec: JobSpec, progress_id: int, job_id: int, exc: Exception) -> None:
        """Best effort: the progress comment must not keep saying "working" after a crash."""
        detail = f"an internal error ({type(exc).__name__}) in job {job_id}; the App's log has the details."
        if isinstance(exc, GitHubError):
            detail = f"a GitHub API call failed: {exc}"
        try:
            gh.edit_comment(spec.owner, spec.repo, progress_id, report.progress("error", detail=detail))
        except GitHubError:
            log.warning("job %s: could not update the progress comment", job_id)

    def _progress(self, gh: Installation, spec: JobSpec, body: str) -> int:
        """One progress comment per issue, edited in place across runs."""
        comment_id, _ = self.store.issue_memory(spec.owner, spec.repo, spec.issue_number)
        if comment_id is not None:
            try:
                gh.edit_comment(spec.owner, spec.repo, comment_id, body)
                return comment_id
            except GitHubError as exc:
                if exc.status != 404:
                    raise
        comment_id = gh.comment(spec.owner, spec.repo, spec.issue_number, body)
        self.store.remember(spec.owner, spec.repo, spec.issue_number, progress_comment_id=comment_id)
        return comment_id

    def _report(self, gh: Installation, spec: JobSpec, progress_id: int, outcome: Outcome, title: str,
                cancelled: bool) -> dict[str, Any]:
        owner, repo, number = spec.owner, spec.repo, spec.issue_number
        result: dict[str, Any] = {"verdict": outcome.verdict.value, "error": outcome.error}
        if cancelled:
            gh.edit_comment(owner, repo, progress_id, report.progress("cancelled"))
            return result | {"cancelled": True}
        if not outcome.head_sha:
            state = "error" if outcome.verdict is Verdict.ERROR else "no_edit"
            detail = f"{outcome.error} ({outcome.hint})" if outcome.hint else outcome.error
            if state == "no_edit" and outcome.final_attempt and outcome.final_attempt.edit_errors:
                detail = "The edits the model wrote did not apply:\n" + "\n".join(
                    f"- {e}" for e in outcome.final_attempt.edit_errors[:10])
            gh.edit_comment(owner, repo, progress_id, report.progress(state, detail=detail))
            return result
        body = report.pr_body(outcome, self.aliases)
        draft = outcome.verdict is not Verdict.PLAUSIBLE or outcome.always_draft
        existing = gh.find_pull(owner, repo, outcome.branch)
        if existing:
            gh.update_pull(owner, repo, existing.number, title=report.pr_title(outcome, title), body=body)
            pull, created = existing, False
        else:
            pull = gh.create_pull(owner, repo, title=report.pr_title(outcome, title), head=outcome.branch,
                                  base=outcome.base_branch, body=body, draft=draft)
            created = True
        self.store.remember(owner, repo, number, pull_number=pull.number)
        gh.edit_comment(owner, repo, progress_id, report.progress(
            "pull", created=created, pull_url=pull.html_url, verdict_text=report.verdict_text(outcome)))
        return result | {"pull_number": pull.number, "created": created}
