"""Oracle benchmark: the whole engine on real repositories, with an LLM double that knows the answer.

For each SWE-bench instance the LLM double (over HTTP, through litellm) answers the Senior with a
short plan and the Junior with the gold patch written as SEARCH/REPLACE blocks, clean or with the
noise real models add (shifted indentation, trailing spaces, elided middles, missing filename
fences). The engine runs exactly as in a job (workspace, worktree, parse, match, apply, lint,
commit), without tests (the repositories' dependencies are not installed here).

Reported per noise kind: the fraction whose committed files equal the gold patch's, the edits
refused with a reason (the model would be told), edits applied WRONGLY without any error (must be
0), and the engine's own time per instance, LLM latency excluded.

    .venv/bin/python -m bench.oracle --repos-dir /work/.mirror [--noise clean,...] [--limit N]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.oracle.noise import NOISES, DiffError, diff_to_blocks, render
from runner.errors import GitError
from runner.git import git
from runner.job import Overrides, SolveDeps, SolveRequest, solve
from runner.llm import LiteLLMChat, RetryPolicy
from runner.models import ModelPair
from runner.ports import Issue, SandboxSession
from runner.workspace import Workspace, Worktree
from tests.doubles.llm.server import LLMDouble

ROOT = Path(__file__).resolve().parents[2]
PAIR = ModelPair("openai/gpt-4o", "openai/gpt-4o-mini")


@dataclass
class Row:
    instance: str
    noise: str
    result: str
    """exact | refused | wrong_silent | inexpressible | error"""
    engine_s: float
    total_s: float
    detail: str = ""


def find_repo(repos_dir: Path, repo: str) -> Path:
    owner, name = repo.split("/")
    for candidate in (repos_dir / f"{owner}+{name}" / "repo", repos_dir / f"{owner}__{name}", repos_dir / name):
        if (candidate / "HEAD").exists() or (candidate / ".git").exists():
            return candidate
    raise SystemExit(f"no clone of {repo} under {repos_dir} (looked for {owner}+{name}/repo, {owner}__{name}, {name})")


def gold_contents(mirror: Path, base: str, patch: str, paths: list[str]) -> dict[str, str | None]:
    """The gold files, computed by git itself (a temporary index, `git apply --cached`)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(["read-tree", base], git_dir=mirror, extra_env=env)
        git(["apply", "--cached", "-"], git_dir=mirror, extra_env=env, input_text=patch)
        tree = git(["write-tree"], git_dir=mirror, extra_env=env).strip()
    return {path: _show(mirror, tree, path) for path in paths}


def _show(mirror: Path, rev: str, path: str) -> str | None:
    try:
        return git(["show", f"{rev}:{path}"], git_dir=mirror)
    except GitError:
        return None


