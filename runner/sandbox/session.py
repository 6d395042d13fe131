"""Run shell commands for a job inside a disposable Docker container.

Why this module exists: the runner executes code from arbitrary repositories
(their tests, their linters, whatever the model wrote). That code must not see
the bot's secrets, reach the network, write outside the job's worktree, or
exhaust the host. This module is the only place that knows about Docker; the
runner talks to the small ``SandboxSession`` protocol (``runner.ports``),
so tests can substitute a double.

Life cycle: ``DockerSandbox.start(worktree)`` creates one container per session
(``sleep infinity`` under Docker's init) with the worktree bind-mounted at
``/workspace``; every ``session.run(command, timeout_s)`` is a ``docker exec``
of ``sh -c command``. When a command exceeds its timeout the whole container is
killed (the only reliable way to stop every process it spawned); the session
then starts a fresh container on the next ``run`` (the worktree survives,
``/tmp`` and background processes do not). ``reap(client)`` removes containers
left behind by a crashed process: every container is labelled with its owner
(boot id, pid namespace, pid and start time of the creating process), so a
reaper never removes the containers of another live process sharing the engine.

Limits are reported, not just enforced: when the kernel refused a fork (pids
limit) or killed a process for memory during a command, the result says so
(read from the container's cgroup when this process can see it).

Setup (``runner.sandbox.setup``) reuses this class with ``network`` and a
writable root; packages it installs live in :data:`VENV`, which is on PATH.

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
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig, Mount, Ulimit

from runner.errors import RunnerError
from runner.ports import CommandResult
from runner.sandbox.host import (
    CgroupProbe,
    OutputCapture,
    owner_alive,
    owner_token,
    sync_ownership,
)

__all__ = [
    "BASE_ENV", "DEFAULT_IMAGE", "DEFAULT_REAP_AGE_S", "JOB_LABEL", "LABEL", "OWNER_LABEL", "ROLE_LABEL",
    "SANDBOX_GID", "SANDBOX_UID", "TIMEOUT_EXIT_CODE", "VENV", "WORKSPACE", "DockerSandbox",
    "DockerSession", "DockerUnavailableError", "OutputCapture", "SandboxClosedError", "SandboxError",
    "SandboxImageMissingError", "SandboxLimits", "docker_client_from_env", "owner_alive", "owner_token", "reap",
    "sync_ownership",
]

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "ai-fix-sandbox:latest"
WORKSPACE = "/workspace"
SANDBOX_UID = 10001
SANDBOX_GID = 10001
LABEL = "ai-fix"
JOB_LABEL = "ai-fix.job"
OWNER_LABEL = "ai-fix.owner"
ROLE_LABEL = "ai-fix.role"
#: Where the setup phase installs a repository's Python packages (see runner.sandbox.setup).
VENV = "/opt/ai-fix/venv"
#: Containers whose owner cannot be checked (other host or pid namespace, no
#: owner label) are reaped once older than this: longer than any job may run.
DEFAULT_REAP_AGE_S = 8 * 3600.0
TIMEOUT_EXIT_CODE = 124
BUILD_HINT = "run deploy/sandbox/build.sh to build it"

#: The complete environment of every command. Nothing from the host process
#: is passed on; add variables explicitly with ``DockerSandbox(env=...)``.
BASE_ENV: Mapping[str, str] = {
    "PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
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
    (half from the start of the output, half from the end). ``file_mb`` caps the
    size of any one file a command writes (RLIMIT_FSIZE): it does not bound the
    total disk use of the worktree, but stops one runaway file from filling it.
    """

    memory_mb: int = 2048
    cpus: float = 2.0
    pids: int = 512
    tmp_mb: int = 512
    max_output_bytes: int = 64 * 1024
    file_mb: int = 4096

    def __post_init__(self) -> None:
        for name in ("memory_mb", "pids", "tmp_mb", "max_output_bytes", "file_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive")
        if self.cpus <= 0:
            raise ValueError("SandboxLimits.cpus must be positive")


