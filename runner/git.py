"""git, run the one way the App runs it: every git process, in runner/ and bot/, starts in `git()`.

The repositories, their config and whatever a sandbox leaves in a worktree are untrusted, and the
App's own environment holds secrets (webhook secret, private key, model keys). So each git process:
- gets a minimal environment: a few base keys (`_BASE_ENV_KEYS`), then the caller's `git_env`
  (credentials, opaque to us: they live only there, never in argv, a URL, a config or a file) and
  `extra_env` (an index file, an identity); nothing else of the App's;
- runs no hook, fsmonitor or credential helper (`_SAFE_CONFIG`), reads no system config, never
  prompts, and accepts any directory (`safe.directory=*`: a sandbox may run as another uid);
- fails as a `GitError` whose message has every `git_env` value redacted.

Callers that own the repository (workspace.py) name `git_dir`/`work_tree`, so a `.git` planted in a
worktree is never read; `cwd` (git's `-C`) lets git find the repository itself, for checkouts that are
the user's (`ai-fix solve`, `ai-fix sandbox`) or read-only listings (the repo map).

Why this is not GitPython (3.2.1, read from its cmd.py): `Git.execute`, under every GitPython call
that runs git, builds the process's environment from a copy of `os.environ` (then forces
`LC_ALL=C`) and offers no way to leave a key out, so each git it started would inherit the App's
secrets; it also takes stdin only as a file, not text, and `import git` runs `git version`. Once
the process is started our way, GitPython would add only a call syntax: the lines below are the
whole helper.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from runner.errors import GitError

_SAFE_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "safe.directory=*", "-c", "core.fsmonitor=false",
                "-c", "credential.helper=")
_BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")


def git(args: Sequence[str], *, git_dir: Path | None = None, work_tree: Path | None = None, cwd: Path | None = None,
        git_env: Mapping[str, str] | None = None, input_text: str | None = None,
        extra_env: Mapping[str, str] | None = None, timeout: float = 600) -> str:
    """Run git with a minimal environment and return its stdout; raise `GitError` with stderr (secrets redacted).

    Output and input are text; bytes that are not UTF-8 (file contents) round-trip unchanged through
    `surrogateescape`, as the edit code reads and writes them.
    """
    env = {k: os.environ[k] for k in _BASE_ENV_KEYS if k in os.environ}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_ASKPASS": "true"})
    env.update(git_env or {})
    env.update(extra_env or {})
    cmd = ["git", *_SAFE_CONFIG]
    if cwd is not None:
        cmd.extend(["-C", str(cwd)])
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    if work_tree is not None:
        cmd.append(f"--work-tree={work_tree}")
    cmd.extend(args)
    try:
        proc = subprocess.run(cmd, input=input_text, capture_output=True, encoding="utf-8", errors="surrogateescape",
                              env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        message = _redact(proc.stderr.strip() or proc.stdout.strip(), git_env or {})
        raise GitError(f"git {args[0]} failed: {message[-2000:]}")
    return proc.stdout


def _redact(text: str, git_env: Mapping[str, str]) -> str:
    for value in git_env.values():
        if len(value) >= 8:
            text = text.replace(value, "***")
    return text
