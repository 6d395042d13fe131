"""The setup phase: install a repository's dependencies once, keep the result as an image.

Why: a repository's tests need its dependencies, the run phase has no network,
and installing them for every job would cost minutes. So the ``setup`` commands
of ``.github/ai-fix.yml`` run once, in a container with network but without
secrets or host mounts other than (a copy of) the worktree, and the container is
committed as ``ai-fix-setup:<key>``. The key (``runner.sandbox.setup_key``) hashes
the repository, the base image, the commands and the contents of the dependency
files, so the next job on an unchanged repository starts from that image and
changing e.g. ``pyproject.toml`` runs setup again. Finding, locking and evicting
those images is ``runner.sandbox.setup_cache``; this module builds them.

Where installed packages go: the worktree is bind-mounted and differs per job,
so anything written under ``/workspace`` is lost. Setup therefore runs with a
virtual environment at ``runner.sandbox.container.VENV`` (``--system-site-packages``,
so the image's pytest stays visible), which is part of the committed image and
first on PATH in every sandbox. ``pip install -e .`` puts only a path hook into
the venv: it points at ``/workspace``, where each job mounts its own worktree.
Setup works on a throwaway copy of the worktree, so a cache hit and a miss leave
the job's worktree in the same state, and setup cannot tamper with it. What setup
creates inside that copy (a generated ``_version.py``, an extension built in place)
is found afterwards and stored in the image (``runner.sandbox.setup_output``); each
run-phase session lays it over its own worktree. The result lists those files
(``generated``) and, in ``warnings``, what was not kept and why.

Reaching package indexes: the network settings (CA bundle, index URLs, proxies
without credentials) come from :class:`SetupNetwork`, are handed to each setup
command's environment only (``runner.sandbox.setup_network``), and the CA file
is deleted before the commit, so none of it reaches the run phase or the image's config.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from runner.ports import CommandResult, SetupResult
from runner.sandbox.container import BASE_ENV, SETUP_DIR, VENV, SandboxLimits
from runner.sandbox.errors import SandboxError, SandboxImageMissingError
from runner.sandbox.session import DockerSandbox, DockerSession
from runner.sandbox.setup_cache import SetupCache, evict_setup_images, find_cached, image_labels, key_lock
from runner.sandbox.setup_key import setup_key
from runner.sandbox.setup_network import CA_PATH, SetupNetwork
from runner.sandbox.setup_output import LABEL as GENERATED_LABEL
from runner.sandbox.setup_output import collect, decode_label, encode_label, wrap

log = logging.getLogger(__name__)

#: Setup downloads and builds: more room than the run phase, same isolation otherwise.
SETUP_LIMITS = SandboxLimits(memory_mb=4096, cpus=2.0, pids=1024, tmp_mb=1024, max_output_bytes=256 * 1024)


class SetupFailedError(SandboxError):
    """A setup command failed or timed out; ``output`` holds what it printed."""

    def __init__(self, message: str, *, output: str, exit_code: int) -> None:
        super().__init__(message, hint="fix the `setup` commands in .github/ai-fix.yml; "
                         "`ai-fix sandbox --repo PATH -- true` reproduces the setup locally")
        self.output = output
        self.exit_code = exit_code


def prepare_image(
    client: docker.DockerClient,
    base_image: str,
    worktree: Path,
    setup_commands: Sequence[str],
    repo_key: str,
    *,
    network: SetupNetwork | None = None,
    cache: SetupCache | None = None,
    limits: SandboxLimits = SETUP_LIMITS,
    timeout_s: float = 1800.0,
    job_id: str | None = None,
) -> SetupResult:
    """Return the image a job's lint and tests run in, running setup if the cache has no match.

    ``repo_key`` names the repository (its clone URL). ``timeout_s`` bounds all
    setup commands together. Raises :class:`SetupFailedError` when a command
    fails (nothing is cached then), :class:`SandboxImageMissingError` when the
    base image is not in the engine.
    """
    started = time.monotonic()
    worktree = Path(worktree).resolve()
    commands = [c for c in setup_commands if c.strip()]
    if not commands:
        return SetupResult(image=base_image, status="none", output="", duration_s=time.monotonic() - started)
    cache = cache or SetupCache()
    key = setup_key(_image_id(client, base_image), worktree, commands, repo_key)
    tag = f"{cache.repository}:{key[:24]}"
    if hit := _cached(client, tag, key, started):
        return hit
    with key_lock(cache, key):
        if hit := _cached(client, tag, key, started):  # a concurrent job built it while we waited
            return hit
        results, generated, warnings = _build(client, base_image, worktree, commands, repo_key, key, tag,
                                              network or SetupNetwork.from_host(), limits, timeout_s, job_id)
    evict_setup_images(client, cache, keep=(tag,))
    output = "".join(f"$ {r.command}\n{r.output}" for r in results)
    return SetupResult(image=tag, status="built", output=output, duration_s=time.monotonic() - started,
                       key=key, commands=tuple(results), generated=generated, warnings=warnings)


# --------------------------------------------------------------------------- internals


def _cached(client: docker.DockerClient, tag: str, key: str, started: float) -> SetupResult | None:
    """The result of a cache hit (what the image's setup generated and warned about is in its labels), or None."""
    labels = find_cached(client, tag, key)
    if labels is None:
        return None
    generated, warnings = decode_label(labels)
    return SetupResult(image=tag, status="hit", output="", duration_s=time.monotonic() - started, key=key,
                       generated=generated, warnings=warnings)


def _build(client: docker.DockerClient, base_image: str, worktree: Path, commands: list[str], repo_key: str,
           key: str, tag: str, network: SetupNetwork, limits: SandboxLimits, timeout_s: float,
           job_id: str | None) -> tuple[list[CommandResult], tuple[str, ...], tuple[str, ...]]:
    """Run the commands on a copy of ``worktree``, keep what they generated in it, commit the image as ``tag``;
    return the commands' results, the generated files kept and the warnings."""
    sandbox = DockerSandbox(client, image=base_image, limits=limits, network=network.network,
                            writable_root=True, role="setup")
    uid, gid, _ = sandbox.identity()
    scratch = Path(tempfile.mkdtemp(prefix=".ai-fix-setup-", dir=worktree.parent))
    copy = scratch / "worktree"
    results: list[CommandResult] = []
    deadline = time.monotonic() + timeout_s
    try:
        shutil.copytree(worktree, copy, symlinks=True, ignore=_copy_ignore(str(worktree)))
        with sandbox.start(copy, job_id=job_id or f"setup-{key[:12]}") as session:
            session.put_archive("/", _setup_tar(uid, gid, network.ca_bundle))
            env = network.command_env()
            for command in [_VENV_COMMAND, *commands]:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SetupFailedError(f"setup ran out of time ({timeout_s:g} s) before `{command}`",
                                           output=_joined(results), exit_code=124)
                result = session.run(command, remaining, env=env)
                if not result.passed or session.restarts:
                    raise _failure(result, [*results, result], timeout_s)
                if command is not _VENV_COMMAND:
                    results.append(result)
            session.run(f"rm -f {CA_PATH}", 60)
            generated, warnings = _keep_generated(session, worktree, copy, scratch, (uid, gid))
            repository, name = tag.split(":", 1)
            session.commit(repository, name, changes=_commit_changes(key, repo_key, _image_id(client, base_image),
                                                                     generated, warnings))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("setup of %s committed as %s (%d generated file(s) kept)", repo_key, tag, len(generated))
    return results, generated, warnings


def _keep_generated(session: DockerSession, original: Path, copy: Path, scratch: Path,
                    owner: tuple[int, int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Store what setup created in the worktree copy at ``ARCHIVE`` in the container; return (kept, warnings)."""
    try:
        found = collect(original, copy, scratch / "generated.tar")
    except OSError as exc:
        return (), (f"could not look for the files setup generated in the worktree ({exc}); none are kept",)
    warnings = found.warnings()
    if found.archive is None:
        return (), warnings
    if not session.run("python3 -I -S -c pass", 60).passed:
        return (), (*warnings, f"setup generated {len(found.files)} file(s) in the worktree "
                    f"({', '.join(found.files[:5])}), not kept for the tests: the image has no python3 to lay "
                    "them over the worktree")
    with wrap(found.archive, scratch / "image.tar", *owner).open("rb") as data:
        session.put_archive("/", data)
    return tuple(found.files), warnings


# A venv that sees the image's own packages (pytest); pip comes from the system
# through a wrapper, because ensurepip takes ~15 s here and is often absent.
_VENV_COMMAND = f"""set -e
if [ ! -x {VENV}/bin/python ] && command -v python3 >/dev/null 2>&1; then
  python3 -m venv --system-site-packages --without-pip {VENV}
  for p in pip pip3; do
    printf '#!/bin/sh\\nexec {VENV}/bin/python -m pip "$@"\\n' > {VENV}/bin/$p
    chmod +x {VENV}/bin/$p
  done
fi"""


def _failure(result: CommandResult, results: list[CommandResult], timeout_s: float) -> SetupFailedError:
    if result.timed_out:
        what = f"timed out (all setup commands share {timeout_s:g} s)"
    elif result.passed:
        what = "lost its container (killed by a limit?)"
    else:
        what = f"failed with exit code {result.exit_code}"
    tail = "\n".join(result.output.rstrip().splitlines()[-15:])
    label = "creating the venv" if result.command == _VENV_COMMAND else f"`{result.command}`"
    return SetupFailedError(f"setup command {label} {what}; its last lines:\n{tail}",
                            output=_joined(results), exit_code=result.exit_code)


def _joined(results: list[CommandResult]) -> str:
    return "".join(f"$ {r.command}\n{r.output}" for r in results)


def _commit_changes(key: str, repo_key: str, base_id: str, generated: tuple[str, ...],
                    warnings: tuple[str, ...]) -> list[str]:
    labels = image_labels(key, repo_key, base_id)
    if generated or warnings:
        labels[GENERATED_LABEL] = encode_label(generated, warnings)
    return [
        "LABEL " + " ".join(f"{name}={json.dumps(value)}" for name, value in labels.items()),
        f"ENV VIRTUAL_ENV={VENV} PATH={BASE_ENV['PATH']}",
        'ENTRYPOINT ["/usr/bin/env"]',  # commit keeps the sandbox's `sleep`; an empty list would not clear it
        'CMD ["sleep", "infinity"]',
    ]


def _setup_tar(uid: int, gid: int, ca_bundle: Path | None) -> bytes:
    """/opt/ai-fix owned by the sandbox user (so setup can make the venv), plus the CA bundle."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(SETUP_DIR.lstrip("/"))
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, uid, gid
        tar.addfile(info)
        if ca_bundle is not None:
            data = ca_bundle.read_bytes()
            info = tarfile.TarInfo(CA_PATH.lstrip("/"))
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, uid, gid
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _image_id(client: docker.DockerClient, image: str) -> str:
    try:
        return str(client.api.inspect_image(image)["Id"])
    except docker.errors.NotFound as exc:
        raise SandboxImageMissingError(image) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxError(f"could not inspect image {image!r}: {exc}") from exc


def _copy_ignore(top: str) -> Callable[[str, list[str]], set[str]]:
    """copytree filter: no top-level .git, nothing but files, directories and symlinks (a FIFO would block)."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {".git"} if directory == top else set()
        for name in names:
            mode = os.lstat(os.path.join(directory, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                skipped.add(name)
        return skipped
    return ignore
