"""`ai-fix sandbox --repo PATH [--setup CMD] [--timeout SECONDS] -- CMD ...`

Runs one command the way a job runs a repository's tests: the repository's
setup image (from the cache, or built now) with the files setup generated in
the source tree laid over the worktree, the same limits and isolation, the
same ``PYTEST_ADDOPTS`` report flags, a fresh copy of the checkout as the worktree. For debugging a repository's
config and for outside checks; it prints the command's output and exits with
its exit code (124 on timeout, 125 when the sandbox itself could not run it).

The checkout is copied (git's tracked and untracked-but-not-ignored files, or
every file outside ``.git`` when PATH is not a git checkout): a job never runs
in the user's own tree, and as root the sandbox would otherwise chown it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner import repo_config
from runner.errors import GitError, RunnerError
from runner.git import git
from runner.sandbox.container import DEFAULT_IMAGE, TIMEOUT_EXIT_CODE, SandboxLimits
from runner.sandbox.engine import docker_client_from_env
from runner.sandbox.session import DockerSandbox
from runner.sandbox.setup import prepare_image
from runner.sandbox.setup_network import SetupNetwork

#: The sandbox itself failed (Docker unreachable, image missing, setup failed): like `docker run`.
SANDBOX_FAILURE_EXIT_CODE = 125
DEFAULT_TIMEOUT_S = 600.0


def add_parser(subparsers: Any) -> None:
    """Register ``sandbox`` on an ``argparse`` subparsers object (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "sandbox",
        help="run a command in the sandbox exactly as a job's tests run",
        description="Run CMD in the sandbox as a job's tests would run (same image, limits and isolation), "
        "in a fresh copy of the checkout at PATH. Prints its output; exits with its exit code "
        f"({TIMEOUT_EXIT_CODE} on timeout, {SANDBOX_FAILURE_EXIT_CODE} if the sandbox could not run it). "
        "One CMD argument is a shell command line; several are quoted and joined.",
    )
    configure(parser)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``sandbox`` options to ``parser`` (shared by :func:`add_parser` and :func:`main`)."""
    parser.add_argument("--repo", required=True, type=Path, metavar="PATH", help="checkout of the repository")
    parser.add_argument("--setup", action="append", metavar="CMD",
                        help="setup command (repeatable); default: `setup` from the repository's .github/ai-fix.yml")
    parser.add_argument("--no-setup", action="store_true", help="skip the setup phase")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"wall-clock limit of CMD (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--image", help="base image; default: `image` from the repository's config, then "
                        f"$AI_FIX_SANDBOX_IMAGE, then {DEFAULT_IMAGE}")
    parser.add_argument("--in-place", action="store_true",
                        help="mount PATH itself instead of a copy (CMD's changes stay; as root, files get uid 10001)")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand; returns the process exit code."""
    argv = list(args.cmd)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("ai-fix sandbox: give the command after `--`, e.g. ai-fix sandbox --repo . -- pytest -q",
              file=sys.stderr)
        return 2
    command = argv[0] if len(argv) == 1 else shlex.join(argv)
    repo = args.repo.resolve()
    if not repo.is_dir():
        print(f"ai-fix sandbox: --repo {repo} is not a directory", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print("ai-fix sandbox: --timeout must be positive", file=sys.stderr)
        return 2
    try:
        return _run(args, repo, command)
    except RunnerError as exc:
        print(f"ai-fix sandbox: {exc}", file=sys.stderr)
        return SANDBOX_FAILURE_EXIT_CODE


def _run(args: argparse.Namespace, repo: Path, command: str) -> int:
    config = repo_config.load(repo)
    setup = [] if args.no_setup else (args.setup if args.setup is not None else config.setup)
    base = args.image or config.image or os.environ.get("AI_FIX_SANDBOX_IMAGE") or DEFAULT_IMAGE
    client = docker_client_from_env()
    scratch = None if args.in_place else Path(tempfile.mkdtemp(prefix="ai-fix-sandbox-cli-"))
    try:
        worktree = repo if scratch is None else _copy_checkout(repo, scratch / "worktree")
        prepared = prepare_image(client, base, worktree, setup, f"local:{repo}", network=SetupNetwork.from_host())
        if prepared.status != "none":
            verb = "cache hit" if prepared.cache_hit else "ran"
            print(f"ai-fix sandbox: setup {verb} ({prepared.duration_s:.1f} s), image {prepared.image}",
                  file=sys.stderr)
        if prepared.generated:
            shown = ", ".join(prepared.generated[:10]) + (" ..." if len(prepared.generated) > 10 else "")
            print(f"ai-fix sandbox: setup generated {len(prepared.generated)} file(s) in the source tree, laid over "
                  f"the worktree before CMD: {shown}", file=sys.stderr)
        for warning in prepared.warnings:
            print(f"ai-fix sandbox: warning: {warning}", file=sys.stderr)
        sandbox = DockerSandbox(client, image=prepared.image, limits=SandboxLimits())
        with sandbox.start(worktree, job_id="cli") as session:
            result = session.run(command, args.timeout)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    sys.stdout.write(result.output)
    sys.stdout.flush()
    return result.exit_code


def _copy_checkout(repo: Path, dest: Path) -> Path:
    """Copy what a job's worktree would hold; symlinks stay links, ignored files stay behind."""
    try:
        listed = git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo, timeout=120)
    except (GitError, OSError):
        shutil.copytree(repo, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        return dest
    dest.mkdir(parents=True)
    for rel in sorted(set(filter(None, listed.split("\0")))):
        source, target = repo / rel, dest / rel
        if not source.is_symlink() and not source.is_file():
            continue  # deleted but still in the index, or a submodule
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m runner.sandbox.cli --repo PATH -- CMD``: the subcommand without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="ai-fix sandbox")
    configure(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
