"""A job as durable workflows: each step's result is checkpointed, so a restarted worker resumes after the last
finished step, and each step's GitHub writes find before they create (bot/publish.py), so re-running one
duplicates nothing.

- `delivery` (one per webhook delivery, its id the delivery GUID): authorise the sender by repository
  permission, then answer a reply or a `/cancel` at once, or cancel the issue's older run and enqueue a new one;
- `run` (partitioned by issue, one at a time per issue): 👀 and the progress comment → the runner's solve
  (which pushes the branch) → publish (pull request, check run, progress comment).

The workflows are module functions, as DBOS registers them; what they need (settings, the GitHub App, the
runner's dependencies) is installed once at start-up with `install`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from dbos import DBOS, SetEnqueueOptions, SetWorkflowAttributes, SetWorkflowID

from bot import engine, publish, report
from bot.github import GitHubApp
from bot.jobs import Jobs
from bot.routing import JobSpec
from bot.settings import Settings
from runner import Issue, ModelPair, Outcome, SolveDeps, SolveRequest, resolve, solve

log = logging.getLogger("ai_fix.workflow")
WRITERS = ("admin", "write")
_BRANCH = re.compile(r"^ai-fix/issue-(\d+)$")


@dataclass
class Runtime:
    settings: Settings
    github: GitHubApp
    deps_factory: Callable[[Callable[[], bool]], SolveDeps]
    jobs: Jobs
    evict_mirrors: Callable[[int], int] = lambda budget: 0

    @property
    def aliases(self) -> dict[str, ModelPair]:
        return self.settings.model_aliases()


_runtime: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def _rt() -> Runtime:
    if _runtime is None:
        raise RuntimeError("bot.workflow.install() was not called before the engine ran a workflow")
    return _runtime


# ---- the delivery ------------------------------------------------------------------------------------------
@DBOS.workflow(name="ai-fix.delivery")
def delivery(fields: dict[str, Any]) -> dict[str, Any]:
    guid = DBOS.workflow_id or ""
    checked = authorise(fields, guid)
    if "spec" not in checked:
        return checked
    spec = JobSpec(**checked["spec"])
    if spec.kind == "run":
        superseded = stop_runs(checked["spec"])
        run_id = f"{guid}.run"
        key = engine.issue_key(spec.owner, spec.repo, spec.issue_number)
        with SetWorkflowID(run_id), SetEnqueueOptions(queue_partition_key=key), \
                SetWorkflowAttributes(engine.attributes("run", spec.owner, spec.repo, spec.issue_number)):
            DBOS.enqueue_workflow(engine.RUN_QUEUE, run, checked["spec"])
        return {"state": "queued", "run": run_id, "superseded": superseded}
    if spec.kind == "cancel":
        return cancel(checked["spec"], guid)
    return answer(checked["spec"], guid)


@DBOS.step(name="ai-fix.authorise")
def authorise(fields: dict[str, Any], guid: str) -> dict[str, Any]:
    """Only a user with write access may trigger (the collaborator-permission endpoint, not author_association);
    a command on the App's own pull request acts on the issue it fixes."""
    rt, spec = _rt(), JobSpec(**fields)
    with rt.github.installation(spec.installation_id, spec.repo) as gh:
        permission = gh.permission(spec.owner, spec.repo, spec.sender)
        if permission not in WRITERS:
            log.info("delivery %s: %s has %s permission; not acting", guid, spec.sender, permission)
            publish.comment_once(gh, spec, guid, report.reply(
                "not_permitted", sender=spec.sender, label=rt.settings.trigger_label))
            return {"state": "rejected", "permission": permission}
        if spec.on_pull_request and spec.kind in ("run", "cancel"):
            match = _BRANCH.match(gh.pull(spec.owner, spec.repo, spec.issue_number).head_ref)
            if not match:
                publish.comment_once(gh, spec, guid, report.reply("not_ours"))
                return {"state": "done", "reply": "not_ours"}
            spec = replace(spec, issue_number=int(match.group(1)), on_pull_request=False)
    return {"spec": asdict(spec)}


@DBOS.step(name="ai-fix.stop-runs")
def stop_runs(fields: dict[str, Any]) -> list[str]:
    """A newer trigger (or `/cancel`) cancels the issue's queued and running jobs."""
    spec = JobSpec(**fields)
    return _rt().jobs.cancel_issue(spec.owner, spec.repo, spec.issue_number)


