"""Run shell commands for a job inside a disposable Docker container.

Why this module exists: the runner executes code from arbitrary repositories
(their tests, their linters, whatever the model wrote). That code must not see
the bot's secrets, reach the network, write outside the job's worktree, or
exhaust the host. This room (``runner/sandbox/``) is the only place that knows
about Docker; the runner talks to the small ``SandboxSession`` protocol (``runner.ports``),
so tests can substitute a double.

Life cycle: ``DockerSandbox.start(worktree)`` creates one container per session
(``sleep infinity`` under Docker's init) with the worktree bind-mounted at
``/workspace``; every ``session.run(command, timeout_s)`` is a ``docker exec``
of ``sh -c command``. When a command exceeds its timeout the whole container is
killed (the only reliable way to stop every process it spawned); the session
then starts a fresh container on the next ``run`` (the worktree survives,
``/tmp`` and background processes do not). What a container is allowed to do is
decided in ``runner.sandbox.container``; containers a crashed process left behind
are removed by ``runner.sandbox.reap``.

Limits are reported, not just enforced: when the kernel refused a fork (pids
limit) or killed a process for memory during a command, the result says so
(read from the container's cgroup when this process can see it).

Test results are read from a structured report, not only from the output: each
session has a results directory outside the worktree (``runner.sandbox.results``),
every command's pytest is told to write its JUnit XML there, and the file is read
back, refused if it is anything but a bounded regular file, into ``report``.

Files the setup phase generated inside the source tree (``runner.sandbox.setup_output``)
are laid over the worktree before the session's first command, inside the
container (``runner.sandbox.layover``), never replacing a file the worktree has.

Setup (``runner.sandbox.setup``) reuses this class with ``network`` and a
writable root; packages it installs live in ``runner.sandbox.container.VENV``, which is on PATH.

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
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import docker
import docker.errors
import requests.exceptions

from runner.ports import CommandResult
from runner.sandbox import layover
from runner.sandbox.container import (
    BASE_ENV,
    DEFAULT_IMAGE,
    SANDBOX_GID,
    SANDBOX_UID,
    TIMEOUT_EXIT_CODE,
    WORKSPACE,
    SandboxLimits,
    container_config,
)
from runner.sandbox.engine import docker_errors
from runner.sandbox.errors import SandboxClosedError, SandboxError, SandboxImageMissingError
from runner.sandbox.host import CgroupProbe, OutputCapture, sync_ownership
from runner.sandbox.results import ResultsDir
from runner.sandbox.setup_output import ARCHIVE, decode_label

log = logging.getLogger(__name__)

# Time allowed for the exit code to show up once output has ended, and for the
# output reader to notice that a killed container closed its stream.
_REAPER_GRACE_S = 10.0
# Time allowed for laying the files setup generated over the worktree (runner.sandbox.layover).
_LAYOVER_TIMEOUT_S = 300.0


class DockerSandbox:
    """Starts sandbox sessions on a local Docker engine.

    ``client`` is built by the caller (see ``runner.sandbox.engine.docker_client_from_env``).
    ``env`` adds fixed variables to :data:`BASE_ENV`; nothing else reaches the
    commands. ``uid``/``gid`` must match the user baked into the image.
    ``network`` and ``writable_root`` exist for the setup phase only
    (``runner.sandbox.setup``); lint and tests keep the defaults. ``results_root``
    is where sessions make their results directories (``runner.sandbox.results``;
    the system temp directory by default).
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
        results_root: Path | None = None,
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
        self.results_root = results_root
        self._generated: tuple[str, ...] | None = None

    def check(self) -> None:
        """Fail early (at bot start-up) if the engine or the image is missing."""
        with docker_errors("inspect the sandbox image"):
            try:
                self.client.images.get(self.image)
            except docker.errors.ImageNotFound as exc:
                raise SandboxImageMissingError(self.image) from exc

    def start(self, worktree: Path, *, job_id: str | None = None) -> DockerSession:
        """Start a container for ``worktree`` (an existing host directory)."""
        worktree = Path(worktree).resolve()
        if not worktree.is_dir():
            raise SandboxError(f"worktree {worktree} is not a directory")
        job_id = job_id or uuid.uuid4().hex[:12]
        session = DockerSession(self, worktree, job_id)
        try:
            session._start_container()
        except BaseException:
            session.close()
            raise
        return session

    def generated_files(self) -> tuple[str, ...]:
        """The files the setup phase generated inside the source tree, stored in this image
        (``runner.sandbox.setup_output``); () for an image that is not a setup image."""
        if self._generated is None:
            with docker_errors("inspect the sandbox image"):
                try:
                    labels = (self.client.api.inspect_image(self.image).get("Config") or {}).get("Labels")
                except docker.errors.ImageNotFound as exc:
                    raise SandboxImageMissingError(self.image) from exc
            self._generated = decode_label(labels)[0]
        return self._generated

    # Internal: used by DockerSession.

    def identity(self) -> tuple[int, int, bool]:
        """(uid, gid, chown?) the commands run as: the sandbox user when we can
        chown (root), otherwise our own ids so that files stay ours."""
        if os.geteuid() == 0:
            return self.uid, self.gid, True
        return os.geteuid(), os.getegid(), False


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
        self._results = ResultsDir((self._uid, self._gid) if self._chown else None, sandbox.results_root)
        self._base_addopts = ""
        self._laid_over = False
        self.layover: layover.Report | None = None
        """What laying setup's generated files over the worktree did (runner.sandbox.layover), once it ran."""

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
        """Kill and remove the container and the results directory. Idempotent."""
        self._closed = True
        self._discard_container()
        self._results.close()

    def run(self, command: str, timeout_s: float, *, env: Mapping[str, str] | None = None) -> CommandResult:
        """Run ``sh -c command`` in /workspace; kill everything after ``timeout_s``.

        ``env`` adds variables for this command only (the setup phase passes
        its proxy and CA settings this way, so they never enter the container's
        config and hence never a committed image). Before the session's first
        command, the files the setup phase generated are laid over the worktree
        (:meth:`_lay_over`). ``report`` holds the JUnit XML the command's pytest
        wrote (``runner.sandbox.results``); None after a timeout.
        """
        if self._closed:
            raise SandboxClosedError("this sandbox session was closed; start a new one")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        note = "" if self._laid_over else self._lay_over()
        result = self._run(command, timeout_s, env)
        return replace(result, output=result.output + note) if note else result

    def _run(self, command: str, timeout_s: float, env: Mapping[str, str] | None) -> CommandResult:
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

    def _lay_over(self) -> str:
        """Lay the files setup generated (if this is a setup image that has some) over the worktree, once per
        session, inside the container as the sandbox user; return a note for the first command's output when
        that did not fully work (the tests may then miss a generated module, and should say why)."""
        files = self._sandbox.generated_files()  # an engine that does not answer: tried again at the next run
        self._laid_over = True
        if not files:
            return ""
        result = self._run(layover.command(ARCHIVE, WORKSPACE), _LAYOVER_TIMEOUT_S, None)
        self.layover, note = layover.outcome(result.output, result.passed)
        log.log(logging.WARNING if note else logging.INFO, "job %s: setup's generated files laid over the worktree: "
                "%s", self.job_id, self.layover or result.output[-2000:])
        return note

    def put_archive(self, path: str, data: bytes | IO[bytes]) -> None:
        """Extract a tar archive into the container at ``path`` (a copy, not a mount)."""
        with docker_errors("copy files into the sandbox"):
            self._live_container().put_archive(path, data)

    def commit(self, repository: str, tag: str, changes: list[str]) -> str:
        """Snapshot the container's file system as ``repository:tag``; return the image id.

        The worktree mount and the ``/tmp`` tmpfs are not part of the snapshot.
        """
        with docker_errors("save the sandbox as an image"):
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
        kwargs = container_config(sandbox.image, sandbox.limits, sandbox.env, self.worktree, job_id=self.job_id,
                                  user=(self._uid, self._gid), network=sandbox.network,
                                  writable_root=sandbox.writable_root, role=sandbox.role,
                                  results=self._results.path)
        container = None
        with docker_errors("start the sandbox container"):
            try:
                container = sandbox.client.containers.create(**kwargs)
                container.start()
            except docker.errors.ImageNotFound as exc:
                raise SandboxImageMissingError(sandbox.image) from exc
            except docker.errors.APIError as exc:
                if container is not None:
                    _remove_quietly(container)
                raise SandboxError(
                    f"could not start a sandbox container from {sandbox.image}: {exc.explanation or exc}"
                ) from exc
        self._container = container
        self._probe = CgroupProbe(str(container.id))
        # PYTEST_ADDOPTS the image or the sandbox's environment set: the report flags are appended to it.
        env = ((container.attrs.get("Config") or {}).get("Env")) or []
        self._base_addopts = next((e.split("=", 1)[1] for e in env if e.startswith("PYTEST_ADDOPTS=")), "")
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
        with docker_errors("run a command in the sandbox"):
            exec_id = api.exec_create(
                self._container.id,
                ["sh", "-c", command],
                stdout=True,
                stderr=True,
                stdin=False,
                tty=False,
                user=f"{self._uid}:{self._gid}",
                workdir=WORKSPACE,
                environment=self._results.begin(env or {}, self._base_addopts),
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
        # Read once nothing of the command can run any more (a timeout's report would be partial at best).
        report = None if timed_out else self._results.read()
        return CommandResult(
            command=command,
            exit_code=exit_code,
            output=capture.text() + notes,
            duration_s=time.monotonic() - started,
            timed_out=timed_out,
            omitted_bytes=capture.omitted,
            oom_kills=oom_kills,
            forks_refused=forks_refused,
            report=report,
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
            with docker_errors("inspect a command in the sandbox"):
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


@contextmanager
def _wrap_os_error(action: str) -> Iterator[None]:
    """An OSError while preparing the worktree becomes a SandboxError."""
    try:
        yield
    except OSError as exc:
        raise SandboxError(f"could not {action}: {exc}") from exc
