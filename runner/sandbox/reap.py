"""Remove what a crashed process left on the Docker engine: sandbox containers and dangling setup images.

Why a module of its own: reaping is the one sandbox operation that touches containers this
process did not start, so its safety rule deserves to be read alone. Several processes (the
receiver's workers, ``ai-fix solve``, tests) may share one engine; every container carries its
owner's token (boot id, pid namespace, pid and start time, see ``runner.sandbox.host``), and
an engine-wide reap removes only containers whose owner is gone, or which are older than any
job may run when the owner cannot be checked from here.
"""

from __future__ import annotations

import logging
import time

import docker
import docker.errors
import requests.exceptions

from runner.sandbox.container import JOB_LABEL, LABEL, OWNER_LABEL, ROLE_LABEL
from runner.sandbox.engine import docker_errors
from runner.sandbox.errors import SandboxError
from runner.sandbox.host import owner_alive

log = logging.getLogger(__name__)

#: Containers whose owner cannot be checked (other host or pid namespace, no
#: owner label) are reaped once older than this: longer than any job may run.
DEFAULT_REAP_AGE_S = 8 * 3600.0


def reap(
    client: docker.DockerClient, *, job_id: str | None = None, max_age_s: float = DEFAULT_REAP_AGE_S
) -> list[str]:
    """Remove sandbox containers left behind (e.g. after a crash); return their ids.

    Matches containers carrying ``ai-fix=1`` and a non-empty ``ai-fix.job``
    label, i.e. only those made by ``DockerSandbox`` (image labels alone
    would also match build containers). With ``job_id``, removes that job's
    containers whatever their state (call it when a job ends). Without it,
    several processes may share the engine, so only *abandoned* containers go:
    those whose owner process is gone, and those older than ``max_age_s`` whose
    owner cannot be checked from here (another host or pid namespace).
    Also removes untagged setup-cache images (superseded by a concurrent build).
    """
    labels = [f"{LABEL}=1", f"{JOB_LABEL}={job_id}" if job_id else JOB_LABEL]
    removed = []
    with docker_errors("list sandbox containers"):
        containers = client.api.containers(all=True, filters={"label": labels})
    now = time.time()
    for info in containers:
        tags = info.get("Labels") or {}
        if not tags.get(JOB_LABEL):
            continue  # inherited from a setup image's config, not a sandbox container
        age_s = now - float(info.get("Created", now))
        if job_id is None and not _abandoned(tags.get(OWNER_LABEL, ""), age_s, max_age_s):
            continue
        try:
            with docker_errors("remove a sandbox container"):
                client.api.remove_container(info["Id"], force=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # removal already in progress
                continue
            raise SandboxError(f"could not remove sandbox container {info['Id'][:12]}: {exc}") from exc
        removed.append(str(info["Id"]))
    if removed:
        log.info("reaped %d leftover sandbox container(s)", len(removed))
    if job_id is None:
        _remove_dangling_setup_images(client)
    return removed


def _abandoned(owner: str, age_s: float, max_age_s: float) -> bool:
    alive = owner_alive(owner) if owner else None
    if alive is None:
        return age_s > max_age_s
    return not alive


def _remove_dangling_setup_images(client: docker.DockerClient) -> None:
    try:
        images = client.api.images(filters={"dangling": True, "label": [f"{LABEL}=1", f"{ROLE_LABEL}=setup"]})
        for image in images:
            try:
                client.api.remove_image(image["Id"])
            except docker.errors.APIError:
                continue  # in use by a container: a later reap gets it
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        log.warning("could not remove untagged setup images: %s", exc)
