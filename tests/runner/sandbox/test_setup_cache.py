"""The setup cache on the real engine: least recently used images go first, one setup per key at a time.

Docker is required (fixtures in tests/runner/conftest.py and conftest.py here).
"""

from __future__ import annotations

import threading
from pathlib import Path

import docker
import pytest

from runner.ports import SetupResult
from runner.sandbox.setup import prepare_image
from runner.sandbox.setup_cache import SetupCache, evict_setup_images
from tests.runner.sandbox.conftest import make_repo


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
