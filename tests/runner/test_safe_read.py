from pathlib import Path

import pytest

from runner.context import read_files
from runner.errors import RepoConfigError
from runner.repo_config import load
from runner.safe_read import read_bytes_inside


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    secret = tmp_path / "host"
    secret.mkdir()
    (secret / "config.json").write_text('{"auth": "host secret"}')
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "conf").symlink_to(secret)  # a directory swapped for a symlink by sandboxed code
    (root / "direct.json").symlink_to(secret / "config.json")
    return root


def test_reads_stay_inside_the_tree(tree: Path) -> None:
    assert read_bytes_inside(tree, "pkg/mod.py", 100) == b"x = 1\n"
    for rel in ("conf/config.json", "direct.json", "../host/config.json", "/etc/hostname", "pkg/../pkg/mod.py"):
        assert read_bytes_inside(tree, rel, 100) is None, rel
    assert read_bytes_inside(tree, "pkg/mod.py", 3) is None  # larger than allowed: not read at all
    assert read_files(tree, ["conf/config.json", "direct.json", "pkg/mod.py"]) == [("pkg/mod.py", "x = 1\n")]


def test_a_symlinked_config_is_refused(tree: Path) -> None:
    (tree / ".github").symlink_to(tree.parent / "host")
    (tree.parent / "host" / "ai-fix.yml").write_text("test: cat /etc/shadow\n")
    with pytest.raises(RepoConfigError, match="is a symbolic link"):
        load(tree)
