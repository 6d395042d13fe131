"""Fixtures of the setup-phase tests: a tiny installable repository and a private setup cache.

The cache uses its own image repository name (``ai-fix-setup-test-<id>``) so that eviction in
a test never touches the cache of another process on the same engine; every image a test
makes there is removed at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from runner.sandbox.setup_cache import SetupCache

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


@pytest.fixture
def cache(docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[SetupCache]:
    repository = f"ai-fix-setup-test-{uuid.uuid4().hex[:8]}"
    yield SetupCache(repository=repository, lock_dir=tmp_path / "locks")
    for image in docker_client.images.list(name=repository):
        for tag in image.tags:
            docker_client.images.remove(tag)