class NoSandbox:
    """The oracle runs no command (test_command is ""), so no session is ever started."""

    def __call__(self, worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        raise AssertionError("the oracle benchmark runs no command")


def run_one(row: dict[str, Any], noise: str, blocks: list[Any], gold: dict[str, str | None], mirror_url: str,
            ws: Workspace, llm: LLMDouble, chat: LiteLLMChat) -> Row:
    llm.reset()
    llm.respond_with(lambda request: "No further changes are needed.")
    llm.script("Apply the change described by the issue to the files listed.", model=PAIR.senior)
    llm.script(render(blocks, noise), model=PAIR.junior)
    request = SolveRequest(
        clone_url=mirror_url, git_env={}, base_branch=row["base_commit"], branch="ai-fix/oracle",
        issue=Issue(0, row["instance_id"], row["problem_statement"]), default_models=PAIR, push=False,
        overrides=Overrides(test_command="", attempts=1, files=tuple(row["gold_files"])))
    started = time.monotonic()
    outcome = solve(request, SolveDeps(workspace=ws, chat=chat, sandbox=NoSandbox()))
    total = time.monotonic() - started
    llm_time = sum(call.duration_s for attempt in outcome.attempts for call in attempt.calls)
    engine = total - llm_time
    if not outcome.head_sha:
        return Row(row["instance_id"], noise, "refused" if outcome.attempts else "error", engine, total,
                   (outcome.error or "; ".join(outcome.attempts[0].edit_errors if outcome.attempts else []))[:300])
    mirror = ws.mirror_path(mirror_url)
    got = {path: _show(mirror, outcome.head_sha, path) for path in gold}
    changed = set(outcome.changed_files)
    if got == gold and changed == set(gold):
        return Row(row["instance_id"], noise, "exact", engine, total)
    errors = outcome.attempts[0].edit_errors if outcome.attempts else []
    if errors:  # partial: some blocks refused, with a reason the model would see
        return Row(row["instance_id"], noise, "refused", engine, total, "; ".join(errors)[:300])
    wrong = sorted(p for p in gold if got.get(p) != gold[p]) + sorted(changed - set(gold))
    return Row(row["instance_id"], noise, "wrong_silent", engine, total, f"differs: {wrong}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.oracle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared/data/swe-bench/dev.jsonl")
    parser.add_argument("--repos-dir", type=Path, required=True,
                        help="directory of clones or bare mirrors: <owner>+<name>/repo, <owner>__<name> or <name>")
    parser.add_argument("--noise", default=",".join(NOISES), help=f"comma-separated, from {', '.join(NOISES)}")
    parser.add_argument("--limit", type=int, default=0, help="only the first N instances")
    parser.add_argument("--instances", default="", help="comma-separated instance ids")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ai-fix-bench-oracle")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/oracle.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENAI_API_KEY", "sk-oracle-double")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    noises = [n for n in args.noise.split(",") if n]
    rows = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    if args.instances:
        wanted = set(args.instances.split(","))
        rows = [r for r in rows if r["instance_id"] in wanted]
    if args.limit:
        rows = rows[: args.limit]
    ws = Workspace(args.work_dir)
    results: list[Row] = []
    import litellm  # noqa: F401  (import once, up front: seconds that are not the engine's)

    with LLMDouble() as llm:
        chat = LiteLLMChat(api_base=llm.api_base, timeout_s=30, policy=RetryPolicy(tries=1))
        for i, row in enumerate(rows, 1):
            source = find_repo(args.repos_dir, row["repo"])
            mirror_url = str(source)
            mirror = ws.fetch(mirror_url, {})
            try:
                blocks = diff_to_blocks(row["patch"], functools.partial(_show, mirror, row["base_commit"]))
            except DiffError as exc:
                results += [Row(row["instance_id"], n, "inexpressible", 0.0, 0.0, str(exc)[:300]) for n in noises]
                continue
            gold = gold_contents(mirror, row["base_commit"], row["patch"], row["gold_files"])
            for noise in noises:
                result = run_one(row, noise, blocks, gold, mirror_url, ws, llm, chat)
                results.append(result)
                print(f"[{i}/{len(rows)}] {row['instance_id']:<32} {noise:<18} {result.result:<14} "
                      f"{result.engine_s:5.2f}s {result.detail[:80]}", file=sys.stderr)
    table = summarize(results, noises)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"instances": len(rows), "rows": [asdict(r) for r in results],
                                    "summary": summary_data(results, noises)}, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def summary_data(results: list[Row], noises: list[str]) -> dict[str, dict[str, float]]:
    data = {}
    for noise in noises:
        rows = [r for r in results if r.noise == noise]
        timed = [r.engine_s for r in rows if r.result in ("exact", "refused", "wrong_silent")]
        data[noise] = {
            "n": len(rows),
            "exact": sum(r.result == "exact" for r in rows) / max(1, len(rows)),
            "refused": sum(r.result == "refused" for r in rows),
            "wrong_silent": sum(r.result == "wrong_silent" for r in rows),
            "inexpressible": sum(r.result == "inexpressible" for r in rows),
            "errors": sum(r.result == "error" for r in rows),
            "engine_s_median": statistics.median(timed) if timed else 0.0,
            "engine_s_max": max(timed) if timed else 0.0,
        }
    return data


def summarize(results: list[Row], noises: list[str]) -> str:
    lines = ["| noise | n | diff equals gold | refused (with reason) | wrong, silent | inexpressible | errors | "
             "engine s/instance (median, max) |", "|---|---|---|---|---|---|---|---|"]
    for noise, d in summary_data(results, noises).items():
        lines.append(f"| {noise} | {d['n']:.0f} | {d['exact']:.1%} | {d['refused']:.0f} | {d['wrong_silent']:.0f} | "
                     f"{d['inexpressible']:.0f} | {d['errors']:.0f} | {d['engine_s_median']:.2f}, "
                     f"{d['engine_s_max']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
