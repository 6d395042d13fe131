"""Reaping: containers a crashed process left behind go, those of a live process sharing the engine stay.

Docker is required (fixtures in tests/runner/conftest.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from runner.sandbox.container import JOB_LABEL, LABEL, OWNER_LABEL
from runner.sandbox.host import owner_alive, owner_token
from runner.sandbox.reap import reap
from runner.sandbox.session import DockerSandbox
from tests.runner.conftest import gone

# The first build (debootstrap) can take minutes; it happens inside the first test's setup.
pytestmark = pytest.mark.timeout(900)


@pytest.mark.docker
def test_reap_removes_leftovers(sandbox: DockerSandbox, docker_client: docker.DockerClient, tmp_path: Path) -> None:
    job = f"test-reap-{uuid.uuid4().hex[:8]}"
    leaked = sandbox.start(tmp_path, job_id=job)  # never closed, as after a crash
    container_id = leaked.container_id
    assert container_id is not None
    labels = docker_client.containers.get(container_id).labels
    assert labels[OWNER_LABEL] == owner_token() and owner_alive(labels[OWNER_LABEL]) is True
    # Our own process is alive: an engine-wide reap leaves the container alone...
    assert container_id not in reap(docker_client)
    # ...a job-scoped reap (the end of a job) removes it whatever its owner.
    assert reap(docker_client, job_id=job) == [container_id]
    assert gone(docker_client, container_id)
    assert reap(docker_client, job_id=job) == []
    leaked.close()  # tolerates the container being gone already


@pytest.mark.docker
def test_engine_wide_reap_spares_live_owners_and_takes_dead_or_old_ones(
    docker_client: docker.DockerClient, sandbox_image: str
) -> None:
    """Several processes share one engine: reap() at start-up must not kill a live one's containers."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    boot, ns, _, _ = owner_token().split(".")
    owners = {
        "live": owner_token(child.pid),
        "dead": f"{boot}.{ns}.{dead.pid}.1",
        "foreign": f"otherhost.{ns}.1.1",
    }
    made = {}
    try:
        for name, owner in owners.items():
            made[name] = docker_client.containers.create(
                sandbox_image, ["true"], labels={LABEL: "1", JOB_LABEL: f"test-{name}", OWNER_LABEL: owner}
            ).id
        removed = reap(docker_client)
        assert made["dead"] in removed
        assert made["live"] not in removed and made["foreign"] not in removed
        time.sleep(1.1)
        removed = reap(docker_client, max_age_s=1.0)  # the foreign one is now "too old"
        assert made["foreign"] in removed and made["live"] not in removed
    finally:
        child.kill()
        child.wait()
        for container_id in made.values():
            if not gone(docker_client, container_id):
                docker_client.api.remove_container(container_id, force=True)
