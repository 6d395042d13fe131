"""A missing image reads the same wherever it is found, and says how *that* image comes to exist."""

from __future__ import annotations

import pytest

from runner.sandbox.errors import SandboxError, SandboxImageMissingError


@pytest.mark.parametrize(("image", "hint"), [
    ("ai-fix-sandbox:latest", "run deploy/sandbox/build.sh to build it"),
    ("ai-fix-base:bookworm-0123", "run deploy/sandbox/build.sh to build it"),
    ("ai-fix-setup:0123456789abcdef01234567", "made by a job's setup phase"),
    ("ghcr.io/acme/ci:3", "`docker pull ghcr.io/acme/ci:3` (or `docker load`) on the host"),
])
def test_missing_image_hint_follows_where_the_image_comes_from(image: str, hint: str) -> None:
    error = SandboxImageMissingError(image)
    assert isinstance(error, SandboxError) and error.image == image
    assert error.message == f"the sandbox image {image!r} is not in the local Docker engine"
    assert hint in error.hint and hint in str(error)
