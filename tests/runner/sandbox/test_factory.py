from pathlib import Path

import pytest

from runner.sandbox.errors import SandboxError
from runner.sandbox.factory import DockerFactory
from runner.workspace import Worktree


def test_a_repository_cannot_pick_an_image_the_operator_did_not_allow(tmp_path: Path) -> None:
    tree = Worktree(path=tmp_path, git_dir=tmp_path, mirror=tmp_path, base_sha="0" * 40)
    factory = DockerFactory("ai-fix-sandbox:latest", allowed_images=["ghcr.io/acme/ci-*"])
    with pytest.raises(SandboxError, match="asks for the image 'corp/internal-api:latest', which this App does not"):
        factory(tree, "corp/internal-api:latest", "job")


def test_a_setup_image_is_allowed_only_for_the_job_it_was_made_for(tmp_path: Path) -> None:
    tree = Worktree(path=tmp_path, git_dir=tmp_path, mirror=tmp_path, base_sha="0" * 40)
    factory = DockerFactory("ai-fix-sandbox:latest")
    factory._built["job-b"] = "ai-fix-setup:0123456789abcdef01234567"  # what prepare() records for job b
    with pytest.raises(SandboxError, match="does not allow"):
        factory(tree, "ai-fix-setup:0123456789abcdef01234567", "job-a")
