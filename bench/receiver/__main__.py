"""Receiver load: `python -m bench.receiver [--rates 100,200,500,800] [--seconds 10] [--databases sqlite,postgresql]`.

Starts `ai-fix serve --no-worker` (this checkout's code) against the GitHub double, once per database (SQLite in a
temporary directory; PostgreSQL from tests/pg.py's `running_postgres()`, passed as `AI_FIX_DATABASE_URL`), and
drives `POST /webhook` open-loop on loopback at each total rate in turn, from rate/`--per-client` clients (10
deliveries/s each by default). Every delivery is real work signed as GitHub signs it: `issues.labeled` with the
trigger label, or a `/retry` comment, by a user the double grants write access; about 1% are redeliveries of an
earlier GUID, which must make nothing. No job runs (`--no-worker`). Each step is bounded in count (rate x seconds)
and in time (`--seconds` + 30 s), so the run stops by itself.

Per step: deliveries/s answered 2xx, answer latency p50/p99/max (from the moment each was due), errors, and the
jobs read back from the database per delivery: `lost` (answered 2xx, no job) and `doubled` (more than one job)
must both be 0. Where jobs are counted is pluggable (bench/receiver/counting.py: today's `jobs` table, or DBOS's
`workflow_status`; `--count auto` picks what the database has). A build whose `serve` refuses the database URL
gets a row saying so. Also measured: `Store.record()` alone (today's SQLite write, in this process), and the
serve process's CPU per step, to tell a busy event loop from one blocked on the disk.

Prints a table and writes bench/results/receiver.json. Target (issue 11): p99 < 50 ms at 500 deliveries/s.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.receiver.counting import JobCounter, counter
from bench.receiver.load import Template, drive, plan
from bench.receiver.sampler import LoopSampler
from tests.doubles.github.server import GitHubDouble
from tests.doubles.webhooks import load_payload
from tests.pg import running_postgres

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "receiver.json"
SECRET = "bench-receiver-webhook-secret"
REPO = "acme/bench"
WRITER = "maint"
ISSUES = 50
TARGET = {"rate": 500, "p99_ms": 50.0}


@dataclass
class Served:
    host: str
    port: int
    pid: int
    database_url: str
    problem: str | None  # why serve refused to run (setup page), or None
    log_path: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(github: GitHubDouble, database_url: str, work: Path) -> Iterator[Served]:
    """`ai-fix serve --no-worker` on a free loopback port until the block ends."""
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AI_FIX_", "OPENAI_", "ANTHROPIC_"))}
    env.update({
        "PYTHONPATH": str(ROOT),
        "GITHUB_APP_ID": str(github.app_id),
        "GITHUB_PRIVATE_KEY_PATH": str(github.write_private_key(work / "app.pem")),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": github.url,
        "AI_FIX_DATA_DIR": str(work / "data"),
        "AI_FIX_DATABASE_URL": database_url,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    })
    log_path = work / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--no-worker", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ai-fix serve did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)
        problem = None if health.get("status") == "ok" else str(health.get("problem", health))
        yield Served("127.0.0.1", port, proc.pid, database_url, problem, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def templates(host: str) -> list[Template]:
    """Real work: per issue, the trigger label and a `/retry` comment, both by a user with write access."""
    result = []
    for number in range(1, ISSUES + 1):
        labeled = load_payload("issues", "labeled", repo=REPO, issue_number=number, issue_title=f"bug {number}",
                               label="ai-fix", sender=WRITER)
        comment = load_payload("issue_comment", "created", repo=REPO, issue_number=number, comment_body="/retry",
                               sender=WRITER, comment_user=WRITER)
        result += [Template.build(host, "issues", labeled, SECRET),
                   Template.build(host, "issue_comment", comment, SECRET)]
    return result


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return 1000 * values[min(len(values) - 1, int(q * len(values)))]


def step(served: Served, rate: int, args: argparse.Namespace, count: JobCounter) -> dict[str, Any]:
    clients = max(1, round(rate / args.per_client))
    the_plan = plan(rate, clients, args.seconds, len(args.templates), args.repeats, seed=rate)
    load_before = os.getloadavg()[0]
    server_cpu, own_cpu = _cpu_s(served.pid), time.process_time()
    with LoopSampler(served.pid) as sampler:
        answers, wall = drive(served.host, served.port, the_plan, args.templates, max_seconds=args.seconds + 30)
    server_cpu, own_cpu = _cpu_s(served.pid) - server_cpu, time.process_time() - own_cpu
    drained_s = drain(served)  # before counting: deliveries that timed out may still be written
    ok = [a for a in answers if 200 <= a.status < 300]
    latencies = sorted(a.latency_s for a in ok)
    accepted = {a.guid for a in ok}
    counts = count.jobs_per_delivery({a.guid for a in answers})
    lost = sorted(g for g in accepted if counts[g] == 0)
    doubled = sorted(g for g, n in counts.items() if n > 1)
    return {
        "rate": rate, "clients": clients, "sent": len(answers), "unique_deliveries": len({a.guid for a in answers}),
        "answered_2xx": len(ok), "errors": len(answers) - len(ok),
        "statuses": {str(s): sum(1 for a in answers if a.status == s) for s in sorted({a.status for a in answers})},
        "achieved_per_s": len(ok) / wall if wall > 0 else 0.0, "wall_s": wall,
        "p50_ms": _ms(latencies, 0.50), "p99_ms": _ms(latencies, 0.99), "max_ms": _ms(latencies, 1.0),
        "service_p99_ms": _ms(sorted(a.service_s for a in ok), 0.99),
        "jobs_counted": sum(counts.values()), "lost": len(lost), "doubled": len(doubled),
        "lost_examples": lost[:5], "doubled_examples": doubled[:5],
        "server_cpu_pct": 100 * server_cpu / wall if wall > 0 else 0.0,
        "generator_cpu_pct": 100 * own_cpu / wall if wall > 0 else 0.0,
        "loadavg_1m_before": load_before, "drain_s": drained_s, "event_loop_thread": sampler.summary(),
    }


def run_database(name: str, database_url: str, github: GitHubDouble, work: Path,
                 args: argparse.Namespace) -> dict[str, Any]:
    with serve(github, database_url, work / name) as served:
        if served.problem is not None:
            problem = f"not supported by this build: {served.problem}"
            print(f"{name}: {problem}", flush=True)
            return {"database": name, "supported": False, "problem": problem, "steps": []}
        args.templates = templates(f"{served.host}:{served.port}")
        try:
            count = counter(args.count, database_url, args.workflow_id)
        except LookupError as exc:  # a build that keeps its jobs elsewhere: say so instead of guessing
            print(f"{name}: cannot count jobs: {exc}", flush=True)
            return {"database": name, "supported": False, "problem": f"cannot count jobs: {exc}", "steps": []}
        steps = []
        for rate in args.rates:
            result = step(served, rate, args, count)
            print(f"{name}: {render_step(result)}", flush=True)
            steps.append(result)
            time.sleep(args.pause)
        return {"database": name, "supported": True, "counted_in": count.description, "steps": steps}


def probe_store(work: Path, n: int = 300) -> dict[str, Any] | None:
    """Today's receiver write (bot/store.py's `Store.record`) alone, n times in one thread on this disk: once as the
    receiver does it (a fresh connection per delivery, so closing it checkpoints the WAL), and once with another
    connection holding the database open (no checkpoint on close). None when the build has no such store."""
    try:
        store_module: Any = importlib.import_module("bot.store")
        routing: Any = importlib.import_module("bot.routing")
        runner: Any = importlib.import_module("runner")
    except ImportError:
        return None
    if not hasattr(getattr(store_module, "Store", None), "record"):
        return None
    payload = load_payload("issues", "labeled", repo=REPO, issue_number=1, label="ai-fix", sender=WRITER)
    spec = routing.decide("issues", payload, label="ai-fix", app_id=None, aliases=runner.DEFAULT_ALIASES)
    result: dict[str, Any] = {"calls": n}
    for variant in ("as_the_receiver_does", "another_connection_open"):
        path = work / "probe" / variant / "ai-fix.db"
        store = store_module.Store(path)
        store.migrate()
        holder = sqlite3.connect(path) if variant == "another_connection_open" else None
        if holder is not None:
            holder.execute("SELECT count(*) FROM jobs").fetchall()
        times = []
        try:
            for i in range(n):
                started = time.perf_counter()
                store.record(f"probe-{i}", "issues", "labeled", spec, "job:solve")
                times.append(time.perf_counter() - started)
        finally:
            if holder is not None:
                holder.close()
        times.sort()
        mean = statistics.fmean(times)
        result[variant] = {"p50_ms": _ms(times, 0.5), "p99_ms": _ms(times, 0.99), "mean_ms": 1000 * mean,
                           "ceiling_per_s": 1 / mean}
    return result


def drain(served: Served, limit_s: float = 90) -> float:
    """Wait until the receiver answers /healthz promptly again (a saturated step leaves a backlog behind)."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        t = time.perf_counter()
        try:
            httpx.get(f"http://{served.host}:{served.port}/healthz", timeout=10)
            if time.perf_counter() - t < 0.05:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return time.monotonic() - started


