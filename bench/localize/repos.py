"""Finding the benchmark's repositories and checking out commits in scratch clones.

`--repos-dir DIR` may hold, for a repository `owner/name`, any of:
    DIR/owner+name/repo   a bare mirror (what the search tool's fetch makes)
    DIR/owner+name        a bare mirror or a clone
    DIR/owner__name       a clone (SWE-bench's naming)
    DIR/name              a clone
A scratch clone (`git clone --shared`, so nothing is copied or written into the source) is made
per repository and run; commits are checked out there, never in the source.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def locate(repos_dir: Path, repo: str) -> Path:
    owner, name = repo.split("/")
    for candidate in (repos_dir / f"{owner}+{name}" / "repo", repos_dir / f"{owner}+{name}",
                      repos_dir / f"{owner}__{name}", repos_dir / name):
        if candidate.is_dir() and (_is_git(candidate)):
            return candidate
    raise SystemExit(f"bench/localize: no repository for {repo} under {repos_dir} (see bench/localize/README.md)")


def _is_git(path: Path) -> bool:
    return subprocess.run(["git", "-C", str(path), "rev-parse", "--git-dir"], capture_output=True).returncode == 0


def scratch_clone(source: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(source), str(dest)], check=True)
    return dest


def checkout(root: Path, commit: str, *keep: str) -> None:
    git(root, "checkout", "-q", "-f", "--detach", commit)
    git(root, "clean", "-fdxq", *[f"-e{k}" for k in keep])


def commit_time(root: Path, commit: str) -> int:
    return int(git(root, "show", "-s", "--format=%ct", commit).strip())
