"""An engine that does not answer is one typed error everywhere; Docker's own answers pass through."""

from __future__ import annotations

import docker.errors
import pytest
import requests.exceptions

from runner.sandbox.engine import docker_client_from_env, docker_errors
from runner.sandbox.errors import DockerUnavailableError, SandboxError


def test_an_unreachable_engine_is_a_typed_error_saying_what_to_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(DockerUnavailableError, match="cannot reach the Docker engine.*docker group"):
        docker_client_from_env()


def test_transport_failures_become_unavailable_and_answers_pass_through() -> None:
    with pytest.raises(DockerUnavailableError, match="could not list things: cannot reach the Docker engine"):
        with docker_errors("list things"):
            raise requests.exceptions.ConnectionError("refused")
    with pytest.raises(docker.errors.NotFound):
        with docker_errors("inspect a thing"):
            raise docker.errors.NotFound("no such image")
    with pytest.raises(SandboxError, match="^already typed$"):
        with docker_errors("do a thing"):
            raise SandboxError("already typed")
