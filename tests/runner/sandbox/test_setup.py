"""The setup phase: dependencies installed once, cached as an image keyed by what decides them.

The Docker tests use a private setup cache (the ``cache`` fixture in conftest.py). One test
installs a package from PyPI (network allowed in setup, through the host's CA bundle); the
others need no network. The key is tested in test_setup_key.py, the host's network settings
in test_setup_network.py, eviction and the per-key lock in test_setup_cache.py.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from runner.sandbox.container import VENV, SandboxLimits
from runner.sandbox.errors import SandboxImageMissingError
from runner.sandbox.session import DockerSandbox
from runner.sandbox.setup import SetupFailedError, prepare_image
from runner.sandbox.setup_cache import SetupCache
from runner.sandbox.setup_network import SetupNetwork
from tests.runner.sandbox.conftest import PYPROJECT, make_repo

# --------------------------------------------------------------------------- pure units


def test_no_setup_commands_means_the_base_image(tmp_path: Path) -> None:
    offline = docker.DockerClient(base_url="unix:///nonexistent", version="1.41")  # never contacted
    result = prepare_image(offline, "base:1", tmp_path, [" "], "r")
    assert (result.image, result.status, result.cache_hit) == ("base:1", "none", False)


# --------------------------------------------------------------------------- docker


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_setup_runs_once_then_hits_until_a_dependency_file_changes(
    docker_client: docker.DockerClient, sandbox_image: str, cache: SetupCache, tmp_path: Path, no_leftovers: None
) -> None:
    repo = make_repo(tmp_path / "job1")
    setup = ["pip install -e ."]
    first = prepare_image(docker_client, sandbox_image, repo, setup, "https://example.test/tiny.git", cache=cache,
                          network=SetupNetwork.from_host())
    assert first.status == "built", first.output
    assert "Successfully installed six" in first.output and first.image.startswith(f"{cache.repository}:")
    assert sorted(p.name for p in repo.iterdir()) == ["pyproject.toml", "src", "test_answer.py"]  # untouched

    # The next job: a fresh worktree of the same commit, with a local edit.
    job2 = shutil.copytree(repo, tmp_path / "job2")
    (job2 / "src" / "tinypkg" / "__init__.py").write_text("def answer():\n    return 42  # edited\n")
    second = prepare_image(docker_client, sandbox_image, job2, setup, "https://example.test/tiny.git", cache=cache)
    assert (second.status, second.image, second.output) == ("hit", first.image, "")
    # Lint/tests see the installed packages, and the editable install points at *this* worktree.
    out = run_in(docker_client, second.image, job2,
                 "python -c 'import six, tinypkg, inspect; print(tinypkg.__file__); print(inspect.getsource(tinypkg))'"
                 " && python -m pytest -q -p no:cacheprovider")
    assert "/workspace/src/tinypkg/__init__.py" in out and "# edited" in out and "1 passed" in out

    (job2 / "pyproject.toml").write_text(PYPROJECT.format(deps='"six", "tomli-w"'))
    third = prepare_image(docker_client, sandbox_image, job2, setup, "https://example.test/tiny.git", cache=cache)
    assert third.status == "built" and third.image != first.image
    assert "tomli" in third.output
    assert "tomli_w" in run_in(docker_client, third.image, job2, "python -c 'import tomli_w; print(tomli_w.__name__)'")


def run_in(client: docker.DockerClient, image: str, worktree: Path, command: str) -> str:
    with DockerSandbox(client, image=image, limits=SandboxLimits(cpus=1.0, memory_mb=1024)).start(worktree) as s:
        result = s.run(command, timeout_s=120)
    assert result.passed, result.output
    return result.output


@pytest.mark.docker
def test_setup_sees_no_secret_and_leaves_none_in_the_image(
    docker_client: docker.DockerClient, sandbox_image: str, cache: SetupCache, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, no_leftovers: None
) -> None:
    secret = "ghs_" + uuid.uuid4().hex
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")
    network = SetupNetwork(ca_bundle=ca, env={"PIP_INDEX_URL": "https://mirror.example.invalid/simple"})
    repo = make_repo(tmp_path / "repo")
    (repo / "node_modules").mkdir()  # already there: not setup's doing
    result = prepare_image(
        docker_client, sandbox_image, repo,
        [f"env | sort > {VENV}/../setup-env.txt; cat $PIP_CERT > {VENV}/../seen-ca.txt; "
         "ls / /opt/ai-fix; mount | grep -c workspace; mkdir venv-in-worktree"],
        "https://example.test/secrets.git", cache=cache, network=network,
    )
    assert result.status == "built", result.output
    assert result.warnings and "venv-in-worktree" in result.warnings[0] and "not kept" in result.warnings[0]
    assert "node_modules" not in result.warnings[0]
    assert "\n1\n" in result.output  # one mount at /workspace: the worktree copy, nothing else from the host
    env = run_in(docker_client, result.image, repo, "cat /opt/ai-fix/setup-env.txt")
    assert secret not in env and "GITHUB_TOKEN" not in env
    assert "PIP_INDEX_URL=https://mirror.example.invalid/simple" in env and "PIP_CERT=/opt/ai-fix/.setup-ca.crt" in env
    assert "not really" in run_in(docker_client, result.image, repo, "cat /opt/ai-fix/seen-ca.txt")
    # The CA file and the per-command settings are gone from the image and its config.
    gone = run_in(docker_client, result.image, repo, "test ! -e /opt/ai-fix/.setup-ca.crt && echo ca-gone")
    assert "ca-gone" in gone
    config = docker_client.api.inspect_image(result.image)["Config"]
    assert not [e for e in config["Env"] if e.startswith(("PIP_INDEX_URL", "PIP_CERT", "GITHUB_TOKEN"))]
    assert config["Labels"]["ai-fix.role"] == "setup" and config["Labels"]["ai-fix.job"] == ""
    assert f"PATH={VENV}/bin:" in " ".join(config["Env"])


@pytest.mark.docker
def test_failed_setup_is_reported_and_not_cached(
    docker_client: docker.DockerClient, sandbox_image: str, cache: SetupCache, tmp_path: Path, no_leftovers: None
) -> None:
    repo = make_repo(tmp_path / "repo")
    commands = ["echo installing", "echo 'ERROR: no matching distribution for nonexistent-pkg' >&2; exit 7", "true"]
    with pytest.raises(SetupFailedError) as caught:
        prepare_image(docker_client, sandbox_image, repo, commands, "https://example.test/fail.git", cache=cache)
    error = caught.value
    assert error.exit_code == 7
    assert "failed with exit code 7" in error.message and "no matching distribution" in error.message
    assert "installing" in error.output and ".github/ai-fix.yml" in error.hint
    assert docker_client.images.list(name=cache.repository) == []

    with pytest.raises(SetupFailedError, match="timed out"):
        prepare_image(docker_client, sandbox_image, repo, ["sleep 60"], "https://example.test/fail.git",
                      cache=cache, timeout_s=2)


@pytest.mark.docker
def test_a_missing_base_image_gets_the_same_hint_as_a_session(docker_client: docker.DockerClient,
                                                              tmp_path: Path) -> None:
    missing = "ai-fix-sandbox:does-not-exist"
    with pytest.raises(SandboxImageMissingError) as from_setup:
        prepare_image(docker_client, missing, make_repo(tmp_path / "repo"), ["true"], "https://example.test/m.git")
    with pytest.raises(SandboxImageMissingError) as from_session:
        DockerSandbox(docker_client, image=missing).check()
    assert str(from_setup.value) == str(from_session.value)
    assert "deploy/sandbox/build.sh" in from_setup.value.hint