# --------------------------------------------------------------------------- docker


def docker_client_from_env() -> docker.DockerClient:
    """A client configured like the docker CLI (DOCKER_HOST etc.), checked with a ping."""
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerUnavailableError(_unreachable_message(exc)) from exc
    return client


def reap(
    client: docker.DockerClient, *, job_id: str | None = None, max_age_s: float = DEFAULT_REAP_AGE_S
) -> list[str]:
    """Remove sandbox containers left behind (e.g. after a crash); return their ids.

    Matches containers carrying ``ai-fix=1`` and a non-empty ``ai-fix.job``
    label, i.e. only those made by :class:`DockerSandbox` (image labels alone
    would also match build containers). With ``job_id``, removes that job's
    containers whatever their state (call it when a job ends). Without it,
    several processes may share the engine, so only *abandoned* containers go:
    those whose owner process is gone, and those older than ``max_age_s`` whose
    owner cannot be checked from here (another host or pid namespace).
    Also removes untagged setup-cache images (superseded by a concurrent build).
    """
    labels = [f"{LABEL}=1", f"{JOB_LABEL}={job_id}" if job_id else JOB_LABEL]
    removed = []
    with _docker_errors("list sandbox containers"):
        containers = client.api.containers(all=True, filters={"label": labels})
    now = time.time()
    for info in containers:
        tags = info.get("Labels") or {}
        if not tags.get(JOB_LABEL):
            continue  # inherited from a setup image's config, not a sandbox container
        age_s = now - float(info.get("Created", now))
        if job_id is None and not _abandoned(tags.get(OWNER_LABEL, ""), age_s, max_age_s):
            continue
        try:
            with _docker_errors("remove a sandbox container"):
                client.api.remove_container(info["Id"], force=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # removal already in progress
                continue
            raise SandboxError(f"could not remove sandbox container {info['Id'][:12]}: {exc}") from exc
        removed.append(str(info["Id"]))
    if removed:
        log.info("reaped %d leftover sandbox container(s)", len(removed))
    if job_id is None:
        _remove_dangling_setup_images(client)
    return removed


def _abandoned(owner: str, age_s: float, max_age_s: float) -> bool:
    alive = owner_alive(owner) if owner else None
    if alive is None:
        return age_s > max_age_s
    return not alive


def _remove_dangling_setup_images(client: docker.DockerClient) -> None:
    try:
        images = client.api.images(filters={"dangling": True, "label": [f"{LABEL}=1", f"{ROLE_LABEL}=setup"]})
        for image in images:
            try:
                client.api.remove_image(image["Id"])
            except docker.errors.APIError:
                continue  # in use by a container: a later reap gets it
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        log.warning("could not remove untagged setup images: %s", exc)


class DockerSandbox:
    """Starts sandbox sessions on a local Docker engine.

    ``client`` is built by the caller (see :func:`docker_client_from_env`).
    ``env`` adds fixed variables to :data:`BASE_ENV`; nothing else reaches the
    commands. ``uid``/``gid`` must match the user baked into the image.
    ``network`` and ``writable_root`` exist for the setup phase only
    (``runner.sandbox.setup``); lint and tests keep the defaults.
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
        network: str = "none",
        writable_root: bool = False,
        role: str = "run",
    ) -> None:
        self.client = client
        self.image = image
        self.limits = limits or SandboxLimits()
        self.env = {**BASE_ENV, **(env or {})}
        self.uid = uid
        self.gid = gid
        self.network = network
        self.writable_root = writable_root
        self.role = role

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

    def identity(self) -> tuple[int, int, bool]:
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
            "labels": {LABEL: "1", JOB_LABEL: job_id, OWNER_LABEL: owner_token(), ROLE_LABEL: self.role},
            "network_mode": self.network,
            "read_only": not self.writable_root,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m,mode=1777"},
            "mounts": mounts,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": limits.pids,
            "mem_limit": f"{limits.memory_mb}m",
            "memswap_limit": f"{limits.memory_mb}m",
            "nano_cpus": int(limits.cpus * 1e9),
            "oom_score_adj": 500,  # under host memory pressure, die before the bot
            "ulimits": [Ulimit(name="fsize", soft=limits.file_mb << 20, hard=limits.file_mb << 20)],
            # No log driver: a command can write to /proc/1/fd/1 (init runs as the
            # same uid), which would otherwise grow a log file on the host without bound.
            "log_config": LogConfig(type=LogConfig.types.NONE),
            "stdin_open": False,
            "tty": False,
        }


class DockerSession:
    """One job's container: a ``runner.ports.SandboxSession``.

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
        self._uid, self._gid, self._chown = sandbox.identity()
        self._probe = CgroupProbe("")

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

    def run(self, command: str, timeout_s: float, *, env: Mapping[str, str] | None = None) -> CommandResult:
        """Run ``sh -c command`` in /workspace; kill everything after ``timeout_s``.

        ``env`` adds variables for this command only (the setup phase passes
        its proxy and CA settings this way, so they never enter the container's
        config and hence never a committed image).
        """
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
            return self._exec(command, timeout_s, env)
        except docker.errors.APIError as exc:
            # The container vanished (reaped, OOM-killed init, daemon restart) or
            # cannot start another process (a fork bomb left by the previous
            # command holds every pid): retry once in a fresh container.
            log.warning("sandbox container of job %s is unusable (%s); starting a new one", self.job_id, exc)
        self._discard_container()
        self.restarts += 1
        self._start_container()
        try:
            return self._exec(command, timeout_s, env)
        except docker.errors.APIError as exc:
            raise SandboxError(f"docker exec failed in a fresh sandbox container too: {exc}") from exc

    def put_archive(self, path: str, data: bytes) -> None:
        """Extract a tar archive into the container at ``path`` (a copy, not a mount)."""
        with _docker_errors("copy files into the sandbox"):
            self._live_container().put_archive(path, data)

    def commit(self, repository: str, tag: str, changes: list[str]) -> str:
        """Snapshot the container's file system as ``repository:tag``; return the image id.

        The worktree mount and the ``/tmp`` tmpfs are not part of the snapshot.
        """
        with _docker_errors("save the sandbox as an image"):
            try:
                image = self._live_container().commit(repository=repository, tag=tag, changes=changes)
            except docker.errors.APIError as exc:
                raise SandboxError(f"could not save the sandbox as {repository}:{tag}: {exc}") from exc
        return str(image.id)

    def _live_container(self) -> Any:
        if self._closed or self._container is None:
            raise SandboxClosedError("the sandbox container is gone (closed, or killed after a timeout)")
        return self._container

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
        self._probe = CgroupProbe(str(container.id))
        log.debug("job %s: sandbox container %s started", self.job_id, container.short_id)

    def _sync_ownership(self) -> None:
        if self._chown:
            with _wrap_os_error(f"give the worktree {self.worktree} to uid {self._uid}"):
                sync_ownership(self.worktree, self._uid, self._gid)

    def _discard_container(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            _remove_quietly(container)

    def _exec(self, command: str, timeout_s: float, env: Mapping[str, str] | None) -> CommandResult:
        api = self._sandbox.client.api
        started = time.monotonic()
        deadline = started + timeout_s
        capture = OutputCapture(self._sandbox.limits.max_output_bytes)
        before = self._probe.read()
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
                environment=dict(env) if env else None,
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
        after = self._probe.read()
        oom_kills, forks_refused = after[0] - before[0], after[1] - before[1]
        if timed_out:
            # Killing the container is what reliably stops the command's whole
            # process tree; it also closes the output stream so the reader ends.
            self._discard_container()
            reader.join(_REAPER_GRACE_S)
        elif errors:
            raise SandboxError(f"lost the output stream of the command: {errors[0]}") from errors[0]
        notes = self._limit_notes(timeout_s if timed_out else None, exit_code, oom_kills, forks_refused)
        if not timed_out and (left := self._leftover_processes()):
            # Whatever a command leaves running (a daemon, a fork bomb) must not
            # share the next command's pids, memory and CPU: drop the container.
            self._discard_container()
            notes += (f"\n[ai-fix: the command left {left} process(es) running; they were stopped "
                      "(the next command starts in a fresh container; /tmp is emptied)]\n")
        elif not timed_out and (forks_refused or oom_kills):
            # A container that hit its process or memory limit is replaced even when everything died
            # before we looked (under load a fork bomb can burn out first): no run depends on a race.
            self._discard_container()
            notes += "\n[ai-fix: the sandbox hit a limit and was replaced; the next command starts fresh]\n"
        return CommandResult(
            command=command,
            exit_code=exit_code,
            output=capture.text() + notes,
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            omitted_bytes=capture.omitted,
            oom_kills=oom_kills,
            forks_refused=forks_refused,
        )

    def _leftover_processes(self) -> int:
        """Processes (tasks) in the container besides init and ``sleep``, after a command."""
        extra = 0
        for attempt in range(4):
            count = self._probe.processes()
            if count is None:
                try:
                    count = len(self._sandbox.client.api.top(self._container.id).get("Processes") or [])
                except (docker.errors.DockerException, requests.exceptions.RequestException):
                    return 0
            extra = count - 2
            if extra <= 0:
                return 0
            time.sleep(0.01 * (attempt + 1))  # the command's last zombies may still be on their way out
        return extra

    def _limit_notes(self, timeout_s: float | None, exit_code: int, oom_kills: int, forks_refused: int) -> str:
        """Plain-language lines saying which limit stopped the command, if any."""
        limits = self._sandbox.limits
        notes = []
        if timeout_s is not None:
            notes.append(f"command timed out after {timeout_s:g} s; it and every process in the sandbox were killed")
        if oom_kills > 0:
            notes.append(
                f"the sandbox ran out of memory (limit {limits.memory_mb} MB, files in /tmp count too); "
                f"the kernel killed {oom_kills} process(es)"
            )
        elif exit_code == 137 and timeout_s is None and not self._probe.available:
            notes.append(f"the command was killed (SIGKILL), most likely by the memory limit of {limits.memory_mb} MB")
        if forks_refused > 0:
            notes.append(
                f"the sandbox refused to start {forks_refused} process(es): at most {limits.pids} may run at once"
            )
        return "".join(f"\n[ai-fix: {note}]\n" for note in notes)

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
    hint = BUILD_HINT if image.startswith("ai-fix-") else f"`docker pull {image}` (or `docker load`) on the host"
    return SandboxImageMissingError(f"sandbox image {image!r} is not in the local Docker engine; {hint}")


def _unreachable_message(exc: BaseException) -> str:
    return (
        f"cannot reach the Docker engine ({exc}). Is the daemon running, is DOCKER_HOST right, "
        "and may this user use the socket (docker group)?"
    )


@contextmanager
def _docker_errors(action: str) -> Iterator[None]:
    """Turn transport failures into :class:`DockerUnavailableError`."""
    try:
        yield
    except SandboxError:
        raise
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
        if isinstance(exc, requests.exceptions.ConnectionError) or type(exc) is docker.errors.DockerException:
            raise DockerUnavailableError(f"could not {action}: {_unreachable_message(exc)}") from exc
        raise


@contextmanager
def _wrap_os_error(action: str) -> Iterator[None]:
    """An OSError while preparing the worktree becomes a SandboxError."""
    try:
        yield
    except OSError as exc:
        raise SandboxError(f"could not {action}: {exc}") from exc