def render_step(s: dict[str, Any]) -> str:
    return (f"{s['rate']:>6} {s['clients']:>7} {s['sent']:>6} {s['achieved_per_s']:>7.0f} {s['p50_ms']:>7.1f} "
            f"{s['p99_ms']:>7.1f} {s['max_ms']:>7.1f} {s['errors']:>6} {s['jobs_counted']:>6} {s['lost']:>5} "
            f"{s['doubled']:>7} {s['server_cpu_pct']:>7.0f}% {s['generator_cpu_pct']:>6.0f}% "
            f"{_pct(s, 'R'):>5.0f}% {_pct(s, 'D'):>5.0f}% {s['loadavg_1m_before']:>5.1f}")


def _pct(step_result: dict[str, Any], state: str) -> float:
    return float(step_result["event_loop_thread"]["state_pct"].get(state, 0.0))


HEADER = (f"{'rate/s':>6} {'clients':>7} {'sent':>6} {'2xx/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'errors':>6} {'jobs':>6} {'lost':>5} {'doubled':>7} {'server':>8} {'loadgen':>7} {'loopR':>6} "
          f"{'loopD':>6} {'load':>5}")


def render(result: dict[str, Any]) -> str:
    rows = []
    for db in result["databases"]:
        rows.append(f"{db['database']}" + (f" (jobs counted in {db['counted_in']})" if db["supported"] else ""))
        if not db["supported"]:
            rows.append(f"  {db['problem']}")
            continue
        rows.append("  " + HEADER)
        rows += ["  " + render_step(s) for s in db["steps"]]
        at = [s for s in db["steps"] if s["rate"] == TARGET["rate"]]
        if at:
            waits = ", ".join(f"{w} {p}%" for w, p in at[0]["event_loop_thread"]["top_waits_pct"].items())
            rows.append(f"  event-loop thread at {TARGET['rate']}/s, where it waited: {waits}")
            verdict = "yes" if at[0]["p99_ms"] < TARGET["p99_ms"] and at[0]["errors"] == 0 else "NO"
            rows.append(f"  target p99 < {TARGET['p99_ms']:.0f} ms at {TARGET['rate']}/s: {verdict}")
    probe = result.get("store_record_probe")
    if probe:
        rows.append(f"\nStore.record() alone (today's SQLite write, one thread, {probe['calls']} calls):")
        for variant, label in (("as_the_receiver_does", "a connection per delivery (as the receiver does)"),
                               ("another_connection_open", "while another connection holds the database open")):
            p = probe[variant]
            rows.append(f"  {label:<50} p50 {p['p50_ms']:6.2f} ms  p99 {p['p99_ms']:6.2f} ms  -> at most "
                        f"{p['ceiling_per_s']:4.0f} deliveries/s on an event loop that waits for each")
    rows.append("\nserver/loadgen: CPU of the serve process and of this load generator, % of one core, during the step;"
                "\nloopR/loopD: share of samples the event-loop thread was running or runnable (R) or waiting for the"
                "\ndisk (D), see bench/receiver/sampler.py; load: 1-minute load average before the step (2 cores)")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,200,500,800", help="total deliveries/s, one step each")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each step (default 10)")
    parser.add_argument("--per-client", type=float, default=10.0, help="deliveries/s per client (default 10)")
    parser.add_argument("--repeats", type=float, default=0.01, help="share of redeliveries (default 0.01)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--count", default="auto", choices=["auto", "jobs-table", "dbos-workflows"],
                        help="where jobs are read back (see bench/receiver/counting.py)")
    parser.add_argument("--workflow-id", default="{guid}", help="DBOS workflow id pattern holding the GUID")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between steps")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the SQLite database and logs go (default: the system temp dir); /dev/shm takes "
                             "the disk out of the measurement")
    args = parser.parse_args()
    args.rates = [int(r) for r in args.rates.split(",") if r]
    work = Path(tempfile.mkdtemp(prefix="ai-fix-bench-receiver-", dir=args.work_dir))
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg": os.getloadavg()},
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "templates"},
        "target": TARGET, "databases": [],
    }
    github = GitHubDouble().start()
    try:
        github.add_repo(REPO, {"README.md": "bench\n"})
        github.set_role(REPO, WRITER, "write")
        github.install("acme", [REPO], id=4242)
        print(HEADER, flush=True)
        for name in [d.strip() for d in args.databases.split(",") if d.strip()]:
            with ExitStack() as stack:
                if name == "sqlite":
                    url = f"sqlite:///{work / 'sqlite' / 'data' / 'ai-fix.db'}"
                elif name == "postgresql":
                    url = stack.enter_context(running_postgres())
                else:
                    raise SystemExit(f"unknown database {name!r}: sqlite or postgresql")
                result["databases"].append(run_database(name, url, github, work, args))
        result["store_record_probe"] = probe_store(work)
    finally:
        github.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\n" + render(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
