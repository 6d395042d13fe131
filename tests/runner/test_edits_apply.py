"""Parsing and applying SEARCH/REPLACE blocks: exact results or exact refusals."""

import re
from pathlib import Path

import pytest

from runner.apply import EditRefused, apply_edits, confine
from runner.edits import EditBlock, parse


def _reply(path_line: str, search: str, replace: str, fence: str = "```") -> str:
    return f"{path_line}\n{fence}python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{fence}\n"


@pytest.mark.parametrize("path_line", ["pkg/mod.py", "`pkg/mod.py`", "**pkg/mod.py**", "# pkg/mod.py",
                                       "pkg/mod.py:", "File: pkg/mod.py", "### `pkg/mod.py`"])
def test_filename_styles(path_line: str) -> None:
    result = parse(_reply(path_line, "a = 1\n", "a = 2\n"))
    assert result.errors == []
    assert result.blocks == [EditBlock("pkg/mod.py", "a = 1\n", "a = 2\n")]


def test_several_blocks_inherit_the_file_and_quad_fences() -> None:
    reply = _reply("m.py", "x\n", "y\n", fence="````") + "\n<<<<<<< SEARCH\nz\n=======\nw\n>>>>>>> REPLACE\n"
    assert parse(reply).blocks == [EditBlock("m.py", "x\n", "y\n"), EditBlock("m.py", "z\n", "w\n")]


def test_unclosed_and_unnamed_blocks_are_errors() -> None:
    assert parse("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n").errors[0].endswith(
        "names no file: put the path on the line before the opening fence")
    assert "no >>>>>>> REPLACE" in parse("m.py\n<<<<<<< SEARCH\na\n=======\nb\n").errors[0]


def test_apply_exact_and_trailing_whitespace_tolerant(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f():  \n    return 1\n")
    result = apply_edits(tmp_path, [EditBlock("m.py", "def f():\n    return 1\n", "def f():\n    return 2\n")])
    assert result.errors == [] and result.changed_files == ["m.py"]
    assert (tmp_path / "m.py").read_text() == "def f():\n    return 2\n"


def test_ambiguous_search_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\nx = 1\n")
    result = apply_edits(tmp_path, [EditBlock("m.py", "x = 1\n", "x = 2\n")])
    assert result.errors == ["m.py: the SEARCH text matches 2 places; include more surrounding lines to make it "
                             "unique"]
    assert (tmp_path / "m.py").read_text() == "x = 1\nx = 1\n"


def test_missing_search_suggests_the_closest_lines(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def compute(value):\n    return value * 2\n")
    result = apply_edits(tmp_path, [EditBlock("m.py", "def compute(val):\n    return val * 2\n", "pass\n")])
    assert result.errors[0].startswith("m.py: the SEARCH text was not found; did you mean these lines?\n"
                                       "def compute(value):")


def test_new_file_and_mode_preserved(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo a\n")
    script.chmod(0o755)
    result = apply_edits(tmp_path, [EditBlock("new/pkg.py", "", "VALUE = 1\n"),
                                    EditBlock("run.sh", "echo a\n", "echo b\n")])
    assert result.errors == []
    assert (tmp_path / "new/pkg.py").read_text() == "VALUE = 1\n"
    assert script.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(("path", "why"), [
    ("../outside.py", "may not contain `..`"),
    ("/etc/passwd", "absolute paths are not allowed"),
    (".git/config", "never edited"),
    ("sub/.git/hooks/pre-commit", "never edited"),
    (".github/workflows/ci.yml", "no permission to change workflows"),
    ("vendor/lib.py", "denies `vendor/**`"),
])
def test_confinement(tmp_path: Path, path: str, why: str) -> None:
    with pytest.raises(EditRefused, match=re.escape(why)):
        confine(tmp_path, path, deny=["vendor/**"])


def test_symlink_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "repo"
    root.mkdir()
    (root / "link").symlink_to(outside)
    result = apply_edits(root, [EditBlock("link/evil.py", "", "x = 1\n")])
    assert result.errors == ["link/evil.py: refused: link/evil.py: refusing to write through a symbolic link"]
    assert not (outside / "evil.py").exists()
