"""Every way the sandbox can fail, as typed errors whose text tells the user what to do.

Why a module of its own: the session, the reaper, the setup phase and the factory all raise
these, and the bot turns them into an issue comment.
"""

from __future__ import annotations

from runner.errors import RunnerError

BUILD_HINT = "run deploy/sandbox/build.sh to build it"


class SandboxError(RunnerError):
    """The sandbox could not do what was asked; the message says what to do."""


class DockerUnavailableError(SandboxError):
    """The Docker engine cannot be reached."""


class SandboxImageMissingError(SandboxError):
    """The sandbox image is not in the local Docker engine."""


class SandboxClosedError(SandboxError):
    """``run`` was called on a session that was closed."""


def image_missing(image: str) -> SandboxImageMissingError:
    """The error for a sandbox image the engine does not have, with how to get it."""
    hint = BUILD_HINT if image.startswith("ai-fix-") else f"`docker pull {image}` (or `docker load`) on the host"
    return SandboxImageMissingError(f"sandbox image {image!r} is not in the local Docker engine; {hint}")
