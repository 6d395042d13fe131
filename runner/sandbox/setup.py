"""The setup phase: install a repository's dependencies once, keep the result as an image.

Why: a repository's tests need its dependencies, the run phase has no network,
and installing them for every job would cost minutes. So the ``setup`` commands
of ``.github/ai-fix.yml`` run once, in a container with network but without
secrets or host mounts other than (a copy of) the worktree, and the container is
committed as ``ai-fix-setup:<key>``. The key hashes the repository, the base
image, the commands and the contents of the dependency files
(:data:`DEPENDENCY_NAMES`, :data:`DEPENDENCY_GLOBS`), so the next job on an
unchanged repository starts from that image and changing e.g. ``pyproject.toml``
runs setup again.

Where installed packages go: the worktree is bind-mounted and differs per job,
so anything written under ``/workspace`` is lost. Setup therefore runs with a
virtual environment at ``runner.sandbox.container.VENV`` (``--system-site-packages``,
so the image's pytest stays visible), which is part of the committed image and
first on PATH in every sandbox. ``pip install -e .`` puts only a path hook into
the venv: it points at ``/workspace``, where each job mounts its own worktree.
Setup works on a throwaway copy of the worktree, so a cache hit and a miss leave
the job's worktree in the same state, and setup cannot tamper with it.

Reaching package indexes: the network settings (CA bundle, index URLs, proxies
without credentials) come from :class:`SetupNetwork`, are handed to each setup
command's environment only, and the CA file is deleted before the commit, so
none of it reaches the run phase or the image's config.
"""

from __future__ import annotations

import configparser
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from runner.ports import CommandResult, SetupResult
from runner.sandbox.container import BASE_ENV, JOB_LABEL, LABEL, OWNER_LABEL, ROLE_LABEL, VENV, SandboxLimits
from runner.sandbox.errors import BUILD_HINT, SandboxError, SandboxImageMissingError
from runner.sandbox.session import DockerSandbox

log = logging.getLogger(__name__)

SETUP_REPOSITORY = "ai-fix-setup"
KEY_LABEL = "ai-fix.setup-key"
REPO_LABEL = "ai-fix.repo"
#: Bump when the layout of setup images changes, so old ones stop matching.
KEY_VERSION = "1"
_SETUP_DIR = "/opt/ai-fix"
_CA_PATH = f"{_SETUP_DIR}/.setup-ca.crt"  # deleted before the commit

#: Files whose content decides what setup installs (any depth, see _walk).
DEPENDENCY_NAMES = frozenset({
    "pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "Pipfile.lock", "poetry.lock", "pdm.lock", "uv.lock",
    "environment.yml", "environment.yaml", "package.json", "package-lock.json", "npm-shrinkwrap.json",
    "yarn.lock", "pnpm-lock.yaml", "Gemfile", "Gemfile.lock", "go.mod", "go.sum", "Cargo.toml", "Cargo.lock",
    "composer.json", "composer.lock",
})
DEPENDENCY_GLOBS = ("requirements*.txt", "requirements*.in", "constraints*.txt", "requirements/*.txt",
                    "requirements/*.in")
_SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", ".tox", ".nox", "__pycache__", "site-packages",
                        ".mypy_cache", ".pytest_cache", "build", "dist"})
_MAX_DEPTH = 4
_MAX_DEPENDENCY_FILES = 500
#: New top-level entries setup may leave in the worktree without a warning.
_HARMLESS = ("*.egg-info", "build", "dist", "__pycache__", ".eggs", ".pytest_cache", "*.dist-info")

#: Setup downloads and builds: more room than the run phase, same isolation otherwise.
SETUP_LIMITS = SandboxLimits(memory_mb=4096, cpus=2.0, pids=1024, tmp_mb=1024, max_output_bytes=256 * 1024)

_PASSED_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES",
               "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "NPM_CONFIG_REGISTRY",
               "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_CA_ENV = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
_CA_TARGETS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
               "GIT_SSL_CAINFO")
_PIP_CONFIGS = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", "~/.config/pip/pip.conf", "~/.pip/pip.conf")
_CREDENTIALS = re.compile(r"://[^/@\s]+@")


class SetupFailedError(SandboxError):
    """A setup command failed or timed out; ``output`` holds what it printed."""

    def __init__(self, message: str, *, output: str, exit_code: int) -> None:
        super().__init__(message, hint="fix the `setup` commands in .github/ai-fix.yml; "
                         "`ai-fix sandbox --repo PATH -- true` reproduces the setup locally")
        self.output = output
        self.exit_code = exit_code


