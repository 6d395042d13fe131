"""What every sandbox container is: its image, user, mount point, labels, environment and limits.

Why a module of its own: the isolation of a job's commands is decided by the settings a
container is created with (read-only root, no capabilities, no network, bounded pids, memory,
CPU, ``/tmp`` and file size, a read-only ``.git``, no log driver) and by its host mounts (the
worktree, its ``.git`` read-only, and the results directory the test runner's report is read
from). :func:`container_config` holds all of them on one screen, so a reviewer checks the
sandbox's walls in one place; the session (``runner.sandbox.session``) only starts what this
describes. The labels are shared with the reaper and the setup cache, which find containers
and images by them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.types import LogConfig, Mount, Ulimit

from runner.sandbox.host import owner_token
from runner.sandbox.results import RESULTS_DIR

DEFAULT_IMAGE = "ai-fix-sandbox:latest"
WORKSPACE = "/workspace"
SANDBOX_UID = 10001
SANDBOX_GID = 10001
LABEL = "ai-fix"
JOB_LABEL = "ai-fix.job"
OWNER_LABEL = "ai-fix.owner"
ROLE_LABEL = "ai-fix.role"
#: Where the setup phase installs what a repository needs: part of the committed image, outside the worktree.
SETUP_DIR = "/opt/ai-fix"
#: Where the setup phase installs a repository's Python packages (see runner.sandbox.setup).
VENV = f"{SETUP_DIR}/venv"
TIMEOUT_EXIT_CODE = 124

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


def container_config(
    image: str,
    limits: SandboxLimits,
    env: Mapping[str, str],
    worktree: Path,
    *,
    job_id: str,
    user: tuple[int, int],
    network: str = "none",
    writable_root: bool = False,
    role: str = "run",
    results: Path | None = None,
) -> dict[str, Any]:
    """The arguments of ``containers.create`` for one job's container on ``worktree``.

    ``user`` is (uid, gid) the container's processes run as. ``network`` and
    ``writable_root`` are loosened by the setup phase only. ``results`` is the
    session's results directory on the host (``runner.sandbox.results``), mounted
    writable at :data:`RESULTS_DIR`, outside the worktree.
    """
    uid, gid = user
    mounts = [Mount(target=WORKSPACE, source=str(worktree), type="bind", read_only=False)]
    if results is not None:
        mounts.append(Mount(target=RESULTS_DIR, source=str(results), type="bind", read_only=False))
    git = worktree / ".git"
    if git.exists() and not git.is_symlink():
        # Hooks/config written here would run in host-side git: keep it read-only.
        mounts.append(Mount(target=f"{WORKSPACE}/.git", source=str(git), type="bind", read_only=True))
    safe_job = re.sub(r"[^a-zA-Z0-9_.-]", "-", job_id)[:40]
    return {
        "image": image,
        "entrypoint": ["sleep"],
        "command": ["infinity"],
        "init": True,  # reaps orphans of the commands (zombies count against pids)
        "name": f"ai-fix-{safe_job}-{uuid.uuid4().hex[:8]}",
        "hostname": "sandbox",
        "user": f"{uid}:{gid}",
        "working_dir": WORKSPACE,
        "environment": dict(env),
        "labels": {LABEL: "1", JOB_LABEL: job_id, OWNER_LABEL: owner_token(), ROLE_LABEL: role},
        "network_mode": network,
        "read_only": not writable_root,
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
