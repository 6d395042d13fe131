"""The setup cache: setup images found by their key, locked per key, evicted least recently used first.

Why a module of its own: setup images are the one thing the sandbox keeps on the engine
between jobs, so their bookkeeping (which labels mark them, how a hit is recorded, when the
oldest go) is kept apart from how they are built (``runner.sandbox.setup``). An image is
``<repository>:<key prefix>`` labelled with the full key; a hit re-tags it, and the re-tag
time is what eviction reads as "last used".
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from runner.sandbox.container import JOB_LABEL, LABEL, OWNER_LABEL, ROLE_LABEL
from runner.sandbox.errors import SandboxError

log = logging.getLogger(__name__)

SETUP_REPOSITORY = "ai-fix-setup"
KEY_LABEL = "ai-fix.setup-key"
REPO_LABEL = "ai-fix.repo"
#: Id of the image setup started from: eviction counts only what a setup image adds to it.
BASE_LABEL = "ai-fix.base-id"


@dataclass(frozen=True)
class SetupCache:
    """Where setup images live and how many are kept (least recently used go first).

    ``max_bytes`` counts what each image adds to its base. ``lock_dir`` holds
    one lock file per key, so two jobs of one repository set up only once.
    """

    repository: str = SETUP_REPOSITORY
    max_images: int = 20
    max_bytes: int = 20 * 1024**3
    lock_dir: Path | None = None


def image_labels(key: str, repo_key: str, base_id: str) -> dict[str, str]:
    """The labels a setup image is committed with: found by key, evicted by base size, never reaped as a container.

    ``ai-fix.job`` and ``ai-fix.owner`` are set empty: containers started from the image
    inherit its labels, and the reaper must not take them for a job's own.
    """
    return {LABEL: "1", ROLE_LABEL: "setup", JOB_LABEL: "", OWNER_LABEL: "", KEY_LABEL: key,
            REPO_LABEL: repo_key, BASE_LABEL: base_id}


def find_cached(client: docker.DockerClient, tag: str, key: str) -> Mapping[str, str] | None:
    """The labels of ``tag`` if it is this key's image, else None; re-tagging marks it recently used for eviction."""
    try:
        info = client.api.inspect_image(tag)
        labels: Mapping[str, str] = (info.get("Config") or {}).get("Labels") or {}
        if labels.get(KEY_LABEL) != key:
            return None
        repository, name = tag.split(":", 1)
        client.api.tag(info["Id"], repository, name)
        return labels
    except docker.errors.NotFound:
        return None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxError(f"could not look up the setup cache image {tag}: {exc}") from exc


@contextmanager
def key_lock(cache: SetupCache, key: str) -> Iterator[None]:
    """Hold the file lock of ``key``: a second job of the same setup waits, then finds the image."""
    lock_dir = cache.lock_dir or Path(tempfile.gettempdir())
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"ai-fix-setup-{key[:24]}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def evict_setup_images(client: docker.DockerClient, cache: SetupCache, *, keep: Collection[str] = ()) -> list[str]:
    """Remove the least recently used setup images beyond ``cache``'s bounds; return the removed tags.

    "Used" is the image's last tag time: a cache hit re-tags the image. Images
    in use by a container, and the tags in ``keep``, stay.
    """
    prefix = f"{cache.repository}:"
    sizes: dict[str, int] = {}
    try:
        listed = client.api.images(filters={"label": [f"{LABEL}=1", f"{ROLE_LABEL}=setup"]})
        entries = []
        for image in listed:
            tags = [t for t in image.get("RepoTags") or [] if t.startswith(prefix)]
            if tags:
                info = client.api.inspect_image(image["Id"])
                used = (info.get("Metadata") or {}).get("LastTagTime") or info.get("Created", "")
                base = (info.get("Config") or {}).get("Labels", {}).get(BASE_LABEL, "")
                entries.append((used, tags[0], int(info.get("Size", 0)) - _size(client, base, sizes)))
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        log.warning("could not list setup images to evict: %s", exc)
        return []
    entries.sort(reverse=True)  # most recently used first
    removed, count, total = [], 0, 0
    for _, tag, added in entries:
        count, total = count + 1, total + max(added, 0)
        if tag in keep or (count <= cache.max_images and total <= cache.max_bytes):
            continue
        try:
            client.api.remove_image(tag)
            removed.append(tag)
        except docker.errors.APIError as exc:
            log.info("keeping setup image %s: %s", tag, exc.explanation or exc)
    if removed:
        log.info("evicted %d setup image(s): %s", len(removed), ", ".join(removed))
    return removed


def _size(client: docker.DockerClient, image_id: str, sizes: dict[str, int]) -> int:
    """Size of ``image_id`` (0 if gone), asked once per eviction."""
    if not image_id:
        return 0
    if image_id not in sizes:
        try:
            sizes[image_id] = int(client.api.inspect_image(image_id).get("Size", 0))
        except docker.errors.NotFound:
            sizes[image_id] = 0
    return sizes[image_id]
