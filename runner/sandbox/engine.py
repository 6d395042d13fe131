"""The Docker engine as the sandbox reaches it: the client, and transport failures as typed errors.

Why a module of its own: the session, the reaper and the setup phase all talk to one engine,
and an engine that is down must read the same everywhere (is the daemon running, is
DOCKER_HOST right, may this user use the socket?), not as a ``requests`` traceback.
Docker's *answers* (not found, conflict) are left to the caller, which knows what they mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker
import docker.errors
import requests.exceptions

from runner.sandbox.errors import DockerUnavailableError, SandboxError


def docker_client_from_env() -> docker.DockerClient:
    """A client configured like the docker CLI (DOCKER_HOST etc.), checked with a ping."""
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerUnavailableError(unreachable_message(exc)) from exc
    return client


def unreachable_message(exc: BaseException) -> str:
    """What to check when the engine does not answer, with the transport's own words."""
    return (
        f"cannot reach the Docker engine ({exc}). Is the daemon running, is DOCKER_HOST right, "
        "and may this user use the socket (docker group)?"
    )


@contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Turn transport failures into :class:`DockerUnavailableError`; ``action`` says what was being done."""
    try:
        yield
    except SandboxError:
        raise
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
        if isinstance(exc, requests.exceptions.ConnectionError) or type(exc) is docker.errors.DockerException:
            raise DockerUnavailableError(f"could not {action}: {unreachable_message(exc)}") from exc
        raise
