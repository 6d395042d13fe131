"""`ai-fix sandbox`: one command, run as a job's tests run, with the command's exit code."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from runner.sandbox.cli import SANDBOX_FAILURE_EXIT_CODE, add_parser
from runner.sandbox.setup_cache import REPO_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

REPO_ROOT = Path(__file__).resolve().parents[3]


def cli(*argv: str) -> int:
    top = argparse.ArgumentParser(prog="ai-fix")
    add_parser(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(["sandbox", *argv])
    return int(args.func(args))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / ".github").mkdir(parents=True)
    (root / ".github" / "ai-fix.yml").write_text("setup:\n  - echo from-config > /opt/ai-fix/marker\n")
    (root / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (root / "ignored.log").write_text("not copied\n")
    (root / ".gitignore").write_text("*.log\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture
def cleanup_images(docker_client: docker.DockerClient, repo: Path) -> Iterator[None]:
    yield None
    for image in docker_client.images.list(filters={"label": f"{REPO_LABEL}=local:{repo}"}):
        for tag in image.tags:
            docker_client.images.remove(tag)


def test_runs_like_a_job_and_exits_with_the_command_code(
    repo: Path, sandbox_image: str, cleanup_images: None, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    command = "cat /opt/ai-fix/marker; ls; python -m pytest -q -p no:cacheprovider | tail -1; id -u; exit 3"
    assert cli("--repo", str(repo), "--", command) == 3
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "from-config" and lines[-1] == "10001", out  # setup from the config; the sandbox user
    assert "test_ok.py" in lines and "ignored.log" not in lines, out  # a copy of what git would track
    assert "1 passed" in out
    assert "setup ran" in err
    assert not list(repo.glob("__pycache__"))  # it ran in a copy

    assert cli("--repo", str(repo), "--", "cat", "/opt/ai-fix/marker") == 0  # several words are quoted
    out, err = capsys.readouterr()
    assert out == "from-config\n" and "setup cache hit" in err

    assert cli("--repo", str(repo), "--setup", "false", "--", "true") == SANDBOX_FAILURE_EXIT_CODE
    assert "setup command `false` failed with exit code 1" in capsys.readouterr().err


def test_timeout_is_124_and_problems_are_125(
    repo: Path, sandbox_image: str, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    assert cli("--repo", str(repo), "--no-setup", "--timeout", "1", "--", "echo started; sleep 30") == 124
    assert "timed out after 1 s" in capsys.readouterr().out
    code = cli("--repo", str(repo), "--no-setup", "--image", "ai-fix-sandbox:no-such-tag", "--", "true")
    assert code == SANDBOX_FAILURE_EXIT_CODE
    assert "deploy/sandbox/build.sh" in capsys.readouterr().err
    assert cli("--repo", str(repo), "--no-setup") == 2


def test_python_dash_m_entry_point(repo: Path, sandbox_image: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "runner.sandbox.cli", "--repo", str(repo), "--no-setup", "--", "echo hi; exit 5"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120, check=False,
    )
    assert (proc.returncode, proc.stdout) == (5, "hi\n"), proc.stderr


def test_setup_output_and_the_report_flags_are_there_as_in_a_job(
    repo: Path, sandbox_image: str, cleanup_images: None, capsys: pytest.CaptureFixture[str], no_leftovers: None
) -> None:
    (repo / "test_gen.py").write_text("from _generated import VALUE\n\ndef test_gen():\n    assert VALUE == 7\n")
    setup = "echo 'VALUE = 7' > _generated.py"
    command = "python -m pytest -q -p no:cacheprovider | tail -1; echo $PYTEST_ADDOPTS"
    assert cli("--repo", str(repo), "--setup", setup, "--", command) == 0
    out, err = capsys.readouterr()
    assert "2 passed" in out and "--junitxml=/ai-fix/results/junit.xml -o junit_family=xunit1" in out, out
    assert "setup generated 1 file(s) in the source tree, laid over the worktree before CMD: _generated.py" in err
    assert not (repo / "_generated.py").exists()
