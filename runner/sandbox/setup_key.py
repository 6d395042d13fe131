"""The setup cache key: what decides the result of a repository's setup, hashed.

Why a module of its own: the key is pure (files in, a digest out) and decides when a job
reuses an image and when it pays minutes of setup again, so it is tested without Docker.
It covers the repository, the base image, the commands and the contents of the dependency
files (:data:`DEPENDENCY_NAMES`, :data:`DEPENDENCY_GLOBS`) found by a bounded walk of the
worktree, so changing e.g. ``pyproject.toml`` runs setup again while editing code does not.

Setup's output inside the source tree is kept for the run phase (``runner.sandbox.setup_output``),
so the key also covers what decides it: the keeping policy, and the contents of the sources an
in-place build compiles (:data:`BUILD_SOURCE_SUFFIXES`: C, C++ and Cython files), so that a commit
changing ``_speedups.c`` builds the extension again instead of testing the old one. Editing Python
code still reuses the image.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path

from runner.file_kinds import INSTALLED_DIRS, SKIPPED_DIRS
from runner.sandbox.setup_output import POLICY

#: Bump when the layout of setup images changes, so old ones stop matching.
#: 2: images carry the files setup generated in the source tree (runner.sandbox.setup_output).
KEY_VERSION = "2"

#: Files whose content decides what setup installs (any depth, see _walk).
DEPENDENCY_NAMES = frozenset({
    "pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "Pipfile.lock", "poetry.lock", "pdm.lock", "uv.lock",
    "environment.yml", "environment.yaml", "package.json", "package-lock.json", "npm-shrinkwrap.json",
    "yarn.lock", "pnpm-lock.yaml", "Gemfile", "Gemfile.lock", "go.mod", "go.sum", "Cargo.toml", "Cargo.lock",
    "composer.json", "composer.lock",
})
DEPENDENCY_GLOBS = ("requirements*.txt", "requirements*.in", "constraints*.txt", "requirements/*.txt",
                    "requirements/*.in")
#: Sources an in-place build (``build_ext --inplace``) turns into files setup keeps: their contents count too.
BUILD_SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".pyx", ".pxd", ".pxi")
#: Directories the dependency walk never enters: caches, environments, build output, vendored packages.
_SKIP_DIRS = SKIPPED_DIRS | INSTALLED_DIRS
"""Tool caches and installed or built trees: they never hold a dependency file the key should follow."""
_MAX_DEPTH = 4
_MAX_DEPENDENCY_FILES = 500
_MAX_BUILD_SOURCES = 2000


def setup_key(base_image_id: str, worktree: Path, commands: Sequence[str], repo_key: str) -> str:
    """sha256 over everything that decides what setup produces."""
    deps, sources = _key_files(worktree)
    payload = {"v": KEY_VERSION, "repo": repo_key, "base": base_image_id, "commands": list(commands),
               "deps": [(rel, _file_hash(worktree / rel)) for rel in deps],
               "sources": [(rel, _file_hash(worktree / rel)) for rel in sources], "generated": POLICY}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def dependency_files(worktree: Path) -> list[str]:
    """Relative paths of the dependency files in ``worktree`` (regular files only, sorted)."""
    return _key_files(worktree)[0]


def _key_files(worktree: Path) -> tuple[list[str], list[str]]:
    """(dependency files, build sources) in ``worktree``, each sorted, found in one bounded walk."""
    deps: list[str] = []
    sources: list[str] = []
    for rel in _walk(worktree):
        name, last_two = rel.rsplit("/", 1)[-1], "/".join(rel.split("/")[-2:])
        if name in DEPENDENCY_NAMES or any(fnmatch(name, g) or fnmatch(last_two, g) for g in DEPENDENCY_GLOBS):
            if len(deps) < _MAX_DEPENDENCY_FILES:
                deps.append(rel)
        elif name.endswith(BUILD_SOURCE_SUFFIXES) and len(sources) < _MAX_BUILD_SOURCES:
            sources.append(rel)
    return sorted(deps), sorted(sources)


def _file_hash(path: Path) -> str:
    """sha256 of a regular file, read in chunks, refusing to follow a symlink swapped in meanwhile."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _walk(root: Path) -> Iterator[str]:
    """Relative paths of regular files up to :data:`_MAX_DEPTH` deep, skipping :data:`_SKIP_DIRS`."""
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
