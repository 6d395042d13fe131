"""Run shell commands for a job inside a disposable Docker container.

Why this module exists: the runner executes code from arbitrary repositories
(their tests, their linters, whatever the model wrote). That code must not see
the bot's secrets, reach the network, write outside the job's worktree, or
exhaust the host. This module is the only place that knows about Docker; the
runner talks to the small :class:`Sandbox` / :class:`SandboxSession` protocols,
so tests can substitute a double.

Life cycle: ``DockerSandbox.start(worktree)`` creates one container per session
(``sleep infinity`` under Docker's init) with the worktree bind-mounted at
``/workspace``; every ``session.run(command, timeout_s)`` is a ``docker exec``
of ``sh -c command``. When a command exceeds its timeout the whole container is
killed (the only reliable way to stop every process it spawned); the session
then starts a fresh container on the next ``run`` (the worktree survives,
``/tmp`` and background processes do not). ``reap(client)`` removes containers
left behind by a crashed process.

File ownership: commands run as a non-root uid (10001 by default). When this
process is root, :func:`sync_ownership` chowns the worktree (except ``.git``) to
that uid before the container starts and before every command, so files the
host created in between stay writable. Host-side git then sees files owned by
uid 10001 and must be run with ``-c safe.directory=*`` (see deploy/sandbox/README.md).
When this process is not root, commands run as this process's uid/gid instead
and nothing is chowned.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import docker
import docker.errors
import requests.exceptions
from docker.types import Mount

from runner.errors import RunnerError

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "ai-fix-sandbox:latest"
WORKSPACE = "/workspace"
SANDBOX_UID = 10001
SANDBOX_GID = 10001
LABEL = "ai-fix"
JOB_LABEL = "ai-fix.job"
TIMEOUT_EXIT_CODE = 124
BUILD_HINT = "run deploy/sandbox/build.sh to build it"

#: The complete environment of every command. Nothing from the host process
#: is passed on; add variables explicitly with ``DockerSandbox(env=...)``.
BASE_ENV: Mapping[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}

# Time allowed for the exit code to show up once output has ended, and for the
# output reader to notice that a killed container closed its stream.
_REAPER_GRACE_S = 10.0


# --------------------------------------------------------------------------- errors


class SandboxError(RunnerError):
    """The sandbox could not do what was asked; the message says what to do."""


class DockerUnavailableError(SandboxError):
    """The Docker engine cannot be reached."""


class SandboxImageMissingError(SandboxError):
    """The sandbox image is not in the local Docker engine."""


class SandboxClosedError(SandboxError):
    """``run`` was called on a session that was closed."""


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox container.

    ``tmp_mb`` is the size of the ``/tmp`` tmpfs (HOME); its pages count against
    ``memory_mb``. ``max_output_bytes`` caps what a :class:`CommandResult` keeps
    (half from the start of the output, half from the end).
    """

    memory_mb: int = 2048
    cpus: float = 2.0
    pids: int = 512
    tmp_mb: int = 512
    max_output_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for name in ("memory_mb", "pids", "tmp_mb", "max_output_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive")
        if self.cpus <= 0:
            raise ValueError("SandboxLimits.cpus must be positive")


@dataclass(frozen=True)
class CommandResult:
    """What a command did. ``output`` is stdout and stderr interleaved as they
    arrived, possibly shortened in the middle (``omitted_bytes`` > 0, with a
    marker line in ``output``). A timed-out command has ``exit_code`` 124."""

    command: str
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    omitted_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


# --------------------------------------------------------------------------- protocols


class SandboxSession(Protocol):
    """Commands against one worktree. Not thread-safe: one command at a time."""

    def run(self, command: str, timeout_s: float) -> CommandResult: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Sandbox(Protocol):
    """Something that can run commands against a worktree in isolation."""

    def start(self, worktree: Path, *, job_id: str | None = None) -> SandboxSession: ...


# --------------------------------------------------------------------------- output


