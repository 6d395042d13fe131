"""Every way the sandbox can fail, as typed errors whose text tells the user what to do.

Why a module of its own: the session, the reaper, the setup phase and the factory all raise
these, and the bot turns them into an issue comment. A missing image in particular is found
in three places (start-up check, container start, the setup phase's base image); its message
and hint are built here once, so the user reads the same advice whichever place noticed.
"""

from __future__ import annotations

from runner.errors import RunnerError

#: Prefix of the images the setup phase commits (see runner.sandbox.setup_cache); checked first.
_MADE_BY_SETUP = "ai-fix-setup"
#: Prefix of the images deploy/sandbox/build.sh makes (``ai-fix-sandbox:*``, its base ``ai-fix-base:*``).
_MADE_BY_SCRIPT = "ai-fix-"


class SandboxError(RunnerError):
    """The sandbox could not do what was asked; the message says what to do."""


class DockerUnavailableError(SandboxError):
    """The Docker engine cannot be reached."""


class SandboxImageMissingError(SandboxError):
    """The sandbox image is not in the local Docker engine.

    Built from the image's name alone, so every place that finds an image missing gives the same
    hint: how *that* image comes to exist (the build script, the setup phase, or a pull).
    """

    def __init__(self, image: str) -> None:
        super().__init__(f"the sandbox image {image!r} is not in the local Docker engine", hint=_how_to_get(image))
        self.image = image


class SandboxClosedError(SandboxError):
    """``run`` was called on a session that was closed."""


def _how_to_get(image: str) -> str:
    if image.startswith(_MADE_BY_SETUP):
        return "setup images are made by a job's setup phase and dropped when the cache is full; run the job again"
    if image.startswith(_MADE_BY_SCRIPT):
        return "run deploy/sandbox/build.sh to build it"
    return f"`docker pull {image}` (or `docker load`) on the host"
