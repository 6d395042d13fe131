"""The one git helper: what a git process it starts can see and run, and how it fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runner.errors import GitError
from runner.git import git

SECRET = "tok-0123456789abcdef"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "a.txt").write_text("a\n")
    subprocess.run(["git", "-C", str(path), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"],
                   check=True)
    return path


def test_git_sees_the_base_keys_and_the_given_env_never_the_apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   ) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-apps-own")
    monkeypatch.setenv("AI_FIX_WEBHOOK_SECRET", "whsec")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))  # would point git at another repository
    monkeypatch.setenv("HOME", str(tmp_path))
    credentials = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                   "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {SECRET}"}
    out = git(["-c", "alias.dump-env=!env -0", "dump-env"], cwd=tmp_path, git_env=credentials,
              extra_env={"GIT_AUTHOR_NAME": "bot"})  # a shell alias prints the environment git runs with
    env = dict(entry.split("=", 1) for entry in out.split("\0") if "=" in entry)
    assert "OPENAI_API_KEY" not in env and "AI_FIX_WEBHOOK_SECRET" not in env and "GIT_DIR" not in env
    assert env["HOME"] == str(tmp_path) and env["GIT_CONFIG_VALUE_0"].endswith(SECRET)
    assert env["GIT_AUTHOR_NAME"] == "bot"
    assert (env["GIT_TERMINAL_PROMPT"], env["GIT_CONFIG_NOSYSTEM"], env["GIT_ASKPASS"]) == ("0", "1", "true")


def test_a_checkouts_own_hooks_and_fsmonitor_never_run(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "-C", str(repo), "config", "core.fsmonitor", f"touch {marker}"], check=True)
    (repo / "a.txt").write_text("changed\n")
    assert git(["status", "--porcelain"], cwd=repo) == " M a.txt\n"
    git(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "change"], cwd=repo)
    assert not marker.exists()
    assert git(["log", "-1", "--format=%s"], cwd=repo) == "change\n"


def test_a_failure_is_a_git_error_with_the_credentials_redacted(repo: Path) -> None:
    with pytest.raises(GitError, match=r"^git fetch failed: .*\*\*\*") as raised:
        git(["fetch", f"/nowhere/{SECRET}"], cwd=repo, git_env={"GIT_CONFIG_VALUE_0": SECRET})
    assert SECRET not in str(raised.value)


def test_a_git_that_hangs_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="timed out after 1s"):
        git(["-c", "alias.hang=!sleep 30 </dev/null >/dev/null 2>&1", "hang"], cwd=tmp_path, timeout=1)


def test_contents_that_are_not_utf8_round_trip(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(["init", "--bare", "--quiet", str(bare)])
    text = b"caf\xe9 = 1\n".decode("utf-8", "surrogateescape")  # a latin-1 source file
    blob = git(["hash-object", "-w", "--stdin", "--no-filters"], git_dir=bare, input_text=text).strip()
    assert git(["cat-file", "blob", blob], git_dir=bare) == text


def test_cwd_lets_git_find_the_repository(repo: Path) -> None:
    assert git(["rev-parse", "--show-toplevel"], cwd=repo).strip() == str(repo)
    assert git(["rev-parse", "--git-dir"], cwd=repo / ".git").strip() == "."
