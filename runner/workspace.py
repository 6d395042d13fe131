"""Repositories on disk: one bare mirror per repository, a fresh worktree per attempt.

Security rules this module keeps:
- Credentials reach git only through the git process's environment (`git_env`, opaque to us),
  never a URL, `.git/config` or any file under the worktree the sandbox mounts; every git process
  starts in `runner.git.git`, which keeps the rest of the App's environment out and hooks off.
- The worktree's gitdir lives in the mirror, outside the sandbox mount, and every host git call
  names `--git-dir`/`--work-tree` explicitly, so a `.git` the sandbox plants in the worktree is
  never read (it could carry `core.fsmonitor` or hooks that would run on the host).
- Commits are built from the contents the engine wrote (a temporary index, `hash-object`,
  `commit-tree`), not from whatever the tests left in the worktree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.errors import GitError
from runner.git import git


@dataclass(frozen=True)
class Worktree:
    path: Path
    git_dir: Path
    mirror: Path
    base_sha: str

    def run(self, *args: str, input_text: str | None = None, extra_env: Mapping[str, str] | None = None) -> str:
        return git(args, git_dir=self.git_dir, work_tree=self.path, input_text=input_text, extra_env=extra_env)

    def tracked_files(self) -> list[str]:
        out = self.run("ls-files", "-z")
        return [p for p in out.split("\0") if p]


class Workspace:
    """Mirrors under `root/mirrors`, worktrees under `root/worktrees`.

    `borrow_objects`: a mirror of a repository on this machine reads the repository's objects in place
    instead of copying them (`_borrow`). For a workspace that lives as long as one job (`ai-fix solve`'s
    temporary one); the worker's mirrors are caches that outlive any job, so they keep their own copy.
    """

    def __init__(self, root: Path, *, borrow_objects: bool = False) -> None:
        self.root = root
        self.borrow_objects = borrow_objects

    def mirror_path(self, clone_url: str) -> Path:
        digest = hashlib.sha256(clone_url.encode()).hexdigest()[:16]
        name = clone_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:60]
        return self.root / "mirrors" / f"{safe}-{digest}.git"

    def fetch(self, clone_url: str, git_env: Mapping[str, str]) -> Path:
        """Create or update the bare mirror with an incremental fetch of every branch.

        With `borrow_objects`, a repository on this machine (`ai-fix solve --repo PATH`) lends its objects
        (`_borrow`): the fetch then copies only its refs, in milliseconds instead of the whole history
        (26-28 s for sympy).
        """
        mirror = self.mirror_path(clone_url)
        if not (mirror / "HEAD").exists():
            mirror.parent.mkdir(parents=True, exist_ok=True)
            git(["init", "--bare", "--quiet", str(mirror)])
        if self.borrow_objects:
            _borrow(mirror, clone_url)
        git(["fetch", "--quiet", "--prune", "--no-tags", clone_url, "+refs/heads/*:refs/remotes/origin/*"],
            git_dir=mirror, git_env=git_env)
        return mirror

    def checkout(self, mirror: Path, base_branch: str) -> Worktree:
        """A fresh detached worktree of the base branch, its gitdir kept inside the mirror."""
        name = f"wt-{uuid.uuid4().hex[:12]}"
        path = self.root / "worktrees" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        ref = f"refs/remotes/origin/{base_branch}"
        if len(base_branch) == 40 and all(c in "0123456789abcdef" for c in base_branch):
            ref = base_branch  # a commit (benchmarks pin one), not a branch name
        try:
            base_sha = git(["rev-parse", "--verify", f"{ref}^{{commit}}"], git_dir=mirror).strip()
        except GitError as exc:
            raise GitError(f"branch {base_branch!r} was not found in the repository",
                           hint="check the repository's default branch") from exc
        # Parallel checkout (one worker per core): writing thousands of files is bound by system calls,
        # not by inflating objects, so two workers halve a large checkout (sympy: ~4 s to ~2.5 s, loaded).
        git(["-c", "checkout.workers=0", "worktree", "add", "--detach", "--quiet", str(path), base_sha],
            git_dir=mirror)
        return Worktree(path=path, git_dir=mirror / "worktrees" / name, mirror=mirror, base_sha=base_sha)

    def remove(self, worktree: Worktree) -> None:
        shutil.rmtree(worktree.path, ignore_errors=True)
        shutil.rmtree(worktree.git_dir, ignore_errors=True)
        try:
            git(["worktree", "prune"], git_dir=worktree.mirror)
        except GitError:
            pass

    def evict_mirrors(self, budget_bytes: int, *, min_idle_s: float = 600.0) -> Eviction:
        """Delete least-recently-used mirrors until all of them fit in ``budget_bytes``.

        A mirror is in use, and kept whatever the budget, while it has a live
        worktree or was fetched or checked out within ``min_idle_s`` (a job
        between its fetch and its checkout). Each victim is first renamed
        (atomic), so a concurrent ``fetch`` starts a fresh mirror instead of
        writing into one being deleted. Call it after each job.
        """
        if budget_bytes < 0:
            raise ValueError("budget_bytes must not be negative")
        mirrors_dir = self.root / "mirrors"
        for stale in mirrors_dir.glob(".evicting-*"):  # interrupted earlier evictions
            shutil.rmtree(stale, ignore_errors=True)
        now = time.time()
        mirrors = [(m, _last_used(m), _disk_usage(m)) for m in mirrors_dir.glob("*.git") if (m / "HEAD").exists()]
        total = sum(size for _, _, size in mirrors)
        removed: list[Path] = []
        freed = 0
        for mirror, used, size in sorted(mirrors, key=lambda item: item[1]):  # oldest use first
            if total <= budget_bytes:
                break
            if now - used < min_idle_s or _has_live_worktree(mirror):
                continue
            doomed = mirrors_dir / f".evicting-{mirror.name}-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(mirror, doomed)
            except OSError:
                continue
            shutil.rmtree(doomed, ignore_errors=True)
            removed.append(mirror)
            total -= size
            freed += size
        return Eviction(removed=tuple(removed), freed_bytes=freed, kept_bytes=total)


def commit_contents(worktree: Worktree, contents: Mapping[str, str | None], message: str,
                    author: tuple[str, str]) -> str:
    """Commit exactly `contents` (path -> text, None deletes) on top of the base commit."""
    index = worktree.git_dir / f"ai-fix-index-{uuid.uuid4().hex[:8]}"
    env = {"GIT_INDEX_FILE": str(index)}
    name, email = author
    ident = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
             "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    try:
        worktree.run("read-tree", worktree.base_sha, extra_env=env)
        for path, text in sorted(contents.items()):
            if text is None:
                worktree.run("update-index", "--force-remove", "--", path, extra_env=env)
                continue
            blob = worktree.run("hash-object", "-w", "--stdin", "--no-filters", input_text=text).strip()
            listed = worktree.run("ls-tree", worktree.base_sha, "--", path).split()
            mode = listed[0] if listed and listed[0] in ("100644", "100755") else "100644"
            worktree.run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", extra_env=env)
        tree = worktree.run("write-tree", extra_env=env).strip()
        return worktree.run("commit-tree", tree, "-p", worktree.base_sha, "-F", "-",
                            input_text=message, extra_env=ident).strip()
    finally:
        index.unlink(missing_ok=True)


def diff(worktree: Worktree, commit: str) -> str:
    return worktree.run("diff", "--no-color", "--no-ext-diff", worktree.base_sha, commit)


def push(worktree: Worktree, clone_url: str, git_env: Mapping[str, str], commit: str, branch: str) -> None:
    """Force-push the commit to the App's own branch: a new run replaces the previous patch."""
    if not branch.startswith("ai-fix/"):
        raise GitError(f"refusing to push to {branch!r}: the App only pushes ai-fix/ branches")
    git(["push", "--quiet", "--force", clone_url, f"{commit}:refs/heads/{branch}"],
        git_dir=worktree.mirror, git_env=git_env)


