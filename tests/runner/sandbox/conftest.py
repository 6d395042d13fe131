"""Fixtures of the setup-phase tests: a tiny installable repository (the private setup cache they use,
``cache``, is in tests/runner/conftest.py: a solve test uses it too)."""

from __future__ import annotations

from pathlib import Path

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinypkg"
version = "0.1"
dependencies = [{deps}]

[tool.setuptools.packages.find]
where = ["src"]
"""


def make_repo(root: Path, deps: str = '"six"') -> Path:
    (root / "src" / "tinypkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(deps=deps))
    (root / "src" / "tinypkg" / "__init__.py").write_text("def answer():\n    return 42\n")
    (root / "test_answer.py").write_text("import tinypkg\n\ndef test_answer():\n    assert tinypkg.answer() == 42\n")
    return root