class OutputCapture:
    """Keeps the first and the last bytes of a stream and counts the rest.

    Memory stays O(limit) however much a command prints: the head is filled
    once, the tail is a buffer trimmed whenever it grows past twice its size.
    """

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > 2 * self._tail_limit:
                del self._tail[: len(self._tail) - self._tail_limit]

    @property
    def omitted(self) -> int:
        kept = len(self._head) + min(len(self._tail), self._tail_limit)
        return self.total - kept

    def text(self) -> str:
        tail = bytes(self._tail[-self._tail_limit :]) if self._tail_limit else b""
        head = self._head.decode("utf-8", "replace")
        if not self.omitted:
            return head + tail.decode("utf-8", "replace")
        marker = f"\n[... ai-fix: {self.omitted:,} bytes of output omitted ...]\n"
        return head + marker + tail.decode("utf-8", "replace")


# --------------------------------------------------------------------------- ownership


def sync_ownership(root: Path, uid: int, gid: int) -> int:
    """Give ``root`` and everything below it to ``uid:gid``; return how many
    entries changed. Needs root.

    Skips the top-level ``.git`` (the sandbox must not be able to plant hooks
    or config that host-side git would run), does not follow symlinks, and
    leaves files with several hard links alone (chowning one would hand the
    sandbox an inode that is also visible elsewhere on the host).
    """
    changed = 0
    stack = [root]
    first = True
    while stack:
        path = stack.pop()
        st = os.lstat(path)
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.lchown(path, uid, gid)
            changed += 1
        with os.scandir(path) as entries:
            for entry in entries:
                if first and entry.name == ".git":
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                est = entry.stat(follow_symlinks=False)
                if (est.st_uid, est.st_gid) == (uid, gid):
                    continue
                if stat.S_ISREG(est.st_mode) and est.st_nlink > 1:
                    log.warning("not chowning hard-linked file %s; the sandbox cannot write it", entry.path)
                    continue
                os.lchown(entry.path, uid, gid)
                changed += 1
        first = False
    return changed


# --------------------------------------------------------------------------- docker


def docker_client_from_env() -> docker.DockerClient:
    """A client configured like the docker CLI (DOCKER_HOST etc.), checked with a ping."""
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerUnavailableError(_unreachable_message(exc)) from exc
    return client


def docker_sandbox_from_env(image: str = DEFAULT_IMAGE, limits: SandboxLimits | None = None) -> DockerSandbox:
    """The production wiring: a :class:`DockerSandbox` on the environment's engine."""
    return DockerSandbox(docker_client_from_env(), image=image, limits=limits or SandboxLimits())


def reap(client: docker.DockerClient, *, job_id: str | None = None) -> list[str]:
    """Remove sandbox containers left behind (e.g. after a crash); return their ids.

    Matches containers carrying both ``ai-fix=1`` and an ``ai-fix.job`` label,
    i.e. only those made by :class:`DockerSandbox` (image labels alone would
    also match build containers). Pass ``job_id`` to reap one job only.
    """
    labels = [f"{LABEL}=1", f"{JOB_LABEL}={job_id}" if job_id else JOB_LABEL]
    removed = []
    with _docker_errors("list sandbox containers"):
        containers = client.containers.list(all=True, filters={"label": labels})
    for container in containers:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # removal already in progress
                continue
            raise SandboxError(f"could not remove sandbox container {container.short_id}: {exc}") from exc
        removed.append(str(container.id))
    if removed:
        log.info("reaped %d leftover sandbox container(s)", len(removed))
    return removed


