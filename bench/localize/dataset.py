"""Build a localisation dataset from SWE-bench rows, for checks beyond the dev split.

    python -m bench.localize.dataset LITE.jsonl --repos sphinx-doc/sphinx,sympy/sympy --out FILE [--repos-dir DIR]

LITE.jsonl holds SWE-bench rows (`instance_id`, `repo`, `base_commit`, `problem_statement`,
`patch`), e.g. an export of the Lite test split. Each kept row gets `gold_files`, the files its
`patch` changes (as in the dev split), for `python -m bench.localize --dataset FILE`. With
`--repos-dir`, rows whose base commit cannot be checked out there whole (a mirror missing blobs,
which large-file mirrors can be) are dropped and counted, so the benchmark does not stop halfway.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from bench.localize import repos

_DIFF = re.compile(r"^diff --git a/(\S+) b/", re.M)


def gold_files(patch: str) -> list[str]:
    return sorted(set(_DIFF.findall(patch)))


def _complete(source: Path, commit: str) -> bool:
    """The commit and every blob of its tree are present."""
    listing = subprocess.run(["git", "-C", str(source), "ls-tree", "-r", commit], capture_output=True, text=True)
    if listing.returncode != 0:
        return False
    blobs = "".join(f"{line.split()[2]}\n" for line in listing.stdout.splitlines() if line.split()[1] == "blob")
    check = subprocess.run(["git", "-C", str(source), "cat-file", "--batch-check"], input=blobs, capture_output=True,
                           text=True)
    return check.returncode == 0 and "missing" not in check.stdout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.localize.dataset", description=__doc__)
    p.add_argument("rows", type=Path)
    p.add_argument("--repos", required=True, help="comma-separated owner/name to keep")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--repos-dir", type=Path, help="mirrors or clones: drop rows whose commit is incomplete there")
    args = p.parse_args(argv)
    keep = set(args.repos.split(","))
    kept, dropped = [], 0
    for line in args.rows.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["repo"] not in keep:
            continue
        if args.repos_dir is not None and not _complete(repos.locate(args.repos_dir, row["repo"]), row["base_commit"]):
            dropped += 1
            continue
        kept.append({**row, "gold_files": gold_files(row["patch"])})
    args.out.write_text("".join(json.dumps(r) + "\n" for r in kept))
    print(f"{len(kept)} rows written to {args.out}; {dropped} dropped (incomplete in --repos-dir)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
