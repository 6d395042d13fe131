"""The setup phase: dependencies installed once, cached as an image keyed by what decides them.

The Docker tests use a private setup cache (the ``cache`` fixture in conftest.py). One test
installs a package from PyPI (network allowed in setup, through the host's CA bundle); the
others need no network. The key is tested in test_setup_key.py, the host's network settings
in test_setup_network.py, eviction and the per-key lock in test_setup_cache.py.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from runner.sandbox.container import SANDBOX_UID, VENV, SandboxLimits
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


# --------------------------------------------------------------------------- what setup generates in the tree

GENERATED_TEST = """\
import os, stat
from pkg import _version, xxlimited

def test_generated_version():
    assert _version.version == "1.2.3"

def test_extension_built_in_place():
    assert xxlimited.Xxo and os.stat(xxlimited.__file__).st_mode & stat.S_IXUSR
"""
GENERATE = [
    # What setuptools-scm does when it writes its version file.
    "python -c \"import pathlib; pathlib.Path('pkg/_version.py').write_text('version = \\'1.2.3\\'\\n')\"",
    # Stands in for `build_ext --inplace` (the image has no compiler): a real extension module for this Python,
    # placed in the package with its mode, as the build leaves it; plus the object files a build leaves behind.
    "python -c \"import importlib.util, shutil; shutil.copy(importlib.util.find_spec('xxlimited').origin, 'pkg/')\""
    " && chmod 755 pkg/xxlimited.*.so && mkdir -p build/temp && touch build/temp/xxlimited.o",
]


def generating_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "0"\n')
    (root / "test_generated.py").write_text(GENERATED_TEST)
    return root


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_what_setup_generates_in_the_tree_reaches_the_tests(
    docker_client: docker.DockerClient, sandbox_image: str, cache: SetupCache, tmp_path: Path, no_leftovers: None
) -> None:
    repo = generating_repo(tmp_path / "repo")
    before = run_in(docker_client, sandbox_image, repo, "python -m pytest -q -p no:cacheprovider; true")
    assert "ModuleNotFoundError" in before or "ImportError" in before  # without setup: what the issue saw

    result = prepare_image(docker_client, sandbox_image, repo, GENERATE, "https://example.test/gen.git", cache=cache)
    assert result.status == "built" and result.warnings == (), result.output
    so_name = next(name for name in result.generated if name.endswith(".so"))
    assert result.generated == ("pkg/_version.py", so_name) and so_name.startswith("pkg/xxlimited.")
    assert not (repo / "pkg" / "_version.py").exists()  # setup ran on a copy; the job's worktree is untouched

    job = shutil.copytree(repo, tmp_path / "job")
    with DockerSandbox(docker_client, image=result.image).start(job) as session:
        tests = session.run("python -m pytest -q -p no:cacheprovider", timeout_s=120)
        assert session.layover is not None and session.layover["laid"] == 2
    assert tests.passed and "2 passed" in tests.output, tests.output
    assert tests.report is not None and tests.report.count("<testcase ") == 2 and "<failure" not in tests.report
    assert (job / "pkg" / "_version.py").read_text() == "version = '1.2.3'\n"
    assert os.stat(job / so_name).st_uid == SANDBOX_UID and not (job / "build").exists()

    # The next job hits the cache and is told the same; the attempt's own version of a generated file wins.
    hit = prepare_image(docker_client, sandbox_image, repo, GENERATE, "https://example.test/gen.git", cache=cache)
    assert (hit.status, hit.generated, hit.warnings) == ("hit", result.generated, ())
    edited = shutil.copytree(repo, tmp_path / "edited")
    (edited / "pkg" / "_version.py").write_text("version = '9.9.9'  # the attempt's edit\n")
    with DockerSandbox(docker_client, image=hit.image).start(edited) as session:
        seen = session.run("python -c 'from pkg import _version, xxlimited; print(_version.version)'", timeout_s=60)
        assert session.layover is not None
        assert (session.layover["laid"], session.layover["kept"]) == (1, 1)
        assert session.layover["kept_names"] == ["pkg/_version.py"]
    assert seen.passed and seen.output.startswith("9.9.9\n"), seen.output
    assert (edited / "pkg" / "_version.py").read_text() == "version = '9.9.9'  # the attempt's edit\n"


SCM_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "scmpkg"
dynamic = ["version"]

[tool.setuptools_scm]
version_file = "src/scmpkg/_version.py"
"""


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_setuptools_scm_version_file_reaches_the_tests(
    docker_client: docker.DockerClient, sandbox_image: str, cache: SetupCache, tmp_path: Path, no_leftovers: None
) -> None:
    """The issue's case, with the real setuptools-scm from PyPI: an editable install writes the version file
    into the source tree (the copy has no .git, so the version is given, as a checkout without tags needs)."""
    repo = tmp_path / "repo"
    (repo / "src" / "scmpkg").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(SCM_PYPROJECT)
    (repo / "src" / "scmpkg" / "__init__.py").write_text("from ._version import version as __version__\n")
    (repo / "test_version.py").write_text("import scmpkg\n\ndef test_version():\n"
                                          "    assert scmpkg.__version__ == '4.5.6'\n")
    setup = ["SETUPTOOLS_SCM_PRETEND_VERSION=4.5.6 pip install -e ."]
    result = prepare_image(docker_client, sandbox_image, repo, setup, "https://example.test/scm.git", cache=cache,
                           network=SetupNetwork.from_host())
    assert result.status == "built", result.output
    assert "src/scmpkg/_version.py" in result.generated
    assert all(name.startswith(("src/scmpkg/_version.py", "src/scmpkg.egg-info/")) for name in result.generated)
    tests = run_in(docker_client, result.image, repo, "python -m pytest -q -p no:cacheprovider")
    assert "1 passed" in tests
