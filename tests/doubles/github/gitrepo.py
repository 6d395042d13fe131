"""Real bare git repositories behind the double.

Why real git: the App clones, commits and pushes; PR heads, diffs and "no commits between" checks must come from
actual history, not from bookkeeping that could drift from what was pushed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

ZERO_SHA = "0" * 40

# Refuse pushes touching .github/workflows unless the token had `workflows: write`, like GitHub does for Apps.
# The double exports AI_FIX_DOUBLE_WORKFLOWS=write to git http-backend when the token carries that permission.
_PRE_RECEIVE = r"""#!/bin/sh
[ "$AI_FIX_DOUBLE_WORKFLOWS" = "write" ] && exit 0
zero=0000000000000000000000000000000000000000
while read old new ref; do
  [ "$new" = "$zero" ] && continue
  if [ "$old" = "$zero" ]; then commits=$(git rev-list "$new" --not --all)
  else commits=$(git rev-list "$old..$new"); fi
  for c in $commits; do
    wf=$(git diff-tree --no-commit-id --name-only -r --root "$c" | grep '^\.github/workflows/' | head -n 1)
    if [ -n "$wf" ]; then
      echo "refusing to allow a GitHub App to create or update workflow \`$wf\` without \`workflows\` permission" >&2
      exit 1
    fi
  done
done
exit 0
"""

_BOT_ENV = {
    "GIT_AUTHOR_NAME": "GitHub Double",
    "GIT_AUTHOR_EMAIL": "double@example.invalid",
    "GIT_COMMITTER_NAME": "GitHub Double",
    "GIT_COMMITTER_EMAIL": "double@example.invalid",
}


class GitError(RuntimeError):
    """A git command failed."""


def git(
    repo: Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run git against ``repo`` (a bare repository) with a clean, predictable environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full_env.update({"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "LC_ALL": "C"})
    full_env.update(env or {})
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), *args], input=input, env=full_env, capture_output=True, check=False
    )
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc


def init_bare(path: Path, default_branch: str) -> None:
    """Create a bare repo configured as GitHub's are for our purposes (HEAD, receive-pack, hook)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
        check=True,
        capture_output=True,
    )
    git(path, "config", "http.receivepack", "true")
    git(path, "config", "receive.denyDeleteCurrent", "true")
    hook = path / "hooks" / "pre-receive"
    hook.write_text(_PRE_RECEIVE)
    hook.chmod(0o755)


def create_from_files(
    path: Path, files: Mapping[str, str | bytes], default_branch: str, message: str = "Initial commit"
) -> str:
    """Make a bare repo whose default branch has one commit holding ``files``; returns its sha."""
    init_bare(path, default_branch)
    index_env = {"GIT_INDEX_FILE": str(path / "double-index"), **_BOT_ENV}
    for name, content in sorted(files.items()):
        data = content.encode() if isinstance(content, str) else content
        blob = git(path, "hash-object", "-w", "--stdin", input=data).stdout.decode().strip()
        mode = "100755" if name.endswith(".sh") else "100644"
        git(path, "update-index", "--add", "--cacheinfo", f"{mode},{blob},{name}", env=index_env)
    tree = git(path, "write-tree", env=index_env).stdout.decode().strip()
    (path / "double-index").unlink(missing_ok=True)
    sha = git(path, "commit-tree", tree, "-m", message, env=_BOT_ENV).stdout.decode().strip()
    git(path, "update-ref", f"refs/heads/{default_branch}", sha)
    return sha


def create_from_local(path: Path, source: Path, default_branch: str | None) -> str:
    """Mirror an existing local repository (all branches and tags) into a new bare repo; returns default branch."""
    if default_branch is None:
        head = subprocess.run(
            ["git", "-C", str(source), "symbolic-ref", "--short", "HEAD"], capture_output=True, check=False
        )
        default_branch = head.stdout.decode().strip() or "main"
    init_bare(path, default_branch)
    subprocess.run(
        [
            "git",
            "-C",
            str(source),
            "push",
            "--quiet",
            str(path),
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "AI_FIX_DOUBLE_WORKFLOWS": "write"},
    )
    return default_branch


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def branch_sha(repo: Path, branch: str) -> str | None:
    """Tip of ``refs/heads/<branch>``, or None if the branch does not exist."""
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}", check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def commit_exists(repo: Path, sha: str) -> bool:
    if len(sha) < 4 or any(c not in "0123456789abcdef" for c in sha.lower()):
        return False
    return git(repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0


def ahead_count(repo: Path, base: str, head: str) -> int:
    """Number of commits on ``head`` not on ``base`` (GitHub's "No commits between" check)."""
    return int(git(repo, "rev-list", "--count", f"{base}..{head}").stdout.decode().strip() or 0)


def diff(repo: Path, base: str, head: str) -> str:
    """``git diff base...head``: what GitHub shows as the PR diff (changes since the merge base)."""
    return git(repo, "diff", "--no-color", "--no-ext-diff", f"{base}...{head}").stdout.decode(errors="replace")


def format_patch(repo: Path, base: str, head: str) -> str:
    return git(repo, "format-patch", "--stdout", "--no-color", f"{base}..{head}").stdout.decode(errors="replace")


def diff_stats(repo: Path, base: str, head: str) -> tuple[int, int, int]:
    """(additions, deletions, changed_files) of ``base...head``."""
    out = git(repo, "diff", "--numstat", f"{base}...{head}").stdout.decode(errors="replace")
    adds = dels = files = 0
    for line in out.splitlines():
        a, d, _ = line.split("\t", 2)
        files += 1
        adds += int(a) if a.isdigit() else 0
        dels += int(d) if d.isdigit() else 0
    return adds, dels, files


def mergeable(repo: Path, base: str, head: str) -> bool:
    """Whether ``head`` merges cleanly into ``base`` (``git merge-tree --write-tree``, git >= 2.38)."""
    return git(repo, "merge-tree", "--write-tree", base, head, check=False).returncode == 0


def read_file(repo: Path, ref: str, path: str) -> bytes | None:
    proc = git(repo, "show", f"{ref}:{path}", check=False)
    return proc.stdout if proc.returncode == 0 else None