@DBOS.step(name="ai-fix.cancel")
def cancel(fields: dict[str, Any], guid: str) -> dict[str, Any]:
    rt, spec = _rt(), JobSpec(**fields)
    stopped = rt.jobs.cancel_issue(spec.owner, spec.repo, spec.issue_number)
    with rt.github.installation(spec.installation_id, spec.repo) as gh:
        gh.react(spec.owner, spec.repo, comment_id=spec.comment_id)
        if stopped:
            publish.progress(gh, spec, "cancelled")
        detail = f"{len(stopped)} job(s)" if stopped else "nothing (no job was running)"
        publish.comment_once(gh, spec, guid, report.reply("cancelled", detail=detail))
    return {"state": "done", "cancelled": stopped}


@DBOS.step(name="ai-fix.answer")
def answer(fields: dict[str, Any], guid: str) -> dict[str, Any]:
    rt, spec = _rt(), JobSpec(**fields)
    with rt.github.installation(spec.installation_id, spec.repo) as gh:
        publish.comment_once(gh, spec, guid, report.reply(spec.reply or "help", detail=spec.detail,
                                                          aliases=", ".join(sorted(rt.aliases))))
    return {"state": "done", "reply": spec.reply}


# ---- the run -----------------------------------------------------------------------------------------------
@DBOS.workflow(name="ai-fix.run")
def run(fields: dict[str, Any]) -> dict[str, Any]:
    job_id = DBOS.workflow_id or ""
    start(fields, job_id)
    try:
        outcome, title = attempt(fields, job_id)
        return deliver_outcome(fields, outcome, title)
    except Exception as exc:  # the progress comment must not keep saying "working"; the job is recorded failed
        failed(fields, job_id, type(exc).__name__, str(exc))
        raise


@DBOS.step(name="ai-fix.start")
def start(fields: dict[str, Any], job_id: str) -> None:
    rt, spec = _rt(), JobSpec(**fields)
    chosen = _models(rt, spec)[1] or _models(rt, spec)[0]
    with rt.github.installation(spec.installation_id, spec.repo) as gh:
        gh.react(spec.owner, spec.repo, comment_id=spec.comment_id,
                 issue_number=None if spec.comment_id else spec.issue_number)
        publish.progress(gh, spec, "working", job_id=job_id, models=f"{chosen.senior} + {chosen.junior}")


@DBOS.step(name="ai-fix.attempt")
def attempt(fields: dict[str, Any], job_id: str) -> tuple[Outcome, str]:
    """The runner's whole solve: workspace, baseline, attempts, and the push of the chosen patch."""
    rt, spec = _rt(), JobSpec(**fields)
    default, override = _models(rt, spec)
    try:
        with rt.github.installation(spec.installation_id, spec.repo) as gh:
            identity = rt.github.identity(gh)
            info = gh.repository(spec.owner, spec.repo)
            issue = gh.issue(spec.owner, spec.repo, spec.issue_number)
            request = SolveRequest(
                clone_url=info.clone_url, git_env=gh.git_env(), base_branch=info.default_branch,
                branch=publish.branch_for(spec.issue_number), issue=Issue(spec.issue_number, issue.title, issue.body),
                default_models=default, model_override=override, alternates=rt.settings.alternates(),
                author=(identity.login, identity.email), job_id=job_id,
                push_env=lambda: rt.github.git_env(spec.installation_id, spec.repo))
        return solve(request, rt.deps_factory(lambda: rt.jobs.cancelled(job_id))), issue.title
    finally:
        _evict(rt)


@DBOS.step(name="ai-fix.publish")
def deliver_outcome(fields: dict[str, Any], outcome: Outcome, title: str) -> dict[str, Any]:
    rt, spec = _rt(), JobSpec(**fields)
    with rt.github.installation(spec.installation_id, spec.repo) as gh:  # a fresh token after a long run
        return publish.publish(gh, spec, outcome, title, sorted(rt.aliases)).as_dict()


@DBOS.step(name="ai-fix.failed")
def failed(fields: dict[str, Any], job_id: str, error_type: str, message: str) -> None:
    rt, spec = _rt(), JobSpec(**fields)
    log.error("job %s failed: %s: %s", job_id, error_type, message)
    try:
        with rt.github.installation(spec.installation_id, spec.repo) as gh:
            publish.say_failed(gh, spec, job_id, error_type, message)
    except Exception:  # best effort: GitHub may be what failed
        log.exception("job %s: could not report the failure", job_id)


def _models(rt: Runtime, spec: JobSpec) -> tuple[ModelPair, ModelPair | None]:
    default = resolve(rt.settings.default_model, rt.aliases)
    return default, resolve(spec.model, rt.aliases) if spec.model else None


def _evict(rt: Runtime) -> None:
    try:
        evicted = rt.evict_mirrors(int(rt.settings.mirror_budget_gb * 1024**3))
    except Exception:  # disk housekeeping must never fail a job
        log.exception("mirror eviction failed")
        return
    if evicted:
        log.info("evicted %d repository mirror(s) to stay within the disk budget", evicted)
