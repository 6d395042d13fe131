"""A hostile repository against the sandbox: each test plants code a repository could
ship (a test file, a script, a symlink), runs it exactly as a job's tests run, and
checks both that it was contained and that the result says plainly what happened.
After every attack the host, this process (standing in for the App) and the next
command are checked to be unaffected.

Network probes target only two addresses: 127.0.0.1 and the Docker bridge gateway,
each on a port this test listens on. Docker is required (fixtures in conftest.py).
"""

from __future__ import annotations

import errno
import os
import select
import shlex
import socket
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from runner.sandbox.container import SANDBOX_UID, TIMEOUT_EXIT_CODE
from runner.sandbox.host import sync_ownership
from runner.sandbox.results import ADDOPTS
from runner.sandbox.session import DockerSandbox, DockerSession

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

FAKE_SECRETS = {
    "GITHUB_TOKEN": "ghs_" + uuid.uuid4().hex,
    "AI_FIX_WEBHOOK_SECRET": "whsec-" + uuid.uuid4().hex,
    "OPENAI_API_KEY": "sk-" + uuid.uuid4().hex,
    "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The hostile repository's worktree; the host's own files sit next to it."""
    wt = tmp_path / "worktree"
    wt.mkdir()
    (wt / "README.md").write_text("hostile\n")
    return wt


@pytest.fixture
def session(sandbox: DockerSandbox, repo: Path, no_leftovers: None) -> Iterator[DockerSession]:
    """A job's session; fake App secrets are in this process's environment throughout."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in FAKE_SECRETS.items():
            mp.setenv(name, value)
        with sandbox.start(repo, job_id=f"test-hostile-{uuid.uuid4().hex[:8]}") as s:
            yield s


def plant(repo: Path, name: str, code: str) -> str:
    """Write a script into the repository; return the command that runs it."""
    (repo / name).write_text(textwrap.dedent(code))
    return f"python3 {shlex.quote(name)}"


def assert_unaffected(session: DockerSession, docker_client: docker.DockerClient) -> None:
    """The next command, the host and the engine still work normally."""
    after = session.run("echo next-command-ok", timeout_s=60)
    assert after.passed and after.output.startswith("next-command-ok\n"), after.output
    assert after.forks_refused == 0 and after.oom_kills == 0
    host = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, timeout=30)
    assert host.returncode == 0
    assert docker_client.ping()


# --------------------------------------------------------------------------- network


def test_connecting_to_the_host_reaches_nothing(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient, bridge_gateway: str
) -> None:
    listeners = []
    for host in ("127.0.0.1", bridge_gateway):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind((host, 0))
        srv.listen(8)
        srv.setblocking(False)
        listeners.append(srv)
    try:
        targets = [srv.getsockname() for srv in listeners]
        command = plant(repo, "test_phone_home.py", f"""
            import socket
            for host, port in {targets!r}:
                try:
                    socket.create_connection((host, port), timeout=3).close()
                    print("CONNECTED", host)
                except OSError as exc:
                    print("refused", host, exc)
            try:
                socket.getaddrinfo("pypi.org", 443)
                print("RESOLVED")
            except OSError as exc:
                print("no dns", exc)
            """)
        result = session.run(f"{command} && cat /proc/net/dev", timeout_s=60)
        assert result.passed, result.output
        assert "CONNECTED" not in result.output and "RESOLVED" not in result.output
        # The report: the gateway is unreachable (no route), 127.0.0.1 is the sandbox's own loopback.
        assert f"refused {bridge_gateway} [Errno {errno.ENETUNREACH}] Network is unreachable" in result.output
        assert "refused 127.0.0.1 [Errno 111] Connection refused" in result.output
        interfaces = [line.split(":")[0].strip() for line in result.output.splitlines() if ":" in line]
        assert "lo" in interfaces and "eth0" not in interfaces
        for srv in listeners:  # nothing knocked
            assert not select.select([srv], [], [], 0.2)[0]
            with pytest.raises(BlockingIOError):
                srv.accept()
    finally:
        for srv in listeners:
            srv.close()
    assert_unaffected(session, docker_client)


# --------------------------------------------------------------------------- secrets


def test_reading_the_environment_finds_no_app_secret(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient, sandbox: DockerSandbox
) -> None:
    assert all(os.environ[name] == value for name, value in FAKE_SECRETS.items())  # the App holds them
    command = plant(repo, "test_steal.py", """
        import glob, os
        print("ENV", sorted(os.environ))
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                print(path, open(path, "rb").read().replace(b"\\0", b" ").decode())
            except OSError as exc:
                print(path, "unreadable:", exc.strerror)
        for path in ("/run/secrets", "/var/run/docker.sock", "/root/.docker", "/etc/ai-fix"):
            print(path, "exists" if os.path.exists(path) else "absent")
        """)
    result = session.run(command, timeout_s=60)
    assert result.passed, result.output
    for name, value in FAKE_SECRETS.items():
        assert value not in result.output and name not in result.output
    names = eval(result.output.split("ENV ", 1)[1].splitlines()[0])  # noqa: S307 - our own script's list
    image_env = docker_client.images.get(sandbox.image).attrs["Config"]["Env"] or []
    # PYTEST_ADDOPTS is the sandbox's own: where pytest writes its report (checked to the letter below).
    allowed = set(sandbox.env) | {e.split("=", 1)[0] for e in image_env} | {"HOSTNAME", "PWD", "PYTEST_ADDOPTS"}
    assert set(names) <= allowed, set(names) - allowed
    addopts = session.run("printenv PYTEST_ADDOPTS", timeout_s=60)
    assert addopts.output == f"{ADDOPTS}\n"
    for path in ("/run/secrets", "/var/run/docker.sock", "/root/.docker", "/etc/ai-fix"):
        assert f"{path} absent" in result.output
    assert_unaffected(session, docker_client)


# --------------------------------------------------------------------------- file system


def test_writing_outside_the_worktree_fails(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient
) -> None:
    targets = ["/workspace/../escape.txt", "/escape.txt", "/etc/escape.txt", "/usr/lib/escape.txt",
               "/opt/escape.txt", "/var/tmp/escape.txt", "/root/escape.txt", "/home/escape.txt",
               "/proc/sys/kernel/hostname"]
    command = plant(repo, "test_escape.py", f"""
        for path in {targets!r}:
            try:
                with open(path, "w") as f:
                    f.write("x")
                print("WROTE", path)
            except OSError as exc:
                print("denied", path, exc.strerror)
        open("/workspace/inside.txt", "w").write("fine")
        print("inside ok")
        """)
    result = session.run(command, timeout_s=60)
    assert result.passed, result.output
    assert "WROTE" not in result.output
    for path in targets:
        line = next(line for line in result.output.splitlines() if line.startswith(f"denied {path} "))
        assert line.endswith(("Read-only file system", "Permission denied")), line
    assert "inside ok" in result.output and (repo / "inside.txt").read_text() == "fine"
    assert not (repo.parent / "escape.txt").exists()
    assert sorted(p.name for p in repo.parent.iterdir()) == ["worktree"]
    assert_unaffected(session, docker_client)


def test_symlinks_out_of_the_worktree_reach_no_host_file(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient
) -> None:
    secret = repo.parent / "host-secret.txt"
    secret.write_text("HOST-SECRET-" + uuid.uuid4().hex)
    (repo / "leak_relative").symlink_to("../host-secret.txt")
    (repo / "leak_absolute").symlink_to(secret)
    (repo / "leak_dir").symlink_to(repo.parent)
    (repo / "etc_link").symlink_to("/etc")
    command = plant(repo, "test_follow.py", """
        for path in ("leak_relative", "leak_absolute", "leak_dir/host-secret.txt", "etc_link/hostname"):
            try:
                print("READ", path, open(path).read().strip())
            except OSError as exc:
                print("failed", path, exc.strerror)
        import os
        os.symlink("/etc/passwd", "planted_file")        # for the host's next walk
        os.symlink("/etc", "planted_dir")
        """)
    result = session.run(command, timeout_s=60)
    assert result.passed, result.output
    assert "HOST-SECRET" not in result.output
    for path in ("leak_relative", "leak_absolute", "leak_dir/host-secret.txt"):
        assert f"failed {path} No such file or directory" in result.output
    # /etc inside is the image's, not the host's.
    assert "READ etc_link/hostname sandbox" in result.output
    # The host's ownership walk before the next command does not follow what was planted.
    passwd, etc = os.stat("/etc/passwd"), os.stat("/etc/hostname")
    sync_ownership(repo, SANDBOX_UID, SANDBOX_UID)
    assert (os.stat("/etc/passwd").st_uid, os.stat("/etc/hostname").st_uid) == (passwd.st_uid, etc.st_uid) == (0, 0)
    assert os.stat(secret).st_uid == 0
    assert_unaffected(session, docker_client)


# --------------------------------------------------------------------------- exhaustion


def test_fork_bomb_is_contained_and_reported(
    session: DockerSession, docker_client: docker.DockerClient, sandbox: DockerSandbox
) -> None:
    # The classic bomb, which returns at once and leaves its processes behind.
    result = session.run("bomb() { bomb | bomb & }; bomb", timeout_s=20)
    assert result.forks_refused > 0
    assert f"refused to start {result.forks_refused} process(es): at most {sandbox.limits.pids}" in result.output
    # Either processes were still running (and were stopped), or all had burnt out before the check: the
    # saturated container is replaced either way, and the output says which.
    assert ("process(es) running; they were stopped" in result.output
            or "the sandbox hit a limit and was replaced" in result.output), result.output[-500:]
    assert session.container_id is None  # the saturated container is gone...
    assert_unaffected(session, docker_client)  # ...and the next command runs in a fresh one


def test_memory_bomb_is_killed_and_reported(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient, sandbox: DockerSandbox
) -> None:
    command = plant(repo, "test_hog.py", """
        chunks = []
        while True:
            chunks.append(bytearray(64 << 20))
            print(len(chunks) * 64, "MB", flush=True)
        """)
    result = session.run(command, timeout_s=120)
    assert result.exit_code == 137 and not result.timed_out
    assert result.oom_kills >= 1
    assert f"ran out of memory (limit {sandbox.limits.memory_mb} MB" in result.output
    biggest = max(int(line.split()[0]) for line in result.output.splitlines() if line.endswith(" MB"))
    assert biggest <= sandbox.limits.memory_mb
    # /tmp is a tmpfs of bounded size, not a way around the memory limit.
    fill = session.run("head -c 2G /dev/zero > /tmp/fill; echo rc=$?; rm -f /tmp/fill", timeout_s=120)
    assert "No space left on device" in fill.output or "File too large" in fill.output, fill.output
    assert_unaffected(session, docker_client)


def test_endless_loop_is_killed_at_the_deadline(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient
) -> None:
    command = plant(repo, "test_spin.py", """
        import os
        for _ in range(3):
            if os.fork() == 0:
                break
        print("spinning", flush=True)
        while True:
            pass
        """)
    host_ok = threading.Event()

    def host_work() -> None:  # the host keeps working while the sandbox spins
        subprocess.run([sys.executable, "-c", "sum(range(10**6))"], check=True, timeout=60)
        host_ok.set()

    worker = threading.Thread(target=host_work)
    started = time.monotonic()
    worker.start()
    result = session.run(command, timeout_s=3)
    worker.join(60)
    assert host_ok.is_set()
    assert result.timed_out and result.exit_code == TIMEOUT_EXIT_CODE
    assert "spinning" in result.output and "timed out after 3 s" in result.output
    assert time.monotonic() - started < 30
    assert_unaffected(session, docker_client)


def test_a_gigabyte_of_output_is_capped_and_never_stored(
    session: DockerSession, docker_client: docker.DockerClient, sandbox: DockerSandbox
) -> None:
    tracemalloc.start()
    try:
        result = session.run("echo START; yes | head -c 1000000000; echo; echo END", timeout_s=240)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.passed, result.output[-500:]
    limit = sandbox.limits.max_output_bytes
    assert result.output.startswith("START\ny\ny\n") and result.output.endswith("y\n\nEND\n")
    assert f"[... ai-fix: {result.omitted_bytes:,} bytes of output omitted ...]" in result.output
    assert result.omitted_bytes == 1_000_000_000 + len("START\n\nEND\n") - limit
    assert len(result.output) < limit + 200
    assert peak < 8 * 1024 * 1024, f"reading 1 GB peaked at {peak:,} bytes of Python memory"
    # The side door: PID 1's stdout would go to a log file on the host; there is no log driver.
    flood = session.run("head -c 200000000 /dev/zero > /proc/1/fd/1; echo rc=$?", timeout_s=120)
    assert flood.passed
    container_id = session.container_id
    assert container_id is not None
    info = docker_client.api.inspect_container(container_id)
    assert info["HostConfig"]["LogConfig"]["Type"] == "none" and not info["LogPath"]
    assert_unaffected(session, docker_client)


# --------------------------------------------------------------------------- the test report


REPORT_ATTACKS = {
    # Swapped after pytest wrote it, from a hook that runs last: the App would read the target, if it followed.
    "link to /etc/shadow": "os.symlink('/etc/shadow', path)",
    "link to a host file": "os.symlink(HOST_SECRET, path)",
    "relative link out": "os.symlink('../../../../..' + HOST_SECRET, path)",
    "fifo": "os.mkfifo(path)",  # a blocking open would hang the App
    "a gigabyte": "open(path, 'wb').truncate(1 << 30)",
    "directory": "os.mkdir(path)",
}


@pytest.mark.parametrize("attack", REPORT_ATTACKS)
def test_a_report_swapped_for_something_else_is_refused_and_never_followed(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient, tmp_path: Path, attack: str
) -> None:
    secret = tmp_path / "host-secret.xml"
    secret.write_text(f"<testsuites><testsuite name='HOST-SECRET-{uuid.uuid4().hex}'/></testsuites>")
    (repo / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (repo / "conftest.py").write_text(textwrap.dedent(f"""
        import os, shlex
        HOST_SECRET = {str(secret)!r}

        def pytest_unconfigure(config):
            path = shlex.split(os.environ["PYTEST_ADDOPTS"])[0].split("=", 1)[1]
            os.unlink(path)
            {REPORT_ATTACKS[attack]}
            print("PLANTED", path)
        """))
    started = time.monotonic()
    result = session.run("python -m pytest -q -p no:cacheprovider", timeout_s=120)
    assert result.passed and "1 passed" in result.output and "PLANTED /ai-fix/results/junit.xml" in result.output
    assert result.report is None
    assert time.monotonic() - started < 60
    assert "HOST-SECRET" not in result.output
    # The next command's report is its own again: the directory was emptied.
    (repo / "conftest.py").unlink()
    again = session.run("python -m pytest -q -p no:cacheprovider", timeout_s=120)
    assert again.report is not None and 'name="test_ok"' in again.report
    assert_unaffected(session, docker_client)


def test_pytest_writing_through_a_planted_link_reaches_no_host_file(
    session: DockerSession, repo: Path, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    """Planted before pytest writes: the link resolves inside the container, never on the host."""
    secret = tmp_path / "host-file.txt"
    secret.write_text("untouched")
    (repo / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (repo / "conftest.py").write_text(textwrap.dedent(f"""
        import os, shlex
        path = shlex.split(os.environ["PYTEST_ADDOPTS"])[0].split("=", 1)[1]
        os.symlink({str(secret)!r}, path)
        os.symlink("/etc/passwd", os.path.join(os.path.dirname(path), "passwd"))
        """))
    result = session.run("python -m pytest -q -p no:cacheprovider", timeout_s=120)
    assert result.report is None
    assert secret.read_text() == "untouched"
    assert_unaffected(session, docker_client)