class DockerSandbox:
    """:class:`Sandbox` backed by a local Docker engine.

    ``client`` is built by the caller (see :func:`docker_client_from_env`).
    ``env`` adds fixed variables to :data:`BASE_ENV`; nothing else reaches the
    commands. ``uid``/``gid`` must match the user baked into the image.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        image: str = DEFAULT_IMAGE,
        limits: SandboxLimits | None = None,
        *,
        env: Mapping[str, str] | None = None,
        uid: int = SANDBOX_UID,
        gid: int = SANDBOX_GID,
    ) -> None:
        self.client = client
        self.image = image
        self.limits = limits or SandboxLimits()
        self.env = {**BASE_ENV, **(env or {})}
        self.uid = uid
        self.gid = gid

    def check(self) -> None:
        """Fail early (at bot start-up) if the engine or the image is missing."""
        with _docker_errors("inspect the sandbox image"):
            try:
                self.client.images.get(self.image)
            except docker.errors.ImageNotFound as exc:
                raise _image_missing(self.image) from exc

    def start(self, worktree: Path, *, job_id: str | None = None) -> DockerSession:
        """Start a container for ``worktree`` (an existing host directory)."""
        worktree = Path(worktree).resolve()
        if not worktree.is_dir():
            raise SandboxError(f"worktree {worktree} is not a directory")
        job_id = job_id or uuid.uuid4().hex[:12]
        session = DockerSession(self, worktree, job_id)
        session._start_container()
        return session

    # Internal: used by DockerSession.

    def _identity(self) -> tuple[int, int, bool]:
        """(uid, gid, chown?) the commands run as: the sandbox user when we can
        chown (root), otherwise our own ids so that files stay ours."""
        if os.geteuid() == 0:
            return self.uid, self.gid, True
        return os.geteuid(), os.getegid(), False

    def _container_kwargs(self, worktree: Path, job_id: str, uid: int, gid: int) -> dict[str, Any]:
        limits = self.limits
        mounts = [Mount(target=WORKSPACE, source=str(worktree), type="bind", read_only=False)]
        git = worktree / ".git"
        if git.exists() and not git.is_symlink():
            # Hooks/config written here would run in host-side git: keep it read-only.
            mounts.append(Mount(target=f"{WORKSPACE}/.git", source=str(git), type="bind", read_only=True))
        safe_job = re.sub(r"[^a-zA-Z0-9_.-]", "-", job_id)[:40]
        return {
            "image": self.image,
            "entrypoint": ["sleep"],
            "command": ["infinity"],
            "init": True,  # reaps orphans of the commands (zombies count against pids)
            "name": f"ai-fix-{safe_job}-{uuid.uuid4().hex[:8]}",
            "hostname": "sandbox",
            "user": f"{uid}:{gid}",
            "working_dir": WORKSPACE,
            "environment": dict(self.env),
            "labels": {LABEL: "1", JOB_LABEL: job_id},
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m,mode=1777"},
            "mounts": mounts,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": limits.pids,
            "mem_limit": f"{limits.memory_mb}m",
            "memswap_limit": f"{limits.memory_mb}m",
            "nano_cpus": int(limits.cpus * 1e9),
            "oom_score_adj": 500,  # under host memory pressure, die before the bot
            "stdin_open": False,
            "tty": False,
        }


class DockerSession:
    """One job's container; see :class:`SandboxSession`.

    After a timeout the container is gone; the next :meth:`run` starts a fresh
    one (``restarts`` counts them). :meth:`run` after :meth:`close` raises
    :class:`SandboxClosedError`.
    """

    def __init__(self, sandbox: DockerSandbox, worktree: Path, job_id: str) -> None:
        self._sandbox = sandbox
        self.worktree = worktree
        self.job_id = job_id
        self._container: Any = None
        self._closed = False
        self.restarts = 0
        self._uid, self._gid, self._chown = sandbox._identity()

    @property
    def container_id(self) -> str | None:
        """Id of the current container, None between a timeout and the next run."""
        return str(self._container.id) if self._container is not None else None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Kill and remove the container. Idempotent."""
        self._closed = True
        self._discard_container()

    def run(self, command: str, timeout_s: float) -> CommandResult:
        """Run ``sh -c command`` in /workspace; kill everything after ``timeout_s``."""
        if self._closed:
            raise SandboxClosedError("this sandbox session was closed; start a new one")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self._container is None:
            self.restarts += 1
            self._start_container()
        else:
            self._sync_ownership()
        try:
            return self._exec(command, timeout_s)
        except (docker.errors.NotFound, docker.errors.APIError) as exc:
            if isinstance(exc, docker.errors.APIError) and exc.status_code not in (404, 409):
                raise SandboxError(f"docker exec failed: {exc}") from exc
            # The container vanished (reaped, OOM-killed init, daemon restart): retry once.
            log.warning("sandbox container of job %s is gone (%s); starting a new one", self.job_id, exc)
            self._discard_container()
            self.restarts += 1
            self._start_container()
            return self._exec(command, timeout_s)

    # ------------------------------------------------------------------ internals

    def _start_container(self) -> None:
        sandbox = self._sandbox
        self._sync_ownership()
        kwargs = sandbox._container_kwargs(self.worktree, self.job_id, self._uid, self._gid)
        container = None
        with _docker_errors("start the sandbox container"):
            try:
                container = sandbox.client.containers.create(**kwargs)
                container.start()
            except docker.errors.ImageNotFound as exc:
                raise _image_missing(sandbox.image) from exc
            except docker.errors.APIError as exc:
                if container is not None:
                    _remove_quietly(container)
                raise SandboxError(
                    f"could not start a sandbox container from {sandbox.image}: {exc.explanation or exc}"
                ) from exc
        self._container = container
        log.debug("job %s: sandbox container %s started", self.job_id, container.short_id)

    def _sync_ownership(self) -> None:
        if self._chown:
            with _wrap_os_error(f"give the worktree {self.worktree} to uid {self._uid}"):
                sync_ownership(self.worktree, self._uid, self._gid)

    def _discard_container(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            _remove_quietly(container)

    def _exec(self, command: str, timeout_s: float) -> CommandResult:
        api = self._sandbox.client.api
        started = time.monotonic()
        deadline = started + timeout_s
        capture = OutputCapture(self._sandbox.limits.max_output_bytes)
        with _docker_errors("run a command in the sandbox"):
            exec_id = api.exec_create(
                self._container.id,
                ["sh", "-c", command],
                stdout=True,
                stderr=True,
                stdin=False,
                tty=False,
                user=f"{self._uid}:{self._gid}",
                workdir=WORKSPACE,
            )["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=False)
        errors: list[BaseException] = []
        reader = threading.Thread(
            target=_pump, args=(stream, capture, errors), name=f"sandbox-{self.job_id}", daemon=True
        )
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        code = None if reader.is_alive() else self._wait_exit_code(exec_id, deadline)
        timed_out = code is None
        exit_code = TIMEOUT_EXIT_CODE if code is None else code
        if timed_out:
            # Killing the container is what reliably stops the command's whole
            # process tree; it also closes the output stream so the reader ends.
            self._discard_container()
            reader.join(_REAPER_GRACE_S)
        elif errors:
            raise SandboxError(f"lost the output stream of the command: {errors[0]}") from errors[0]
        output = capture.text()
        if timed_out:
            output += (
                f"\n[ai-fix: command timed out after {timeout_s:g} s; it and every process"
                " in the sandbox were killed]\n"
            )
        return CommandResult(
            command=command,
            exit_code=exit_code,
            output=output,
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            omitted_bytes=capture.omitted,
        )

    def _wait_exit_code(self, exec_id: str, deadline: float) -> int | None:
        """Exit code once the exec has ended; None if it outlives ``deadline``
        (it can close its output and keep running)."""
        api = self._sandbox.client.api
        pause = 0.002
        while True:
            with _docker_errors("inspect a command in the sandbox"):
                info = api.exec_inspect(exec_id)
            if not info.get("Running"):
                code = info.get("ExitCode")
                if code is None:  # the container itself died under the command
                    self._discard_container()
                    return 137
                return int(code)
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.1)


def _pump(stream: Iterable[bytes], capture: OutputCapture, errors: list[BaseException]) -> None:
    """Reader thread: move output chunks into ``capture`` until the stream ends."""
    try:
        for chunk in stream:
            capture.feed(chunk)
    except Exception as exc:  # noqa: BLE001 - reported to the caller via ``errors``
        errors.append(exc)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - best effort
                pass


def _remove_quietly(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        log.warning("could not remove sandbox container %s: %s (reap() will retry)", container.short_id, exc)


def _image_missing(image: str) -> SandboxImageMissingError:
    return SandboxImageMissingError(f"sandbox image {image!r} is not in the local Docker engine; {BUILD_HINT}")


def _unreachable_message(exc: BaseException) -> str:
    return (
        f"cannot reach the Docker engine ({exc}). Is the daemon running, is DOCKER_HOST right, "
        "and may this user use the socket (docker group)?"
    )


class _docker_errors:
    """Context manager: turn transport failures into :class:`DockerUnavailableError`."""

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, SandboxError):
            return
        if isinstance(exc, requests.exceptions.ConnectionError) or (type(exc) is docker.errors.DockerException):
            raise DockerUnavailableError(f"could not {self.action}: {_unreachable_message(exc)}") from exc


class _wrap_os_error:
    """Context manager: an OSError while preparing the worktree becomes a SandboxError."""

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, OSError):
            raise SandboxError(f"could not {self.action}: {exc}") from exc