@dataclass(frozen=True)
class SetupNetwork:
    """How the setup container reaches package indexes.

    ``ca_bundle`` is a PEM file copied in (certificates are public; needed
    behind a TLS-intercepting proxy); ``env`` holds index and proxy settings,
    never credentials. ``dropped`` names host settings left out because they
    carried credentials. Build it with :meth:`from_host` or by hand.
    """

    network: str = "bridge"
    ca_bundle: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()

    @classmethod
    def from_host(cls, environ: Mapping[str, str] | None = None, network: str = "bridge") -> SetupNetwork:
        """What pip on this host uses: its CA bundle, index URLs and proxies, minus any credentials."""
        environ = os.environ if environ is None else environ
        pip_conf = _pip_config(environ)
        ca = next((Path(environ[name]) for name in _CA_ENV if Path(environ.get(name, "") or "/-").is_file()), None)
        if ca is None and pip_conf.get("cert") and Path(pip_conf["cert"]).is_file():
            ca = Path(pip_conf["cert"])
        if ca is None and Path("/etc/ssl/certs/ca-certificates.crt").is_file():
            ca = Path("/etc/ssl/certs/ca-certificates.crt")
        wanted = {name: environ[name] for name in _PASSED_ENV if environ.get(name)}
        for key, name in (("index-url", "PIP_INDEX_URL"), ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
                          ("trusted-host", "PIP_TRUSTED_HOST")):
            if pip_conf.get(key) and name not in wanted:
                wanted[name] = " ".join(pip_conf[key].split())
        env = {k: v for k, v in wanted.items() if not _CREDENTIALS.search(v)}
        dropped = tuple(sorted(set(wanted) - set(env)))
        if dropped:
            log.warning("setup phase: not passing %s to setup commands: the values carry credentials",
                        ", ".join(dropped))
        return cls(network=network, ca_bundle=ca, env=env, dropped=dropped)

    def command_env(self) -> dict[str, str]:
        """The variables each setup command gets on top of the sandbox's base environment."""
        env = {**self.env, "VIRTUAL_ENV": VENV, "PIP_NO_CACHE_DIR": "1"}
        if self.ca_bundle is not None:
            env.update({name: _CA_PATH for name in _CA_TARGETS})
        return env


@dataclass(frozen=True)
class SetupCache:
    """Where setup images live and how many are kept (least recently used go first).

    ``max_bytes`` counts what each image adds to its base. ``lock_dir`` holds
    one lock file per key, so two jobs of one repository set up only once.
    """

    repository: str = SETUP_REPOSITORY
    max_images: int = 20
    max_bytes: int = 20 * 1024**3
    lock_dir: Path | None = None


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
    if _touch_if_cached(client, tag, key):
        return SetupResult(image=tag, status="hit", output="", duration_s=time.monotonic() - started, key=key)
    with _key_lock(cache, key):
        if _touch_if_cached(client, tag, key):  # a concurrent job built it while we waited
            return SetupResult(image=tag, status="hit", output="", duration_s=time.monotonic() - started, key=key)
        results, warnings = _build(client, base_image, worktree, commands, repo_key, key, tag,
                                   network or SetupNetwork.from_host(), limits, timeout_s, job_id)
    evict_setup_images(client, cache, keep=(tag,))
    output = "".join(f"$ {r.command}\n{r.output}" for r in results)
    return SetupResult(image=tag, status="built", output=output, duration_s=time.monotonic() - started,
                       key=key, commands=tuple(results), warnings=warnings)


def setup_key(base_image_id: str, worktree: Path, commands: Sequence[str], repo_key: str) -> str:
    """sha256 over everything that decides what setup produces."""
    deps = [(rel, _file_hash(worktree / rel)) for rel in dependency_files(worktree)]
    payload = {"v": KEY_VERSION, "repo": repo_key, "base": base_image_id, "commands": list(commands), "deps": deps}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def dependency_files(worktree: Path) -> list[str]:
    """Relative paths of the dependency files in ``worktree`` (regular files only, sorted)."""
    found: list[str] = []
    for rel in _walk(worktree):
        name, last_two = rel.rsplit("/", 1)[-1], "/".join(rel.split("/")[-2:])
        if name in DEPENDENCY_NAMES or any(fnmatch(name, g) or fnmatch(last_two, g) for g in DEPENDENCY_GLOBS):
            found.append(rel)
            if len(found) >= _MAX_DEPENDENCY_FILES:
                break
    return sorted(found)


def evict_setup_images(client: docker.DockerClient, cache: SetupCache, *, keep: Collection[str] = ()) -> list[str]:
    """Remove the least recently used setup images beyond ``cache``'s bounds; return the removed tags.

    "Used" is the image's last tag time: a cache hit re-tags the image. Images
    in use by a container, and the tags in ``keep``, stay.
    """
    prefix = f"{cache.repository}:"
    sizes: dict[str, int] = {}
    try:
        listed = client.api.images(filters={"label": [f"{LABEL}=1", f"{ROLE_LABEL}=setup"]})
        entries = []
        for image in listed:
            tags = [t for t in image.get("RepoTags") or [] if t.startswith(prefix)]
            if tags:
                info = client.api.inspect_image(image["Id"])
                used = (info.get("Metadata") or {}).get("LastTagTime") or info.get("Created", "")
                base = (info.get("Config") or {}).get("Labels", {}).get("ai-fix.base-id", "")
                entries.append((used, tags[0], int(info.get("Size", 0)) - _size(client, base, sizes)))
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        log.warning("could not list setup images to evict: %s", exc)
        return []
    entries.sort(reverse=True)  # most recently used first
    removed, count, total = [], 0, 0
    for _, tag, added in entries:
        count, total = count + 1, total + max(added, 0)
        if tag in keep or (count <= cache.max_images and total <= cache.max_bytes):
            continue
        try:
            client.api.remove_image(tag)
            removed.append(tag)
        except docker.errors.APIError as exc:
            log.info("keeping setup image %s: %s", tag, exc.explanation or exc)
    if removed:
        log.info("evicted %d setup image(s): %s", len(removed), ", ".join(removed))
    return removed


