"""Tests of runner.sandbox against the real Docker engine and the real image.

Docker is required: these tests fail (never skip) when the engine is
unreachable. The image is built by deploy/sandbox/build.sh (a no-op taking a
fraction of a second once built; about 2.5 minutes the first time). One
sandbox session is shared by the module where a test does not need its own.
"""

from __future__ import annotations

import ipaddress
import os
import select
import shlex
import socket
import subprocess
import textwrap
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from runner.sandbox import (
    BASE_ENV,
    SANDBOX_UID,
    TIMEOUT_EXIT_CODE,
    DockerSandbox,
    DockerSession,
    DockerUnavailableError,
    OutputCapture,
    SandboxClosedError,
    SandboxImageMissingError,
    SandboxLimits,
    docker_client_from_env,
    reap,
    sync_ownership,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "deploy" / "sandbox" / "build.sh"
SECRET_NAME = "AI_FIX_TEST_GITHUB_TOKEN"
SECRET_VALUE = "ghs_" + uuid.uuid4().hex

# The first build (debootstrap) can take minutes; it happens inside the first test's setup.
pytestmark = pytest.mark.timeout(900)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        return docker_client_from_env()
    except DockerUnavailableError as exc:
        pytest.fail(f"these tests need the Docker engine and never skip: {exc}")


@pytest.fixture(scope="session")
def sandbox_image(docker_client: docker.DockerClient) -> str:
    proc = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=850, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{BUILD_SCRIPT} failed ({proc.returncode}):\n{proc.stderr[-5000:]}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def sandbox(docker_client: docker.DockerClient, sandbox_image: str) -> DockerSandbox:
    return DockerSandbox(docker_client, image=sandbox_image, limits=SandboxLimits(cpus=1.0, memory_mb=1024))


@pytest.fixture(scope="module")
def shared_worktree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wt = tmp_path_factory.mktemp("shared-worktree")
    (wt / "helper.py").write_text("def answer() -> int:\n    return 42\n")
    (wt / "test_tiny.py").write_text("from helper import answer\n\ndef test_answer():\n    assert answer() == 42\n")
    return wt


@pytest.fixture(scope="module")
def session(sandbox: DockerSandbox, shared_worktree: Path) -> Iterator[DockerSession]:
    """One container for the module. A secret-looking variable is in our
    environment while it is created, to show that it does not get in."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_NAME, SECRET_VALUE)
        with sandbox.start(shared_worktree, job_id=f"test-shared-{uuid.uuid4().hex[:8]}") as s:
            yield s


def _gone(client: docker.DockerClient, container_id: str) -> bool:
    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return True
    return False


# --------------------------------------------------------------------------- pure units


def test_output_capture_keeps_head_and_tail() -> None:
    cap = OutputCapture(10)
    for chunk in (b"abc", b"defgh", b"x" * 1000, b"12345"):
        cap.feed(chunk)
    assert cap.total == 1013
    assert cap.omitted == 1003
    text = cap.text()
    assert text.startswith("abcde\n[... ai-fix: 1,003 bytes of output omitted ...]\n")
    assert text.endswith("12345")


def test_output_capture_under_limit_is_verbatim() -> None:
    cap = OutputCapture(100)
    cap.feed("héllo\n".encode())
    cap.feed(b"world")
    assert (cap.text(), cap.omitted) == ("héllo\nworld", 0)


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=0)
    with pytest.raises(ValueError):
        SandboxLimits(cpus=-1)


def test_sync_ownership_skips_git_and_hard_links(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test suite expects to run as root (as the bot does in its container)")
    (tmp_path / ".git").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("")
    (tmp_path / "link").symlink_to("/etc/passwd")
    (tmp_path / "hard").write_text("")
    os.link(tmp_path / "hard", tmp_path / "hard2")
    sync_ownership(tmp_path, SANDBOX_UID, SANDBOX_UID)

    def owner(path: Path) -> int:
        return os.lstat(path).st_uid

    assert owner(tmp_path) == owner(tmp_path / "pkg" / "a.py") == owner(tmp_path / "link") == SANDBOX_UID
    assert owner(tmp_path / ".git") == 0
    assert owner(tmp_path / "hard") == 0
    assert os.stat("/etc/passwd").st_uid == 0  # the symlink was not followed


# --------------------------------------------------------------------------- docker


@pytest.mark.docker
def test_output_and_exit_code(session: DockerSession) -> None:
    result = session.run("echo to-stdout; echo to-stderr >&2; exit 3", timeout_s=30)
    assert result.exit_code == 3
    assert not result.timed_out and not result.ok
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
    assert py.ok, py.output
    assert (shared_worktree / "out.txt").read_text() == "42"
    assert os.stat(shared_worktree / "out.txt").st_uid == SANDBOX_UID
    assert list((shared_worktree / "__pycache__").glob("helper.cpython-*.pyc"))

    tests = session.run("python -m pytest -q test_tiny.py", timeout_s=120)
    assert tests.ok, tests.output
    assert "1 passed" in tests.output
    assert (shared_worktree / ".pytest_cache").is_dir()
    assert list((shared_worktree / "__pycache__").glob("test_tiny.cpython-*-pytest-*.pyc"))


@pytest.mark.docker
def test_files_the_host_adds_later_are_writable(session: DockerSession, shared_worktree: Path) -> None:
    """The host (root) edits between commands; the next command may still write."""
    (shared_worktree / "added_by_host").mkdir()
    (shared_worktree / "added_by_host" / "mod.py").write_text("X = 1\n")
    result = session.run("echo 'Y = 2' >> added_by_host/mod.py && touch added_by_host/new.txt", timeout_s=30)
    assert result.ok, result.output
    assert (shared_worktree / "added_by_host" / "mod.py").read_text() == "X = 1\nY = 2\n"


@pytest.mark.docker
def test_no_network(session: DockerSession, docker_client: docker.DockerClient) -> None:
    bridge = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Docker leaves "Gateway" out when it is the default: the subnet's first address.
    gateway = bridge.get("Gateway") or str(next(ipaddress.ip_network(bridge["Subnet"]).hosts()))
    listeners = []
    for host in ("127.0.0.1", gateway):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind((host, 0))
        srv.listen(8)
        listeners.append(srv)
    try:
        targets = [srv.getsockname() for srv in listeners]
        probe = textwrap.dedent(
            f"""
            import socket
            for host, port in {targets!r}:
                try:
                    socket.create_connection((host, port), timeout=3).close()
                    print("CONNECTED", host)
                except OSError as exc:
                    print("refused", host, exc)
            try:
                socket.getaddrinfo("deb.debian.org", 80)
                print("RESOLVED")
            except OSError as exc:
                print("no dns", exc)
            """
        )
        result = session.run(f"python3 -c {shlex.quote(probe)} && cat /proc/net/dev", timeout_s=60)
        assert result.ok, result.output
        assert "CONNECTED" not in result.output and "RESOLVED" not in result.output
        refused = [line for line in result.output.splitlines() if line.startswith("refused ")]
        assert len(refused) == 2, result.output  # 127.0.0.1 is the sandbox's own loopback
        interfaces = [line.split(":")[0].strip() for line in result.output.splitlines() if ":" in line]
        assert "lo" in interfaces and "eth0" not in interfaces
        for srv in listeners:  # nothing knocked
            readable, _, _ = select.select([srv], [], [], 0.2)
            assert not readable
    finally:
        for srv in listeners:
            srv.close()


@pytest.mark.docker
def test_host_environment_does_not_leak(
    session: DockerSession, sandbox: DockerSandbox, docker_client: docker.DockerClient
) -> None:
    assert os.environ[SECRET_NAME] == SECRET_VALUE  # set in this process for the whole module
    result = session.run("env", timeout_s=30)
    assert result.ok
    assert SECRET_VALUE not in result.output and SECRET_NAME not in result.output
    image_env = docker_client.images.get(sandbox.image).attrs["Config"]["Env"] or []
    allowed = set(BASE_ENV) | {e.split("=", 1)[0] for e in image_env} | {"HOSTNAME", "PWD"}
    names = {line.split("=", 1)[0] for line in result.output.splitlines() if "=" in line}
    assert names <= allowed, names - allowed
    assert "HOME=/tmp\n" in result.output


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
    assert result.ok
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
        assert s.container_id is None and _gone(docker_client, first)

        # A command that closes its output and keeps running also times out.
        silent = s.run("exec >/dev/null 2>&1; sleep 60", timeout_s=1.5)
        assert silent.timed_out and silent.exit_code == 124

        again = s.run("echo again", timeout_s=30)
        assert again.ok and again.output == "again\n"
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
    assert _gone(docker_client, container_id)
    s.close()  # idempotent
    with pytest.raises(SandboxClosedError):
        s.run("true", timeout_s=5)


@pytest.mark.docker
def test_reap_removes_leftovers(sandbox: DockerSandbox, docker_client: docker.DockerClient, tmp_path: Path) -> None:
    job = f"test-reap-{uuid.uuid4().hex[:8]}"
    leaked = sandbox.start(tmp_path, job_id=job)  # never closed, as after a crash
    container_id = leaked.container_id
    assert container_id is not None
    # Scoped to our job so that a concurrent test run on this engine is left alone;
    # reap(client) without job_id uses the same query minus the job value.
    assert reap(docker_client, job_id=job) == [container_id]
    assert _gone(docker_client, container_id)
    assert reap(docker_client, job_id=job) == []
    leaked.close()  # tolerates the container being gone already


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
        assert edit.ok, edit.output
        tamper = s.run("echo '[core]' >> .git/config", timeout_s=30)
        assert tamper.exit_code != 0 and "Read-only file system" in tamper.output
        inside = s.run("git status --porcelain --untracked-files=no && echo git-ok", timeout_s=30)
        assert inside.ok and "git-ok" in inside.output, inside.output

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