@dataclass(frozen=True)
class Eviction:
    """What `Workspace.evict_mirrors` did; ``kept_bytes`` can exceed the budget when mirrors are in use."""

    removed: tuple[Path, ...]
    freed_bytes: int
    kept_bytes: int


def _borrow(mirror: Path, clone_url: str) -> None:
    """Let the mirror read a local repository's objects in place (git's alternates), instead of copying them.

    Why this is safe, for the user's repository and for the App:
    - Only objects are borrowed: the mirror lists the repository's object directory in
      `objects/info/alternates`, and git only ever reads an alternate; every object the App writes
      (`hash-object -w`, `commit-tree`, a worktree's index) goes to the mirror's own directory, and a
      `gc` of the mirror repacks its local objects only (`repack -l`). The repository's config, hooks
      and refs are not read through it.
    - Sandboxed code cannot reach the repository through it: a sandbox mounts an attempt's worktree
      and, read-only, the worktree's `.git` file (a path); the mirror, its alternates file and the
      repository are never mounted, and host git keeps naming `--git-dir`/`--work-tree` (module docstring).
    - Objects are immutable and named by their hash, so reading them from the repository yields exactly
      what a fetch would have copied. The one cost: the mirror needs the repository's objects while it
      lives, which is why only a workspace that lives for one job borrows (`ai-fix solve`'s temporary
      one); the commits it uses stay reachable from the repository's branches meanwhile.
    Not borrowed (the fetch copies as before): a URL, a shallow repository (its history has holes the
    mirror would not know of), a path git does not recognise as a repository.
    """
    source = Path(clone_url)
    if "://" in clone_url or not source.is_absolute() or not source.is_dir():
        return
    try:
        shallow, objects = git(["rev-parse", "--is-shallow-repository", "--path-format=absolute", "--git-path",
                                "objects"], cwd=source).split()
    except (GitError, ValueError):
        return
    if shallow != "false" or not Path(objects).is_dir():
        return
    (mirror / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (mirror / "objects" / "info" / "alternates").write_text(objects + "\n")


def _last_used(mirror: Path) -> float:
    """Latest fetch (FETCH_HEAD), checkout or worktree removal (the worktrees dir) of a mirror."""
    times = [0.0]
    for name in ("FETCH_HEAD", "worktrees", "HEAD"):
        try:
            times.append(os.stat(mirror / name).st_mtime)
        except OSError:
            continue
    return max(times)


def _has_live_worktree(mirror: Path) -> bool:
    """True if a worktree registered in the mirror still exists on disk."""
    for entry in (mirror / "worktrees").glob("*/gitdir"):
        try:
            checkout = Path(entry.read_text().strip()).parent
        except OSError:
            continue
        if checkout.exists():
            return True
    return False


def _disk_usage(root: Path) -> int:
    """Bytes allocated under ``root`` (hard links counted once, symlinks not followed)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(root):
        for name in [*files, *dirs]:
            try:
                st = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total
