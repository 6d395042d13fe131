"""Tests of runner.sandbox.session against the real Docker engine and the real image.

Docker is required: these tests fail (never skip) when the engine is
unreachable (fixtures in tests/runner/conftest.py). One sandbox session
is shared by the module where a test does not need its own. What a hostile
repository can try (network, secrets, escapes, bombs) is in test_hostile.py;
reaping leftovers is in test_reap.py, the host-side helpers in test_host.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import docker
import docker.errors
import pytest

from runner.sandbox.container import SANDBOX_UID, TIMEOUT_EXIT_CODE
from runner.sandbox.errors import DockerUnavailableError, SandboxClosedError, SandboxImageMissingError
from runner.sandbox.results import ADDOPTS
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


# --------------------------------------------------------------------------- the structured test report


def _cases(report: str | None) -> dict[str, str]:
    """testcase `file::name` -> "passed" / "failed" / "error" / "skipped", from the report pytest wrote."""
    assert report is not None
    outcomes = {}
    for case in ElementTree.fromstring(report).iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        outcomes[f"{case.get('file')}::{case.get('name')}"] = outcome.replace("failure", "failed")
    return outcomes


@pytest.mark.docker
def test_pytest_reports_every_test_outside_the_worktree(session: DockerSession, shared_worktree: Path) -> None:
    (shared_worktree / "test_params.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('x', ['a b', 'ünï \"q\"'])\ndef test_p(x):\n"
        "    assert x == 'a b'\n")
    try:
        result = session.run("python -m pytest -q -p no:cacheprovider test_tiny.py test_params.py", timeout_s=120)
    finally:
        (shared_worktree / "test_params.py").unlink()
    assert result.exit_code == 1, result.output
    # Ids as pytest reports them: the space and the quotes kept, non-ASCII escaped (as on the console).
    assert _cases(result.report) == {"test_tiny.py::test_answer": "passed", "test_params.py::test_p[a b]": "passed",
                                     'test_params.py::test_p[\\xfcn\\xef "q"]': "failed"}
    assert not list(shared_worktree.glob("*.xml"))  # nothing of the report in what gets diffed
    plain = session.run("echo no tests here", timeout_s=30)
    assert plain.passed and plain.report is None  # the previous command's report is not this one's


@pytest.mark.docker
def test_the_report_flags_are_appended_to_the_sandboxes_own_pytest_addopts(
    docker_client: docker.DockerClient, sandbox_image: str, shared_worktree: Path
) -> None:
    sandbox = DockerSandbox(docker_client, image=sandbox_image, env={"PYTEST_ADDOPTS": "-p no:cacheprovider -rA"})
    with sandbox.start(shared_worktree) as s:
        base = s.run("printenv PYTEST_ADDOPTS", timeout_s=30)
        assert base.output == f"-p no:cacheprovider -rA {ADDOPTS}\n"
        own = s.run("printenv PYTEST_ADDOPTS", timeout_s=30, env={"PYTEST_ADDOPTS": "-x"})
        assert own.output == f"-x {ADDOPTS}\n"
        tests = s.run("python -m pytest -q test_tiny.py", timeout_s=120)
    assert tests.passed and "PASSED test_tiny.py::test_answer" in tests.output  # -rA still applies
    assert _cases(tests.report) == {"test_tiny.py::test_answer": "passed"}


@pytest.mark.docker
def test_a_timed_out_command_has_no_report(session: DockerSession) -> None:
    result = session.run("python -m pytest -q -p no:cacheprovider test_tiny.py && sleep 60", timeout_s=5)
    assert result.timed_out and "1 passed" in result.output  # pytest finished and wrote its report...
    assert result.report is None  # ...but a command killed for its timeout reports nothing


@pytest.mark.docker
def test_a_nested_failing_session_is_not_the_report_of_the_passing_test_that_ran_it(
    session: DockerSession, shared_worktree: Path
) -> None:
    """A test that runs pytest in a subprocess (as pytest's own tests do with -rA) prints FAILED lines, and the
    inner session inherits PYTEST_ADDOPTS and writes the same file; the outer session writes it last."""
    inner = shared_worktree / "inner"
    inner.mkdir()
    (inner / "test_inner.py").write_text("def test_inner_fails():\n    assert False\n")
    (shared_worktree / "test_outer.py").write_text(
        "import os, shlex, subprocess, sys\n\n"
        "def test_outer():\n"
        "    proc = subprocess.run([sys.executable, '-m', 'pytest', '-rA', '-p', 'no:cacheprovider', 'inner'],\n"
        "                          capture_output=True, text=True)\n"
        "    print(proc.stdout)\n"
        "    assert proc.returncode == 1 and 'FAILED inner/test_inner.py::test_inner_fails' in proc.stdout\n"
        "    report = shlex.split(os.environ['PYTEST_ADDOPTS'])[0].split('=', 1)[1]\n"
        "    assert 'test_inner_fails' in open(report).read()  # the inner session did write the same file\n")
    try:
        result = session.run("python -m pytest -rA -p no:cacheprovider test_outer.py", timeout_s=120)
    finally:
        (shared_worktree / "test_outer.py").unlink()
        shutil.rmtree(inner)
    assert result.passed, result.output
    assert "FAILED inner/test_inner.py::test_inner_fails" in result.output  # what a console scan would misread
    assert _cases(result.report) == {"test_outer.py::test_outer": "passed"}
