"""`ai-fix jobs`: list, show, cancel, retry and recover jobs, reading the engine's database (any host)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bot.jobs import STATES, Job


def add_parser(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="operators: list, show, cancel, retry or recover jobs")
    verbs = jobs.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="jobs, oldest first")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--limit", type=int, default=None, help="only the newest N")
    listing.add_argument("--json", action="store_true")
    show = verbs.add_parser("show", help="one job, with its steps")
    show.add_argument("id", help="the job id (the delivery GUID)")
    show.add_argument("--json", action="store_true")
    for verb, text in (("cancel", "cancel a queued or running job"),
                       ("retry", "resume a failed or cancelled job from its last completed step")):
        cmd = verbs.add_parser(verb, help=text)
        cmd.add_argument("id")
    recover = verbs.add_parser("recover", help="run a dead worker's unfinished jobs in this process, then exit")
    recover.add_argument("--executor", required=True, help="the dead worker's AI_FIX_EXECUTOR_ID")
    recover.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for them to finish")
    jobs.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.cli import _settings
    from bot.wiring import jobs

    settings = _settings()
    if args.verb == "recover":
        return _recover(args)
    store = jobs(settings)
    try:
        if args.verb == "list":
            found = store.all(args.state, args.limit)
            print(json.dumps([j.as_dict() for j in found], indent=2) if args.json else _table(found))
        elif args.verb == "show":
            job = store.show(args.id)
            steps = store.steps(job.run_id) if job.run_id else store.steps(job.id)
            if args.json:
                print(json.dumps(job.as_dict() | {"steps": steps}, indent=2))
            else:
                print(_table([job]))
                print("\n".join(f"  step {s['step']}: {s['name']}" + (f" ({s['error']})" if s["error"] else "")
                                for s in steps))
        elif args.verb == "cancel":
            print("cancelled " + ", ".join(store.cancel(args.id)))
        elif args.verb == "retry":
            print(f"resumed {store.retry(args.id)}")
    except KeyError:
        print(f"ai-fix: no job {args.id}", file=sys.stderr)
        return 1
    finally:
        store.client.destroy()
    return 0


def _recover(args: argparse.Namespace) -> int:
    """DBOS's recovery of another executor's PENDING workflows: each resumes at its interrupted step."""
    from dbos import DBOS

    from bot.cli import _settings, _start_worker
    from bot.wiring import build

    settings = _settings()
    _start_worker(build(settings))
    handles = DBOS._recover_pending_workflows([args.executor])
    print(f"recovering {len(handles)} job(s) of executor {args.executor}", flush=True)
    deadline = time.monotonic() + args.timeout
    for handle in handles:
        while handle.get_status().status in ("PENDING", "ENQUEUED") and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"{handle.get_workflow_id()}: {handle.get_status().status}", flush=True)
    DBOS.destroy(workflow_completion_timeout_sec=0)
    return 0


def _table(jobs: list[Job]) -> str:
    rows = [(j.id, j.state, f"{j.spec.owner}/{j.spec.repo}#{j.spec.issue_number}", j.spec.kind,
             j.executor or "-", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(j.created_at or 0)))
            for j in jobs]
    header = ("ID", "STATE", "ISSUE", "KIND", "EXECUTOR", "CREATED (UTC)")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in [header, *rows])