# --------------------------------------------------------------------------- internals


def _build(client: docker.DockerClient, base_image: str, worktree: Path, commands: list[str], repo_key: str,
           key: str, tag: str, network: SetupNetwork, limits: SandboxLimits, timeout_s: float,
           job_id: str | None) -> tuple[list[CommandResult], tuple[str, ...]]:
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
            session.run(f"rm -f {_CA_PATH}", 60)
            warnings = _worktree_warnings(worktree, copy)
            repository, name = tag.split(":", 1)
            session.commit(repository, name, changes=_commit_changes(key, repo_key, _image_id(client, base_image)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("setup of %s committed as %s", repo_key, tag)
    return results, warnings


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


def _commit_changes(key: str, repo_key: str, base_id: str) -> list[str]:
    labels = {LABEL: "1", ROLE_LABEL: "setup", JOB_LABEL: "", OWNER_LABEL: "", KEY_LABEL: key,
              REPO_LABEL: repo_key, "ai-fix.base-id": base_id}
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
        info = tarfile.TarInfo(_SETUP_DIR.lstrip("/"))
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, uid, gid
        tar.addfile(info)
        if ca_bundle is not None:
            data = ca_bundle.read_bytes()
            info = tarfile.TarInfo(_CA_PATH.lstrip("/"))
            info.size, info.mode, info.uid, info.gid = len(data), 0o644, uid, gid
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _worktree_warnings(original: Path, copy: Path) -> tuple[str, ...]:
    new = sorted({p.name for p in copy.iterdir()} - {p.name for p in original.iterdir()})
    kept = [n for n in new if not any(fnmatch(n, pattern) for pattern in _HARMLESS)]
    if not kept:
        return ()
    return (f"setup wrote {', '.join(kept)} into the worktree; each job gets a fresh worktree, so these are "
            f"not kept. Install into {_SETUP_DIR} instead (the venv {VENV} is on PATH; for npm use "
            f"`--prefix {_SETUP_DIR}/node` and NODE_PATH).",)


def _touch_if_cached(client: docker.DockerClient, tag: str, key: str) -> bool:
    """True if ``tag`` is this key's image; re-tagging marks it recently used for eviction."""
    try:
        info = client.api.inspect_image(tag)
        if ((info.get("Config") or {}).get("Labels") or {}).get(KEY_LABEL) != key:
            return False
        repository, name = tag.split(":", 1)
        client.api.tag(info["Id"], repository, name)
        return True
    except docker.errors.NotFound:
        return False
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxError(f"could not look up the setup cache image {tag}: {exc}") from exc


def _image_id(client: docker.DockerClient, image: str) -> str:
    try:
        return str(client.api.inspect_image(image)["Id"])
    except docker.errors.NotFound as exc:
        hint = BUILD_HINT if image.startswith("ai-fix-sandbox") else f"`docker pull {image}` on the host"
        raise SandboxImageMissingError(f"image {image!r} is not in the local Docker engine; {hint}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxError(f"could not inspect image {image!r}: {exc}") from exc


def _size(client: docker.DockerClient, image_id: str, sizes: dict[str, int]) -> int:
    if not image_id:
        return 0
    if image_id not in sizes:
        try:
            sizes[image_id] = int(client.api.inspect_image(image_id).get("Size", 0))
        except docker.errors.NotFound:
            sizes[image_id] = 0
    return sizes[image_id]


def _file_hash(path: Path) -> str:
    """sha256 of a regular file, read in chunks, refusing to follow a symlink swapped in meanwhile."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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


@contextmanager
def _key_lock(cache: SetupCache, key: str) -> Iterator[None]:
    lock_dir = cache.lock_dir or Path(tempfile.gettempdir())
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"ai-fix-setup-{key[:24]}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _walk(root: Path) -> Iterator[str]:
    """Relative paths of regular files up to :data:`_MAX_DEPTH` deep, skipping caches and environments."""
    stack: list[tuple[Path, str, int]] = [(root, "", 0)]
    while stack:
        path, rel, depth = stack.pop()
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            child = f"{rel}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 < _MAX_DEPTH and entry.name not in _SKIP_DIRS:
                    stack.append((Path(entry.path), f"{child}/", depth + 1))
            elif entry.is_file(follow_symlinks=False):
                yield child


def _pip_config(environ: Mapping[str, str]) -> dict[str, str]:
    """``cert``, ``index-url``, ``extra-index-url``, ``trusted-host`` from pip's config files."""
    files = [Path(p).expanduser() for p in _PIP_CONFIGS]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    found: dict[str, str] = {}
    for path in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path)
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                found.update({k: v for k, v in parser.items(section)
                              if k in ("cert", "index-url", "extra-index-url", "trusted-host")})
    return found
