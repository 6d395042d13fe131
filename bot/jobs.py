"""Jobs as operators and the receiver see them, read from and written to the engine's database.

A job is one delivery's workflow (its id is the delivery GUID) and, for a run, the run workflow it
enqueued (`GUID.run`). Its state reads: `queued` (waiting for a worker) → `checking` (authorising) →
`queued` → `running` → `done` | `failed` | `cancelled`; or `rejected` (the sender may not trigger).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from dbos import DBOSClient, EnqueueOptions, WorkflowStatus, error

from bot import engine
from bot.routing import JobSpec

DELIVERY = "ai-fix.delivery"
RUN = "ai-fix.run"
ACTIVE = ["ENQUEUED", "PENDING"]
STATES = ("queued", "checking", "running", "done", "failed", "rejected", "cancelled")
_RUN_STATE = {"ENQUEUED": "queued", "PENDING": "running", "SUCCESS": "done", "ERROR": "failed",
              "CANCELLED": "cancelled", "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "failed"}
_DELIVERY_STATE = {"ENQUEUED": "queued", "PENDING": "checking", "ERROR": "failed", "CANCELLED": "cancelled",
                   "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "failed"}


@dataclass(frozen=True)
class Job:
    id: str
    """The delivery GUID."""
    state: str
    spec: JobSpec
    result: dict[str, Any] | None
    run_id: str | None
    executor: str | None
    created_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Jobs:
    def __init__(self, client: DBOSClient) -> None:
        self.client = client

    def enqueue(self, guid: str, spec: JobSpec) -> bool:
        """Durable once this returns; False when the delivery was enqueued before (a redelivery)."""
        options: EnqueueOptions = {"workflow_name": DELIVERY, "queue_name": engine.DELIVERY_QUEUE,
                                   "workflow_id": guid, "workflow_id_reuse_policy": "reject",
                                   "app_version": engine.APP_VERSION,
                                   "attributes": engine.attributes("delivery", spec.owner, spec.repo,
                                                                   spec.issue_number)}
        try:
            self.client.enqueue(options, asdict(spec))
        except error.DBOSWorkflowIDInUseError:
            return False
        return True

    def cancelled(self, workflow_id: str) -> bool:
        found = self.client.list_workflows(workflow_ids=[workflow_id], load_input=False, load_output=False)
        return bool(found) and found[0].status == "CANCELLED"

    def cancel_issue(self, owner: str, repo: str, number: int) -> list[str]:
        """Cancel the issue's queued and running jobs; their ids."""
        key = engine.issue_key(owner, repo, number)  # the run queue's partition (attribute filters need PostgreSQL)
        active = [s for s in self.client.list_workflows(name=RUN, status=ACTIVE, load_input=False, load_output=False)
                  if s.queue_partition_key == key]
        for status in active:
            self.client.cancel_workflow(status.workflow_id)
        return [status.workflow_id for status in active]

    def all(self, state: str | None = None, limit: int | None = None) -> list[Job]:
        deliveries = self.client.list_workflows(name=DELIVERY, sort_desc=limit is not None, limit=limit)
        runs = {s.workflow_id: s for s in self.client.list_workflows(
            name=RUN, workflow_ids=[f"{d.workflow_id}.run" for d in deliveries] or None)} if deliveries else {}
        jobs = sorted((_job(d, runs) for d in deliveries), key=lambda j: j.created_at or 0)
        return [job for job in jobs if state is None or job.state == state]

    def show(self, guid: str) -> Job:
        found = self.client.list_workflows(workflow_ids=[guid])
        if not found or found[0].name != DELIVERY:
            raise KeyError(guid)
        delivery = found[0]
        runs = {s.workflow_id: s for s in self.client.list_workflows(workflow_ids=[f"{guid}.run"])}
        return _job(delivery, runs)

    def steps(self, workflow_id: str) -> list[dict[str, Any]]:
        return [{"step": s["function_id"], "name": s["function_name"], "error": repr(s["error"]) if s["error"]
                 else None}
                for s in self.client.list_workflow_steps(workflow_id)]

    def cancel(self, guid: str) -> list[str]:
        job = self.show(guid)
        ids = [i for i in (guid, job.run_id) if i]
        for workflow_id in ids:
            self.client.cancel_workflow(workflow_id)
        return ids

    def retry(self, guid: str) -> str:
        """Resume the job's workflow from its last completed step (DBOS resume): a failed or cancelled run
        starts again where it stopped, on the same issue's partition."""
        job = self.show(guid)
        target = job.run_id or guid
        self.client.resume_workflow(target)
        return target


def wait(jobs: Jobs, guid: str, timeout_s: float = 60.0) -> Job:
    """Until the job is in a final state (for tests and `jobs` commands that wait)."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = jobs.show(guid)
        if job.state in ("done", "failed", "rejected", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def _job(delivery: WorkflowStatus, runs: dict[str, WorkflowStatus]) -> Job:
    args = (delivery.input or {"args": (), "kwargs": {}})["args"]
    spec = JobSpec(**args[0]) if args else JobSpec("run", "?", "?", 0, 0, "?", "label")
    output = delivery.output if isinstance(delivery.output, dict) else None
    state = _DELIVERY_STATE.get(str(delivery.status), "queued")
    result: dict[str, Any] | None = None
    run_id = output.get("run") if output else None
    run = runs.get(run_id) if run_id else None
    if delivery.status == "SUCCESS" and output is not None:
        state, result = str(output.get("state", "done")), output
    if run is not None:
        run_args = (run.input or {"args": (), "kwargs": {}})["args"]
        spec = JobSpec(**run_args[0]) if run_args else spec
        state = _RUN_STATE.get(str(run.status), "queued")
        result = run.output if isinstance(run.output, dict) else (
            {"error": f"{type(run.error).__name__}: {run.error}"} if run.error else None)
    elif delivery.error is not None:
        result = {"error": f"{type(delivery.error).__name__}: {delivery.error}"}
    created = delivery.created_at
    return Job(id=delivery.workflow_id, state=state, spec=spec, result=result, run_id=run_id,
               executor=(run or delivery).executor_id, created_at=created / 1000 if created else None)
