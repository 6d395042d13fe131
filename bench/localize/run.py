"""bench/localize: rank files for SWE-bench issues from the issue text alone; ours vs BM25 vs aider.

See README.md beside this file for the command, the layout of `--repos-dir` and what each
column means.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.localize import metrics, repos
from bench.localize.report import BUDGETS, KS
from runner.repomap import RepoMap, TagCache
from runner.repomap.languages import tag_language
from runner.repomap.render import approx_tokens

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.localize", description=__doc__)
    p.add_argument("--repos-dir", type=Path, required=True, help="mirrors or clones (see README.md)")
    p.add_argument("--dataset", type=Path, default=ROOT.parent / "shared/data/swe-bench/dev.jsonl")
    p.add_argument("--aider-python", type=Path, help="python of a venv with aider-chat==0.86.2 (optional)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results/localize.json")
    p.add_argument("--repos", help="comma-separated owner/name to keep (default: all in the dataset)")
    p.add_argument("--limit", type=int, help="at most this many instances per repository")
    p.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    p.add_argument("--no-bm25", action="store_true")
    return p.parse_args(argv)


def _bm25(root: Path, paths: list[str], text: str) -> tuple[list[str], float]:
    import bm25s

    start = time.perf_counter()
    corpus, kept = [], []
    for path in paths:
        try:
            corpus.append((root / path).read_text(errors="replace"))
            kept.append(path)
        except OSError:
            continue
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    k = min(max(KS), len(kept))
    docs, _scores = retriever.retrieve(bm25s.tokenize([text], stopwords="en", show_progress=False), k=k,
                                       show_progress=False)
    return [kept[int(i)] for i in docs[0]], time.perf_counter() - start


def _score(ranked: list[str], maps: dict[int, str], gold: list[str]) -> dict[str, float]:
    out = {f"recall@{k}": metrics.recall_at(ranked, gold, k) for k in KS}
    for budget, text in maps.items():
        out[f"in_map@{budget}"] = metrics.in_map(text, gold)
        out[f"map_tokens@{budget}"] = metrics.approx_tokens(text)
    return out


def run_ours(clone: Path, cache_path: Path, instances: list[dict[str, Any]], bm25: bool) -> list[dict[str, Any]]:
    cache = TagCache(cache_path)
    out = []
    for n, inst in enumerate(instances):
        # The commit before base_commit first (cold for the first instance of a repository, else
        # catching up), then base_commit itself: "the next commit's map", the incremental case.
        repos.checkout(clone, f"{inst['base_commit']}^")
        start = time.perf_counter()
        previous = RepoMap(clone, cache)
        previous.render(previous.rank(inst["problem_statement"]), 2048, approx_tokens)
        before = time.perf_counter() - start
        repos.checkout(clone, inst["base_commit"])
        start = time.perf_counter()
        repo_map = RepoMap(clone, cache)
        ranking = repo_map.rank(inst["problem_statement"])
        first = repo_map.render(ranking, 2048, approx_tokens)
        seconds = time.perf_counter() - start
        maps = {b: (first if b == 2048 else repo_map.render(ranking, b, approx_tokens)) for b in BUDGETS}
        # A second issue on the same commit, as the next job on this worker would ask it.
        other = instances[(n + 1) % len(instances)]["problem_statement"]
        start = time.perf_counter()
        again = RepoMap(clone, cache)
        again.render(again.rank(other), 2048, approx_tokens)
        warm = time.perf_counter() - start
        record: dict[str, Any] = {
            "id": inst["instance_id"], "repo": inst["repo"],
            "ours": {**_score(ranking.paths, maps, inst["gold_files"]), "seconds": seconds, "warm_seconds": warm,
                     "incremental_seconds": seconds, "previous_commit_seconds": before,
                     "phase": "cold" if n == 0 else "catch-up", "cold_seconds": before if n == 0 else None,
                     "top": ranking.paths[:10],
                     "files": len(repo_map.snapshot.entries) + len(repo_map.snapshot.unranked)},
        }
        if bm25:
            ranked, bm_seconds = _bm25(clone, repo_map.snapshot.paths, inst["problem_statement"])
            record["bm25"] = {**_score(ranked, {}, inst["gold_files"]), "seconds": bm_seconds, "top": ranked}
            source = [p for p in repo_map.snapshot.paths if tag_language(p) is not None]
            ranked, bm_seconds = _bm25(clone, source, inst["problem_statement"])
            record["bm25src"] = {**_score(ranked, {}, inst["gold_files"]), "seconds": bm_seconds, "top": ranked}
        out.append(record)
        print(f"  {inst['instance_id']}: ours r@1={record['ours']['recall@1']:.0f} "
              f"r@5={record['ours']['recall@5']:.2f} 2k={record['ours']['in_map@2048']:.0f} "
              f"{seconds:.2f}s warm {warm:.2f}s", file=sys.stderr)
    cache.close()
    return out


def run_aider(python: Path, clone: Path, instances: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    job = {"root": str(clone), "budgets": list(BUDGETS),
           "instances": [{"id": i["instance_id"], "commit": i["base_commit"], "text": i["problem_statement"]}
                         for i in instances]}
    proc = subprocess.run([str(python), str(HERE / "aider_driver.py")], input=json.dumps(job), text=True,
                          capture_output=True, check=False)
    results: dict[str, dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        results[row["id"]] = row
    if proc.returncode != 0:
        print(f"  aider driver failed ({proc.returncode}): {proc.stderr[-2000:]}", file=sys.stderr)
    return results


def probe(clone: Path, commit: str, issue: str, work: Path) -> dict[str, Any]:
    """Cold and then warm map in fresh processes: time and peak memory."""
    repos.checkout(clone, commit)
    cache = work / "probe-cache.sqlite3"
    issue_file = work / "probe-issue.txt"
    issue_file.write_text(issue)
    out: dict[str, Any] = {}
    # Compiled bytecode as an installed package has it (compiled at install time, not on the first
    # map): a throwaway map of a small tree with a file per language first writes the bytecode of
    # everything a map imports (ours, numpy, tree-sitter, the grammars) to a prefix in the work
    # directory, never into the source tree, whatever PYTHONDONTWRITEBYTECODE the caller's
    # environment sets. The cold map then starts with an empty tag cache and compiled code.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    warmup = work / "probe-warmup"
    warmup.mkdir(exist_ok=True)
    for name in ("a.py", "a.js", "a.ts", "a.tsx", "a.go", "a.rs", "A.java", "a.c", "a.cpp", "a.rb"):
        (warmup / name).write_text("x\n" * 50)
    subprocess.run([sys.executable, "-m", "bench.localize.probe", str(warmup), str(work / "probe-warmup.sqlite3"),
                    str(issue_file)], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    for phase in ("cold", "warm"):
        proc = subprocess.run([sys.executable, "-m", "bench.localize.probe", str(clone), str(cache), str(issue_file)],
                              capture_output=True, text=True, check=True, cwd=ROOT, env=env)
        out[phase] = json.loads(proc.stdout)
    return out


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    rows = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    if args.repos:
        keep = set(args.repos.split(","))
        rows = [r for r in rows if r["repo"] in keep]
    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_repo[row["repo"]].append(row)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-localize-"))
    work.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    timing: dict[str, Any] = {}
    for repo, instances in sorted(by_repo.items()):
        source = repos.locate(args.repos_dir, repo)
        slug = repo.replace("/", "__")
        clone = work / f"{slug}-ours"
        if not clone.exists():
            repos.scratch_clone(source, clone)
        instances.sort(key=lambda r: (repos.commit_time(clone, r["base_commit"]), r["instance_id"]))
        if args.limit:
            instances = instances[: args.limit]
        print(f"{repo}: {len(instances)} instances", file=sys.stderr)
        cache_path = work / f"{slug}-tags.sqlite3"
        for leftover in work.glob(f"{slug}-tags.sqlite3*"):
            leftover.unlink()
        repo_records = run_ours(clone, cache_path, instances, not args.no_bm25)
        if args.aider_python:
            aclone = work / f"{slug}-aider"
            if aclone.exists():
                subprocess.run(["rm", "-rf", str(aclone)], check=True)
            repos.scratch_clone(source, aclone)
            start = time.perf_counter()
            aider = run_aider(args.aider_python, aclone, instances)
            print(f"  aider: {time.perf_counter() - start:.0f}s", file=sys.stderr)
            for n, (record, inst) in enumerate(zip(repo_records, instances, strict=True)):
                row = aider.get(inst["instance_id"])
                if row is not None:
                    maps = {int(b): t for b, t in row["maps"].items()}
                    record["aider"] = {**_score(row["files"], maps, inst["gold_files"]), "seconds": row["seconds"],
                                       "phase": "cold" if n == 0 else "incremental", "top": row["files"][:10]}
        records.extend(repo_records)
        timing[repo] = {"files": repo_records[0]["ours"]["files"], "first": instances[0]["instance_id"]}
    largest = max(timing, key=lambda r: timing[r]["files"]) if timing else None
    probes: dict[str, Any] = {}
    if largest is not None:
        first = next(r for r in rows if r["instance_id"] == timing[largest]["first"])
        probe_dir = work / "probe"
        probe_dir.mkdir(exist_ok=True)
        for leftover in probe_dir.glob("probe-cache*"):
            leftover.unlink()
        probes = {"repo": largest, "instance": first["instance_id"],
                  **probe(work / f"{largest.replace('/', '__')}-ours", first["base_commit"],
                          first["problem_statement"], probe_dir)}
    from bench.localize.report import summarise, table

    summary = summarise(records, probes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join([os.path.basename(sys.executable), "-m", "bench.localize",
                                                         *(argv if argv is not None else sys.argv[1:])]),
                                    "summary": summary, "probe": probes, "instances": records}, indent=1))
    print(table(summary, probes))
    print(f"\nJSON: {args.out}")
    return 0
