"""Tests of runner.sandbox.session against the real Docker engine and the real image.

Docker is required: these tests fail (never skip) when the engine is
unreachable (fixtures in tests/runner/conftest.py). One sandbox session
is shared by the module where a test does not need its own. What a hostile
repository can try (network, secrets, escapes, bombs) is in test_hostile.py;
reaping leftovers is in test_reap.py, the host-side helpers in test_host.py.
"""

from __future__ import annotations

import os
import subprocess
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from runner.sandbox.container import SANDBOX_UID, TIMEOUT_EXIT_CODE
from runner.sandbox.errors import DockerUnavailableError, SandboxClosedError, SandboxImageMissingError
from runner.sandbox.session import DockerSandbox, DockerSession
from tests.runner.conftest import gone

# The first build (debootstrap) can take minutes; it happens inside the first test's setup.
pytestmark = pytest.mark.timeout(900)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def shared_worktree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wt = tmp_path_factory.mktemp("shared-worktree")
    (wt / "helper.py").write_text("def answer() -> int:\n    return 42\n")
    (wt / "test_tiny.py").write_text("from helper import answer\n\ndef test_answer():\n    assert answer() == 42\n")
    return wt


@pytest.fixture(scope="module")
def session(sandbox: DockerSandbox, shared_worktree: Path) -> Iterator[DockerSession]:
    """One container for the module."""
    with sandbox.start(shared_worktree, job_id=f"test-shared-{uuid.uuid4().hex[:8]}") as s:
        yield s


# --------------------------------------------------------------------------- docker


@pytest.mark.docker
def test_output_and_exit_code(session: DockerSession) -> None:
    result = session.run("echo to-stdout; echo to-stderr >&2; exit 3", timeout_s=30)
    assert result.exit_code == 3
    assert not result.timed_out and not result.passed
    assert "to-stdout\n" in result.output and "to-stderr\n" in result.output
    assert result.command == "echo to-stdout; echo to-stderr >&2; exit 3"
    assert 0 < result.duration_s < 30


@pytest.mark.docker
def test_runs_unprivileged_in_workspace(session: DockerSession) -> None:
    result = session.run("id -u; id -g; pwd; grep CapEff /proc/self/status", timeout_s=30)
    uid, gid, cwd, caps = result.output.splitlines()
    assert (uid, gid, cwd) == (str(SANDBOX_UID), str(SANDBOX_UID), "/workspace")
    assert caps.split()[1] == "0000000000000000"


@pytest.mark.docker
def test_python_and_pytest_write_in_worktree(session: DockerSession, shared_worktree: Path) -> None:
    py = session.run(
        "python3 -c 'import helper, pathlib; pathlib.Path(\"out.txt\").write_text(str(helper.answer()))'",
        timeout_s=60,
    )
    assert py.passed, py.output
    assert (shared_worktree / "out.txt").read_text() == "42"
    assert os.stat(shared_worktree / "out.txt").st_uid == SANDBOX_UID
    assert list((shared_worktree / "__pycache__").glob("helper.cpython-*.pyc"))

    tests = session.run("python -m pytest -q test_tiny.py", timeout_s=120)
    assert tests.passed, tests.output
    assert "1 passed" in tests.output
    assert (shared_worktree / ".pytest_cache").is_dir()
    assert list((shared_worktree / "__pycache__").glob("test_tiny.cpython-*-pytest-*.pyc"))


@pytest.mark.docker
def test_files_the_host_adds_later_are_writable(session: DockerSession, shared_worktree: Path) -> None:
    """The host (root) edits between commands; the next command may still write."""
    (shared_worktree / "added_by_host").mkdir()
    (shared_worktree / "added_by_host" / "mod.py").write_text("X = 1\n")
    result = session.run("echo 'Y = 2' >> added_by_host/mod.py && touch added_by_host/new.txt", timeout_s=30)
    assert result.passed, result.output
    assert (shared_worktree / "added_by_host" / "mod.py").read_text() == "X = 1\nY = 2\n"


@pytest.mark.docker
def test_root_fs_is_read_only_but_tmp_is_not(session: DockerSession) -> None:
    result = session.run("touch /etc/x; touch /usr/local/x; touch /tmp/x && echo tmp-ok", timeout_s=30)
    assert result.output.count("Read-only file system") == 2, result.output
    assert "tmp-ok" in result.output


