"""What every sandbox container is: its limits and the complete settings Docker creates it with.

Pure: nothing here starts a container, so the walls of the sandbox are checked without Docker
(that they hold against a hostile repository is test_hostile.py's job).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.sandbox.container import (
    BASE_ENV,
    JOB_LABEL,
    LABEL,
    OWNER_LABEL,
    ROLE_LABEL,
    WORKSPACE,
    SandboxLimits,
    container_config,
)
from runner.sandbox.host import owner_token
from runner.sandbox.results import RESULTS_DIR


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=0)
    with pytest.raises(ValueError):
        SandboxLimits(cpus=-1)


def test_a_job_container_has_no_privileges_no_network_and_a_read_only_root_and_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    limits = SandboxLimits(memory_mb=1024, cpus=1.5, pids=64, tmp_mb=128, file_mb=16)
    config = container_config("img:1", limits, BASE_ENV, tmp_path, job_id="issue 7/x", user=(10001, 10002))
    assert (config["image"], config["user"], config["working_dir"]) == ("img:1", "10001:10002", WORKSPACE)
    assert config["network_mode"] == "none" and config["read_only"] is True
    assert config["cap_drop"] == ["ALL"] and config["security_opt"] == ["no-new-privileges"]
    assert (config["pids_limit"], config["mem_limit"], config["memswap_limit"], config["nano_cpus"]) == (
        64, "1024m", "1024m", 1_500_000_000)
    assert config["tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=128m,mode=1777"}
    assert [(u.name, u.soft, u.hard) for u in config["ulimits"]] == [("fsize", 16 << 20, 16 << 20)]
    assert config["log_config"].type == "none" and config["environment"] == dict(BASE_ENV)
    assert [dict(m) for m in config["mounts"]] == [
        {"Target": WORKSPACE, "Source": str(tmp_path), "Type": "bind", "ReadOnly": False},
        {"Target": f"{WORKSPACE}/.git", "Source": str(tmp_path / ".git"), "Type": "bind", "ReadOnly": True},
    ]
    assert config["labels"] == {LABEL: "1", JOB_LABEL: "issue 7/x", OWNER_LABEL: owner_token(), ROLE_LABEL: "run"}
    assert re.fullmatch(r"ai-fix-issue-7-x-[0-9a-f]{8}", config["name"])


def test_only_setup_loosens_the_network_and_the_root(tmp_path: Path) -> None:
    (tmp_path / ".git").symlink_to(tmp_path.parent)  # a link is not mounted: it would point out of the tree
    config = container_config("base:1", SandboxLimits(), {}, tmp_path, job_id="setup-1", user=(0, 0),
                              network="bridge", writable_root=True, role="setup")
    assert (config["network_mode"], config["read_only"], config["labels"][ROLE_LABEL]) == ("bridge", False, "setup")
    assert [m["Target"] for m in config["mounts"]] == [WORKSPACE]
    assert config["cap_drop"] == ["ALL"] and config["security_opt"] == ["no-new-privileges"]


def test_the_results_directory_is_the_one_other_writable_mount_and_lies_outside_the_worktree(tmp_path: Path) -> None:
    results = tmp_path / "results"
    config = container_config("img:1", SandboxLimits(), BASE_ENV, tmp_path / "wt", job_id="j", user=(1, 1),
                              results=results)
    assert [dict(m) for m in config["mounts"]] == [
        {"Target": WORKSPACE, "Source": str(tmp_path / "wt"), "Type": "bind", "ReadOnly": False},
        {"Target": RESULTS_DIR, "Source": str(results), "Type": "bind", "ReadOnly": False},
    ]
    assert not RESULTS_DIR.startswith(f"{WORKSPACE}/")
