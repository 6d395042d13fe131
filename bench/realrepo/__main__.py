"""Real-repository benchmark: is the verdict right, on real repositories with their real tests?

For each SWE-bench instance (`lite` rows of dev.jsonl) a local origin holds the base commit with the
instance's test patch and a `.github/ai-fix.yml` (setup from PyPI, the touched test files as the test
command, one attempt). The whole engine then runs four jobs on it, exactly as the App does (workspace,
setup phase and sandbox in Docker, baseline, edits, lint, tests), with an LLM double whose Junior sends:
the known fix, a no-op, a regression that breaks tests whose ids have spaces, and an edit after which
the test module no longer imports. The known fix must be plausible; no control may be.

Each run is judged against the benchmark's own reading of pytest's JUnit reports (`bench.realrepo.junit`),
not against the engine's reading it is testing. Prints a table; writes `bench/results/realrepo.json`.

    .venv/bin/python -m bench.realrepo [--instances ID,...] [--runs fix,noop,...] [--repos-dir /work/.mirror]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.oracle.noise import DiffError, render
from bench.realrepo import controls, observe, report
from bench.realrepo.instances import DEFAULT, SPECS, Spec
from bench.realrepo.judge import EXPECTED, KINDS, Kind, Observed, judge
from bench.realrepo.junit import Results
from bench.realrepo.origin import build_origin, show
from bench.realrepo.recorder import Recorder
from bench.realrepo.report import Row
from runner import docker_sandbox_factory
from runner.job import Overrides, SolveDeps, SolveRequest, solve
from runner.llm import LiteLLMChat, RetryPolicy
from runner.models import ModelPair
from runner.outcome import Outcome
from runner.ports import Issue
from runner.workspace import Workspace
from tests.doubles.llm.server import LLMDouble

if TYPE_CHECKING:
    from runner import DockerFactory

ROOT = Path(__file__).resolve().parents[2]
PAIR = ModelPair("openai/gpt-4o", "openai/gpt-4o-mini")
PLAN = "Apply the change described by the issue to the files listed."
FOLLOW_UP = "No further changes are needed."


@dataclass(frozen=True)
class Instance:
    """One dataset row made ready: its origin, its test command and what its tests should do."""

    row: dict[str, Any]
    spec: Spec
    origin: Path
    test_command: str
    fail_to_pass: tuple[str, ...]


def pytest_command(test_patch: str) -> str:
    """pytest on the Python test files the test patch touches, as SWE-bench's harness runs them (-rA)."""
    files = sorted({f for f in re.findall(r"^diff --git a/(\S+)", test_patch, re.M) if f.endswith(".py")})
    return "python -m pytest -rA -p no:cacheprovider " + " ".join(files)


def config_yaml(spec: Spec, command: str) -> str:
    setup = "".join(f"  - {json.dumps(c)}\n" for c in spec.setup)
    return f"setup:\n{setup}test: {json.dumps(command)}\nattempts: 1\n"


def prepare(row: dict[str, Any], spec: Spec, repos_dir: Path, work: Path) -> Instance:
    owner, name = row["repo"].split("/")
    mirror = repos_dir / f"{owner}+{name}" / "repo"
    if not (mirror / "HEAD").exists():
        raise SystemExit(f"no bare mirror of {row['repo']} at {mirror}")
    command = pytest_command(row["test_patch"])
    origin = build_origin(mirror, work / "origins", row["instance_id"], row["base_commit"], row["test_patch"],
                          config_yaml(spec, command))
    return Instance(row, spec, origin, command, tuple(json.loads(row["FAIL_TO_PASS"])))


def run_one(inst: Instance, kind: Kind, ws: Workspace, llm: LLMDouble, chat: LiteLLMChat, factory: DockerFactory,
            cache: dict[str, Results | None]) -> Row:
    """One job on the instance's origin with the Junior sending run `kind`'s edit; its judged row."""
    row, spec = inst.row, inst.spec
    iid = row["instance_id"]
    read = functools.partial(show, inst.origin, row["base_commit"])
    breaks = spec.regression.breaks if spec.regression else ()
    try:
        blocks = controls.blocks_for(kind, row["patch"], read, row["gold_files"][0], spec.regression)
    except (DiffError, controls.ControlError) as exc:
        return Row(iid, kind, EXPECTED[kind], result="invalid", why=f"cannot write the edit: {exc}")
    llm.reset()
    llm.respond_with(lambda request: FOLLOW_UP)
    llm.script(PLAN, model=PAIR.senior)
    llm.script(render(blocks), model=PAIR.junior)
    recorder = Recorder(factory, inst.test_command, cache)
    request = SolveRequest(
        clone_url=str(inst.origin), git_env={}, base_branch="main", branch=f"ai-fix/bench-{kind}",
        issue=Issue(0, iid, row["problem_statement"]), default_models=PAIR, push=False,
        job_id=f"bench-{iid}-{kind}".replace("_", "-").lower(), overrides=Overrides(files=controls.touched(blocks)))
    outcome = solve(request, SolveDeps(workspace=ws, chat=chat, sandbox=recorder, setup=recorder.prepare))
    return _row(inst, kind, outcome, recorder, breaks)


