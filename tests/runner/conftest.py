"""Docker fixtures of the sandbox, hostile-repository and setup-phase tests (and of solve's one Docker test).

Only these fixtures live here; they start nothing unless a test asks for them.
Docker is required: the fixtures fail, never skip, when the
engine is unreachable. The image is built by deploy/sandbox/build.sh (a no-op
taking a fraction of a second once built; about 2.5 minutes the first time).
"""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from runner.sandbox.container import SandboxLimits
from runner.sandbox.engine import docker_client_from_env
from runner.sandbox.errors import DockerUnavailableError
from runner.sandbox.session import DockerSandbox
from runner.sandbox.setup_cache import SetupCache

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "deploy" / "sandbox" / "build.sh"


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


@pytest.fixture(scope="session")
def bridge_gateway(docker_client: docker.DockerClient) -> str:
    """The host's address on Docker's default bridge (docker0)."""
    bridge = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Docker leaves "Gateway" out when it is the default: the subnet's first address.
    return str(bridge.get("Gateway") or next(ipaddress.ip_network(bridge["Subnet"]).hosts()))


def gone(client: docker.DockerClient, container_id: str) -> bool:
    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return True
    return False


@pytest.fixture
def no_leftovers(docker_client: docker.DockerClient) -> Iterator[None]:
    """Fail a test that leaves a container of this process behind."""
    from runner.sandbox.container import OWNER_LABEL
    from runner.sandbox.host import owner_token

    yield
    mine = docker_client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner_token()}"})
    for container in mine:
        container.remove(force=True)
    assert not mine, f"left behind: {[c.name for c in mine]}"


@pytest.fixture
def cache(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[SetupCache]:
    """A private setup cache: its own image repository name (``ai-fix-setup-test-<id>``), so that eviction in
    a test never touches the cache of another process on the same engine; its images are removed at the end."""
    repository = f"ai-fix-setup-test-{uuid.uuid4().hex[:8]}"
    yield SetupCache(repository=repository, lock_dir=tmp_path / "locks")
    for image in docker_client.images.list(name=repository):
        for tag in image.tags:
            docker_client.images.remove(tag)
