"""A `SandboxFactory` backed by the local Docker engine, shared by jobs and `ai-fix solve`.

The engine is contacted by the first session, not at start-up, so the receiver starts even while
Docker is briefly unavailable; a missing image is reported when a job needs it.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Sequence

import docker

from runner.ports import SandboxSession, SetupResult
from runner.sandbox.engine import docker_client_from_env
from runner.sandbox.errors import SandboxError
from runner.sandbox.session import DockerSandbox
from runner.sandbox.setup import prepare_image
from runner.sandbox.setup_cache import SetupCache
from runner.workspace import Worktree


class DockerFactory:
    """`image:` in a repository's config may only name images the operator allowed: any other image on
    the host could hold secrets (an internal service's image with its `.env`) that tests would print."""

    def __init__(self, default_image: str, allowed_images: Sequence[str] = (), *,
                 cache: SetupCache | None = None) -> None:
        self.default_image = default_image
        self.allowed = tuple(allowed_images)
        self.cache = cache
        """Where setup images are kept (the default `ai-fix-setup` repository when None)."""
        self._sandboxes: dict[str, DockerSandbox] = {}
        self._built: dict[str, str] = {}
        """The setup image made for each job: allowed for that job only (it derives from an allowed base, but
        another repository must not run on this one's dependencies by naming its tag)."""
        self._lock = threading.Lock()

    def _client(self) -> docker.DockerClient:
        existing = next(iter(self._sandboxes.values()), None)
        return existing.client if existing else docker_client_from_env()

    def prepare(self, worktree: Worktree, image: str | None, commands: Sequence[str], repo_key: str,
                job_id: str, timeout_s: float = 1800.0) -> SetupResult:
        """Run the repository's setup (or find it cached) and return the image its checks run in."""
        base = image or self.default_image
        self._check_allowed(base, job_id)
        with self._lock:
            client = self._client()
        result = prepare_image(client, base, worktree.path, commands, repo_key, job_id=job_id, timeout_s=timeout_s,
                               cache=self.cache)
        with self._lock:
            self._built[job_id] = result.image
        return result

    def _check_allowed(self, image: str | None, job_id: str) -> None:
        if image and image != self.default_image and image != self._built.get(job_id) and \
                not any(fnmatch.fnmatchcase(image, p) for p in self.allowed):
            raise SandboxError(f"the repository asks for the image {image!r}, which this App does not allow",
                               hint="the App's operator can allow it with AI_FIX_ALLOWED_IMAGES (comma-separated "
                                    "patterns); or remove `image:` from .github/ai-fix.yml")

    def __call__(self, worktree: Worktree, image: str | None, job_id: str) -> SandboxSession:
        self._check_allowed(image, job_id)
        name = image or self.default_image
        with self._lock:
            if name not in self._sandboxes:
                sandbox = DockerSandbox(self._client(), image=name)
                sandbox.check()
                self._sandboxes[name] = sandbox
        return self._sandboxes[name].start(worktree.path, job_id=job_id)
