"""The setup cache key: which files count as dependencies, and what changes the key. No Docker."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.sandbox.setup_key import dependency_files, setup_key
from runner.sandbox.setup_output import POLICY
from tests.runner.sandbox.conftest import PYPROJECT, make_repo


def test_dependency_files_are_found_where_they_matter(tmp_path: Path) -> None:
    for rel in ("pyproject.toml", "requirements-dev.txt", "requirements/test.txt", "web/package.json",
                "web/node_modules/x/package.json", ".venv/lib/setup.py", "a/b/c/d/e/setup.py", "src/mod.py",
                "docs/requirements.txt", "poetry.lock"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / "setup.py").symlink_to("/etc/passwd")  # never read through a link
    assert dependency_files(tmp_path) == ["docs/requirements.txt", "poetry.lock", "pyproject.toml",
                                          "requirements-dev.txt", "requirements/test.txt", "web/package.json"]


def test_key_follows_dependencies_commands_base_and_repo_only(tmp_path: Path) -> None:
    make_repo(tmp_path)
    key = setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git")
    (tmp_path / "src" / "tinypkg" / "__init__.py").write_text("def answer():\n    return 43\n")
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git") == key
    assert setup_key("sha256:other", tmp_path, ["pip install -e ."], "https://x/r.git") != key
    assert setup_key("sha256:base", tmp_path, ["pip install ."], "https://x/r.git") != key
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/other.git") != key
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(deps='"six", "attrs"'))
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git") != key


def test_key_ignores_what_the_walk_skips(tmp_path: Path) -> None:
    """Vendored or cached dependency files (node_modules, a venv, deeper than the walk) never force a new setup."""
    make_repo(tmp_path)
    key = setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git")
    for rel in ("node_modules/left-pad/package.json", ".venv/lib/site/setup.py", "build/lib/pyproject.toml",
                "a/b/c/d/requirements.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git") == key
    (tmp_path / "a" / "b" / "c" / "requirements.txt").write_text("six\n")  # within the walk's depth
    assert setup_key("sha256:base", tmp_path, ["pip install -e ."], "https://x/r.git") != key


def test_key_follows_what_decides_the_kept_setup_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An extension built in place is kept in the image: a commit changing its C source must build it again,
    and so must a change of what is kept. Editing Python code still reuses the image."""
    make_repo(tmp_path)
    (tmp_path / "src" / "tinypkg" / "_speedups.c").write_text("int answer(void) { return 42; }\n")
    key = setup_key("sha256:base", tmp_path, ["python setup.py build_ext --inplace"], "https://x/r.git")
    (tmp_path / "src" / "tinypkg" / "__init__.py").write_text("ANSWER = 42\n")
    assert setup_key("sha256:base", tmp_path, ["python setup.py build_ext --inplace"], "https://x/r.git") == key
    (tmp_path / "src" / "tinypkg" / "_speedups.c").write_text("int answer(void) { return 43; }\n")
    changed = setup_key("sha256:base", tmp_path, ["python setup.py build_ext --inplace"], "https://x/r.git")
    assert changed != key
    monkeypatch.setattr("runner.sandbox.setup_key.POLICY", {**POLICY, "max_files": 1})
    assert setup_key("sha256:base", tmp_path, ["python setup.py build_ext --inplace"], "https://x/r.git") != changed