@pytest.mark.docker
def test_output_is_capped_and_streamed(session: DockerSession, sandbox: DockerSandbox) -> None:
    tracemalloc.start()
    try:
        result = session.run("echo START; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo END", timeout_s=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.passed
    limit = sandbox.limits.max_output_bytes
    assert result.output.startswith("START\nxxx")
    assert result.output.endswith("xxx\nEND\n")
    assert "bytes of output omitted" in result.output
    assert len(result.output) < limit + 200
    assert result.omitted_bytes == 50_000_000 + len("START\n\nEND\n") - limit
    assert peak < 8 * 1024 * 1024, f"reading 50 MB peaked at {peak:,} bytes of Python memory"


@pytest.mark.docker
def test_timeout_kills_and_next_run_gets_a_fresh_container(
    sandbox: DockerSandbox, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    with sandbox.start(tmp_path) as s:
        first = s.container_id
        assert first is not None
        result = s.run("echo before; sleep 60", timeout_s=1.5)
        assert result.timed_out and result.exit_code == TIMEOUT_EXIT_CODE == 124
        assert result.output.startswith("before\n") and "timed out after 1.5 s" in result.output
        assert result.duration_s < 10
        assert s.container_id is None and gone(docker_client, first)

        # A command that closes its output and keeps running also times out.
        silent = s.run("exec >/dev/null 2>&1; sleep 60", timeout_s=1.5)
        assert silent.timed_out and silent.exit_code == 124

        again = s.run("echo again", timeout_s=30)
        assert again.passed and again.output == "again\n"
        assert s.restarts == 2


@pytest.mark.docker
def test_close_removes_the_container(
    sandbox: DockerSandbox, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    s = sandbox.start(tmp_path)
    container_id = s.container_id
    assert container_id is not None
    labels = docker_client.containers.get(container_id).labels
    assert labels["ai-fix"] == "1" and labels["ai-fix.job"] == s.job_id
    s.close()
    assert gone(docker_client, container_id)
    s.close()  # idempotent
    with pytest.raises(SandboxClosedError):
        s.run("true", timeout_s=5)


@pytest.mark.docker
def test_git_dir_is_read_only_and_host_git_works_afterwards(sandbox: DockerSandbox, tmp_path: Path) -> None:
    """Host git with an explicit git dir (outside the worktree) reads what the sandbox
    wrote; a .git inside the worktree is mounted read-only."""
    wt, gitdir = tmp_path / "wt", tmp_path / "repo.git"
    wt.mkdir()
    (wt / "a.txt").write_text("one\n")
    host_git = ["git", f"--git-dir={gitdir}", f"--work-tree={wt}", "-c", "safe.directory=*"]
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "--bare", str(gitdir)], check=True)
    subprocess.run([*host_git, "add", "-A"], check=True)
    subprocess.run([*host_git, *ident, "commit", "-qm", "init"], check=True)
    subprocess.run(["git", "init", "-q", str(wt)], check=True)  # an in-tree .git as well
    for path in [wt / ".git", *(wt / ".git").rglob("*")]:  # so that only the read-only mount stops writes
        os.lchown(path, SANDBOX_UID, SANDBOX_UID)

    with sandbox.start(wt) as s:
        edit = s.run("echo two >> a.txt && mkdir -p new && echo n > new/b.txt", timeout_s=30)
        assert edit.passed, edit.output
        tamper = s.run("echo '[core]' >> .git/config", timeout_s=30)
        assert tamper.exit_code != 0 and "Read-only file system" in tamper.output
        inside = s.run("git status --porcelain --untracked-files=no && echo git-ok", timeout_s=30)
        assert inside.passed and "git-ok" in inside.output, inside.output

    assert os.stat(wt / "new" / "b.txt").st_uid == SANDBOX_UID
    status = subprocess.run([*host_git, "status", "--porcelain"], check=True, capture_output=True, text=True).stdout
    assert " M a.txt" in status and "?? new/" in status
    diff = subprocess.run([*host_git, "diff"], check=True, capture_output=True, text=True).stdout
    assert "+two" in diff


@pytest.mark.docker
def test_missing_image_says_how_to_build(docker_client: docker.DockerClient, tmp_path: Path) -> None:
    sandbox = DockerSandbox(docker_client, image="ai-fix-sandbox:does-not-exist")
    with pytest.raises(SandboxImageMissingError, match="deploy/sandbox/build.sh"):
        sandbox.check()
    with pytest.raises(SandboxImageMissingError, match="deploy/sandbox/build.sh"):
        sandbox.start(tmp_path)


def test_unreachable_engine_is_a_typed_error(tmp_path: Path) -> None:
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/no-such.sock", version="1.41", timeout=5)
    with pytest.raises(DockerUnavailableError, match="cannot reach the Docker engine"):
        DockerSandbox(client).start(tmp_path)