def _row(inst: Instance, kind: Kind, outcome: Outcome, recorder: Recorder, breaks: tuple[str, ...]) -> Row:
    attempt = outcome.final_attempt
    final = attempt.test if attempt else None
    before_truth, after_truth = recorder.truth(outcome.baseline), recorder.truth(final)
    before = observe.counts(outcome, outcome.baseline)
    after = observe.counts(attempt, final)
    new = tuple(attempt.new_failures) if attempt else ()
    seen = Observed(outcome.verdict.value, new, observe.says_no_tests(attempt, after), before_truth, after_truth,
                    observe.says_nothing_fixed(attempt))
    verdict = judge(kind, seen, inst.fail_to_pass, breaks)
    why = verdict.why
    if outcome.error:
        why = f"{why}; job error: {outcome.error}" if why else f"job error: {outcome.error}"
    llm_s = sum(call.duration_s for a in outcome.attempts for call in a.calls)
    setup = outcome.setup
    return Row(
        inst.row["instance_id"], kind, EXPECTED[kind], verdict=outcome.verdict.value, new_failures=list(new),
        setup=setup.status if setup else "-", setup_s=setup.duration_s if setup else 0.0,
        engine_before=before, engine_after=after,
        truth_before=before_truth.counts if before_truth else None,
        truth_after=after_truth.counts if after_truth else None,
        broke=sorted(after_truth.failing - before_truth.failing) if after_truth and before_truth else [],
        result=verdict.result, why=why[:400], engine_s=outcome.duration_s - llm_s - recorder.truth_s,
        commands_s=sum(r.result.duration_s for r in recorder.runs), truth_s=recorder.truth_s,
        test_runs=sum(r.result.command == inst.test_command for r in recorder.runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.realrepo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared/data/swe-bench/dev.jsonl")
    parser.add_argument("--repos-dir", type=Path, default=Path("/work/.mirror"),
                        help="bare mirrors as <owner>+<name>/repo")
    parser.add_argument("--instances", default=",".join(DEFAULT), help="comma-separated instance ids")
    parser.add_argument("--runs", default=",".join(KINDS), help=f"comma-separated, from {', '.join(KINDS)}")
    parser.add_argument("--image", default="ai-fix-sandbox:latest", help="the App's sandbox image")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ai-fix-bench-realrepo",
                        help="origins and workspace; keep it between runs so the setup cache is hit")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/realrepo.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENAI_API_KEY", "sk-realrepo-double")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    kinds: list[Kind] = [k for k in KINDS if k in args.runs.split(",")]
    rows = {r["instance_id"]: r for r in map(json.loads, args.dataset.read_text().splitlines()) if r}
    wanted = [i for i in args.instances.split(",") if i]
    unknown = [i for i in wanted if i not in rows or rows[i].get("split") != "lite" or i not in SPECS]
    if unknown:
        raise SystemExit(f"not a lite instance with a setup in bench/realrepo/instances.py: {', '.join(unknown)}")
    ws = Workspace(args.work_dir / "workspace")
    factory = docker_sandbox_factory(args.image)
    results: list[Row] = []
    started = time.monotonic()
    import litellm  # noqa: F401  (import once, up front: seconds that are not the engine's)

    with LLMDouble() as llm:
        chat = LiteLLMChat(api_base=llm.api_base, timeout_s=30, policy=RetryPolicy(tries=1))
        for n, iid in enumerate(wanted, 1):
            inst = prepare(rows[iid], SPECS[iid], args.repos_dir, args.work_dir)
            ws.fetch(str(inst.origin), {})  # warm the workspace mirror, as a long-running App has it
            cache: dict[str, Results | None] = {}  # the ground truth per worktree state, shared by the four jobs
            for kind in kinds:
                row = run_one(inst, kind, ws, llm, chat, factory, cache)
                results.append(row)
                print(f"[{n}/{len(wanted)}] {iid:<28} {kind:<12} {row.verdict:<13} {row.result:<7} "
                      f"{row.engine_s:6.1f}s {row.why[:90]}", file=sys.stderr)
    total = time.monotonic() - started
    print(report.table(results))
    print(report.summary(results, total))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(["python -m bench.realrepo", *(argv or sys.argv[1:])]),
                                    "image": args.image, "total_s": total, "rows": [asdict(r) for r in results],
                                    "summary": report.summary_data(results)}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
