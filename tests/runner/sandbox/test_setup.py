"""The setup phase: dependencies installed once, cached as an image keyed by what decides them.

The Docker tests use their own image repository name (``ai-fix-setup-test-<id>``) so that
eviction here never touches the cache of another process on the same engine; every image
they make is removed at the end. One test installs a package from PyPI (network allowed in
setup, through the host's CA bundle); the others need no network.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from runner.sandbox.container import VENV, SandboxLimits
from runner.sandbox.session import DockerSandbox
from runner.sandbox.setup import (
    SetupCache,
    SetupFailedError,
    SetupNetwork,
    SetupResult,
    dependency_files,
    evict_setup_images,
    prepare_image,
    setup_key,
)

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinypkg"
version = "0.1"
dependencies = [{deps}]

[tool.setuptools.packages.find]
where = ["src"]
"""


def make_repo(root: Path, deps: str = '"six"') -> Path:
    (root / "src" / "tinypkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(deps=deps))
    (root / "src" / "tinypkg" / "__init__.py").write_text("def answer():\n    return 42\n")
    (root / "test_answer.py").write_text("import tinypkg\n\ndef test_answer():\n    assert tinypkg.answer() == 42\n")
    return root


# --------------------------------------------------------------------------- pure units


def test_dependency_files_are_found_where_they_matter(tmp_path: Path) -> None:
    for rel in ("pyproject.toml", "requirements-dev.txt", "requirements/test.txt", "web/package.json",
                "web/node_modules/x/package.json", ".venv/lib/setup.py", "a/b/c/d/e/setup.py", "src/mod.py",
                "docs/requirements.txt", "poetry.lock"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / "setup.py").symlink_to("/etc/passwd")  # never read through a link
    assert dependency_files(tmp_path) == ["docs/requirements.txt", "poetry.lock", "pyproject.toml",
                                          "requirements-dev.txt", "requirements/test.txt", "web/package.json"]


def test_key_follows_dependencies_commands_base_and_repo_only(tmp_path: Path) -> None:
    make_repo(tmp_path)
    key = setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git")
    (tmp_path / "src" / "tinypkg" / "__init__.py").write_text("def answer():\n    return 43\n")
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git") == key
    assert setup_key("sha256:other", tmp_path, ["pip install -e ."], "https://x/r.git") != key
    assert setup_key("sha256:base", tmp_path, ["pip install ."], "https://x/r.git") != key
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/other.git") != key
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(deps='"six", "attrs"'))
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git") != key


def test_network_settings_come_from_the_host_without_credentials(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\ntrusted-host = mirror.example\n")
    net = SetupNetwork.from_host({
        "PIP_CERT": str(ca),
        "PIP_CONFIG_FILE": str(conf),
        "HTTPS_PROXY": "http://user:hunter2@proxy.example:3128",
        "NO_PROXY": "localhost",
        "PIP_EXTRA_INDEX_URL": "https://__token__:pypi-XYZ@private.example/simple",
        "GITHUB_TOKEN": "ghs_secret",
    })
    assert net.ca_bundle == ca
    assert net.env == {"PIP_INDEX_URL": "https://mirror.example/simple", "PIP_TRUSTED_HOST": "mirror.example",
                       "NO_PROXY": "localhost"}
    assert net.dropped == ("HTTPS_PROXY", "PIP_EXTRA_INDEX_URL")
    env = net.command_env()
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == "/opt/ai-fix/.setup-ca.crt"
    assert "hunter2" not in repr(env) and "ghs_secret" not in repr(env) and env["VIRTUAL_ENV"] == VENV


def test_no_setup_commands_means_the_base_image(tmp_path: Path) -> None:
    offline = docker.DockerClient(base_url="unix:///nonexistent", version="1.41")  # never contacted
    result = prepare_image(offline, "base:1", tmp_path, [" "], "r")
    assert (result.image, result.status, result.cache_hit) == ("base:1", "none", False)


# --------------------------------------------------------------------------- docker


@pytest.fixture
def cache(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[SetupCache]:
    repository = f"ai-fix-setup-test-{uuid.uuid4().hex[:8]}"
    yield SetupCache(repository=repository, lock_dir=tmp_path / "locks")
    for image in docker_client.images.list(name=repository):
        for tag in image.tags:
            docker_client.images.remove(tag)


def run_in(client: docker.DockerClient, image: str, worktree: Path, command: str) -> str:
    with DockerSandbox(client, image=image, limits=SandboxLimits(cpus=1.0, memory_mb=1024)).start(worktree) as s:
        result = s.run(command, timeout_s=120)
    assert result.passed, result.output
    return result.output


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
def test_cache_keeps_the_most_recently_used_images(
    docker_client: docker.DockerClient, sandbox_image: str, cache: SetupCache, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")

    def prepare(n: int) -> SetupResult:
        return prepare_image(docker_client, sandbox_image, repo, [f"echo {n}"], "https://example.test/lru.git",
                             cache=cache)

    one, two = prepare(1), prepare(2)
    assert prepare(1).status == "hit"  # one is now more recently used than two
    three = prepare(3)
    assert evict_setup_images(docker_client, SetupCache(repository=cache.repository, max_images=2)) == [two.image]
    tags = {t for image in docker_client.images.list(name=cache.repository) for t in image.tags}
    assert tags == {one.image, three.image}
    assert prepare(2).status == "built"  # evicted, so set up again


@pytest.mark.docker
def test_concurrent_jobs_of_one_repository_set_up_once(
    docker_client: docker.DockerClient, sandbox_image: str, cache: SetupCache, tmp_path: Path
) -> None:
    repos = [make_repo(tmp_path / f"job{i}") for i in range(2)]
    results: list[SetupResult] = []

    def job(repo: Path) -> None:
        results.append(prepare_image(docker_client, sandbox_image, repo, ["sleep 1"], "https://example.test/c.git",
                                     cache=cache))

    threads = [threading.Thread(target=job, args=(repo,)) for repo in repos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(r.status for r in results) == ["built", "hit"]
    assert results[0].image == results[1].image
