"""A `SandboxFactory` backed by the local Docker engine, shared by jobs and `ai-fix solve`.

The engine is contacted by the first session, not at start-up, so the receiver starts even while
Docker is briefly unavailable; a missing image is reported when a job needs it.
"""

from __future__ import annotations

import threading

from runner.sandbox import DockerSandbox, SandboxSession, docker_client_from_env
from runner.workspace import Worktree


def docker_sandbox_factory(default_image: str) -> DockerFactory:
    return DockerFactory(default_image)


class DockerFactory:
    def __init__(self, default_image: str) -> None:
        self.default_image = default_image
        self._sandboxes: dict[str, DockerSandbox] = {}
        self._lock = threading.Lock()

    def __call__(self, worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        name = image or self.default_image
        with self._lock:
            if name not in self._sandboxes:
                existing = next(iter(self._sandboxes.values()), None)
                client = existing.client if existing else docker_client_from_env()
                sandbox = DockerSandbox(client, image=name)
                sandbox.check()
                self._sandboxes[name] = sandbox
        return self._sandboxes[name].start(worktree.path, job_id=job_id)
