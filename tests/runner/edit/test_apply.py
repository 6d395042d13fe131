"""The edit API around the table of cases: block kinds, results, confinement, and how files are written."""

import os
import re
from pathlib import Path

import pytest

from runner.edit.apply import EditRefused, apply_edits, confine
from runner.edit.parse import EditBlock, parse, parse_whole, resolve_paths

F = "```"


def test_each_syntax_gives_its_kind_of_block() -> None:
    reply = (f"a.py\n{F}\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n{F}\n"
             f"a.py::A.f\n{F}python\ndef f(self):\n    pass\n{F}\n"
             f"old.py\n{F}\n<<<<<<< DELETE FILE\n{F}\n"
             f"new.py\n{F}python\nN = 1\n{F}\n")
    assert parse(reply).blocks == [
        EditBlock("a.py", "x\n", "y\n"),
        EditBlock("a.py", "", "def f(self):\n    pass\n", kind="symbol", symbol="A.f"),
        EditBlock("old.py", "", "", kind="delete")]
    assert parse_whole(reply).blocks[-1] == EditBlock("new.py", "", "N = 1\n", kind="whole")


def test_unclosed_and_unnamed_blocks_are_errors() -> None:
    assert parse("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n").errors == [
        "the block at line 1 of your reply names no file: put the path on the line before the opening fence"]
    assert parse("m.py\n<<<<<<< SEARCH\na\n=======\nb\n").errors == [
        "the block at line 2 of your reply (m.py) has no >>>>>>> REPLACE line: it was not applied; send it again whole"]


def test_resolution_never_maps_creations_or_deletions_by_basename() -> None:
    known = ["pkg/mod.py"]
    blocks = [EditBlock("mod.py", "", "new\n"), EditBlock("mod.py", "", "", kind="delete"),
              EditBlock("src/pkg/mod.py", "", "", kind="delete"), EditBlock("mod.py", "", "x\n", kind="whole")]
    resolved, errors = resolve_paths(blocks, known)
    assert [b.path for b in resolved] == ["mod.py", "mod.py"]
    assert errors == [
        "mod.py: no such file in the repository to delete (did you mean `pkg/mod.py`?); a deletion needs the exact "
        "path from the repository root",
        "src/pkg/mod.py: no such file in the repository to delete (did you mean `pkg/mod.py`?); a deletion needs the "
        "exact path from the repository root"]


def test_results_say_which_blocks_applied(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("a = 1\nb = 2\n")
    blocks = [EditBlock("m.py", "a = 1\n", "a = 3\n"), EditBlock("m.py", "zzz\n", "y\n"),
              EditBlock("m.py", "b = 2\n", "b = 4\n"), EditBlock("n.py", "", "N = 1\n")]
    result = apply_edits(tmp_path, blocks)
    assert result.applied_numbers == [1, 3, 4] and result.applied == [blocks[0], blocks[2], blocks[3]]
    assert [(f.number, f.kind) for f in result.failures] == [(2, "not_found")]
    assert result.changed_files == ["m.py", "n.py"]
    assert result.contents == {"m.py": "a = 3\nb = 4\n", "n.py": "N = 1\n"}


def test_deletion_is_reported_apart_from_contents(tmp_path: Path) -> None:
    (tmp_path / "old.py").write_text("x\n")
    result = apply_edits(tmp_path, [EditBlock("old.py", "", "", kind="delete")])
    assert result.deleted == ["old.py"] and result.changed_files == ["old.py"] and result.contents == {}
    assert not (tmp_path / "old.py").exists()


def test_nothing_is_written_for_a_block_that_fails_and_no_temp_files_remain(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\nx = 1\n")
    result = apply_edits(tmp_path, [EditBlock("m.py", "x = 1\n", "x = 2\n")])
    assert [f.kind for f in result.failures] == ["ambiguous"] and result.changed_files == []
    assert (tmp_path / "m.py").read_text() == "x = 1\nx = 1\n"
    assert sorted(os.listdir(tmp_path)) == ["m.py"]


def test_new_file_and_mode_preserved(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo a\n")
    script.chmod(0o755)
    result = apply_edits(tmp_path, [EditBlock("new/pkg.py", "", "VALUE = 1\n"),
                                    EditBlock("run.sh", "echo a\n", "echo b\n")])
    assert result.errors == []
    assert (tmp_path / "new/pkg.py").read_text() == "VALUE = 1\n"
    assert script.stat().st_mode & 0o777 == 0o755


def test_binary_and_non_regular_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "dir.py").mkdir()
    result = apply_edits(tmp_path, [EditBlock("img.png", "PNG\n", "x\n"), EditBlock("dir.py", "", "x\n")])
    assert result.errors == ["block 1 of 2 (img.png) failed: is a binary file and cannot be edited\n"
                             "Its SEARCH section was:\n```\nPNG\n```",
                             "block 2 of 2 (dir.py) failed: is not a regular file"]


def test_a_write_that_fails_is_reported_and_not_counted_as_applied(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a file where the block wants a directory\n")
    (tmp_path / "m.py").write_text("x\n")
    result = apply_edits(tmp_path, [EditBlock("a/b.py", "", "B = 1\n"), EditBlock("m.py", "x\n", "y\n")])
    assert result.applied == [EditBlock("m.py", "x\n", "y\n")] and result.applied_numbers == [2]
    assert result.changed_files == ["m.py"]
    assert [(f.number, f.kind) for f in result.failures] == [(1, "write_failed")]
    assert result.errors[0].startswith("block 1 of 2 (a/b.py) failed: could not write a/b.py: ")


@pytest.mark.parametrize(("path", "why"), [
    ("../outside.py", "may not contain `..`"),
    ("/etc/passwd", "absolute paths are not allowed"),
    ("C:/Windows/x.py", "absolute paths are not allowed"),
    ("~/x.py", "absolute paths are not allowed"),
    (".git/config", "never edited"),
    (".GIT/config", "never edited"),
    ("sub/.git/hooks/pre-commit", "never edited"),
    (".github/workflows/ci.yml", "no permission to change workflows"),
    ("vendor/lib.py", "denies `vendor/**`"),
    ("", "empty or invalid path"),
])
def test_confinement(tmp_path: Path, path: str, why: str) -> None:
    with pytest.raises(EditRefused, match=re.escape(why)):
        confine(tmp_path, path, deny=["vendor/**"])


def test_other_github_files_may_be_edited(tmp_path: Path) -> None:
    assert confine(tmp_path, ".github/ISSUE_TEMPLATE/bug.md") == tmp_path / ".github/ISSUE_TEMPLATE/bug.md"
    assert confine(tmp_path, "docs/.gitignore") == tmp_path / "docs/.gitignore"


def test_symlink_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "repo"
    root.mkdir()
    (root / "link").symlink_to(outside)
    (root / "alias.py").symlink_to(root / "real.py")
    (root / "real.py").write_text("x = 1\n")
    result = apply_edits(root, [EditBlock("link/evil.py", "", "x = 1\n"), EditBlock("alias.py", "x = 1\n", "y\n")])
    assert result.errors == ["block 1 of 2 (link/evil.py) failed: refused: refusing to write through a symbolic link",
                             "block 2 of 2 (alias.py) failed: refused: refusing to write through a symbolic link"]
    assert not (outside / "evil.py").exists() and (root / "real.py").read_text() == "x = 1\n"
