"""The repository a benchmark job works on: a local bare origin, as a maintainer's repository would be.

Each instance gets `main` = its `base_commit` plus one commit holding the instance's test patch (so the
baseline shows the FAIL_TO_PASS tests failing) and a `.github/ai-fix.yml` with the setup and test
commands. The origin borrows the upstream mirror's objects (`objects/info/alternates`), so making it
costs a few new objects, and its commit is deterministic (fixed dates): rebuilding it gives the same
sha, and the path stays the same, so the App's setup cache (keyed by clone URL and dependency files)
is hit on the next run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from runner.errors import GitError
from runner.git import git

_DATE = "2024-01-01T00:00:00+00:00"
_IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_AUTHOR_DATE": _DATE,
             "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
             "GIT_COMMITTER_DATE": _DATE}
CONFIG_PATH = ".github/ai-fix.yml"


def build_origin(mirror: Path, root: Path, name: str, base: str, test_patch: str, config: str) -> Path:
    """The bare origin `root/<name>.git` whose `main` is base + test patch + config; returns its path."""
    origin = root / f"{name}.git"
    if not (origin / "HEAD").exists():
        origin.parent.mkdir(parents=True, exist_ok=True)
        git(["init", "--bare", "--quiet", "--initial-branch=main", str(origin)])
    alternates = origin / "objects" / "info" / "alternates"
    alternates.parent.mkdir(parents=True, exist_ok=True)
    alternates.write_text(str((mirror / "objects").resolve()) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(["read-tree", base], git_dir=origin, extra_env=env)
        git(["apply", "--cached", "-"], git_dir=origin, extra_env=env, input_text=test_patch)
        blob = git(["hash-object", "-w", "--stdin"], git_dir=origin, input_text=config).strip()
        git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{CONFIG_PATH}"], git_dir=origin, extra_env=env)
        tree = git(["write-tree"], git_dir=origin, extra_env=env).strip()
    message = "Benchmark baseline: the instance's tests and .github/ai-fix.yml\n"
    commit = git(["commit-tree", tree, "-p", base], git_dir=origin, extra_env=_IDENTITY, input_text=message).strip()
    git(["update-ref", "refs/heads/main", commit], git_dir=origin)
    return origin


def show(git_dir: Path, rev: str, path: str) -> str | None:
    """A file at a revision, or None when it does not exist there."""
    try:
        return git(["show", f"{rev}:{path}"], git_dir=git_dir)
    except GitError:
        return None
