"""Small repositories written for the purpose, as real git work trees."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

RepoFactory = Callable[[dict[str, str]], Path]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def commit_all(root: Path, message: str = "change") -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)


@pytest.fixture
def make_repo(tmp_path: Path) -> RepoFactory:
    def make(files: dict[str, str]) -> Path:
        root = tmp_path / f"repo{len(list(tmp_path.iterdir()))}"
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        write_tree(root, files)
        commit_all(root, "init")
        return root

    return make
