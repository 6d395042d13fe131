"""Finding what setup generated in its copy of the worktree: what is kept, what is not and why. No Docker.

The copy is made as setup makes it (``shutil.copytree`` keeping symlinks and times), then changed the way
setup commands change it; the Docker round trip (setup image, lay-over, tests) is in test_setup.py.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from runner.sandbox import setup_output
from runner.sandbox.setup_output import collect, decode_label, encode_label


def trees(tmp_path: Path) -> tuple[Path, Path]:
    original = tmp_path / "worktree"
    (original / "src" / "pkg").mkdir(parents=True)
    (original / "src" / "pkg" / "__init__.py").write_text("")
    (original / "tox.ini").write_text("[tox]\n")
    (original / ".git").mkdir()
    (original / "node_modules").mkdir()  # there before setup: not setup's doing
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)
    return original, copy


def write(root: Path, rel: str, text: str = "x") -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def members(archive: Path | None) -> dict[str, str]:
    assert archive is not None
    with tarfile.open(archive) as tar:
        return {m.name: (m.linkname if m.issym() else oct(m.mode)) for m in tar}


def test_what_setup_created_is_kept_and_the_rest_is_named(tmp_path: Path) -> None:
    original, copy = trees(tmp_path)
    write(copy, "src/pkg/_version.py", "version = '1.2.3'\n")
    write(copy, "src/pkg/_speedups.cpython-311-x86_64-linux-gnu.so", "\x7fELF")
    os.chmod(copy / "src/pkg/_speedups.cpython-311-x86_64-linux-gnu.so", 0o755)
    write(copy, "src/pkg.egg-info/entry_points.txt", "[pytest11]\n")  # legacy develop installs read this
    (copy / "src" / "pkg" / "current.py").symlink_to("_version.py")
    # Noise: caches and build intermediates, silently not kept.
    for rel in ("src/pkg/__pycache__/x.cpython-311.pyc", "build/temp/x.o", "dist/pkg.whl", ".eggs/a.egg",
                ".pytest_cache/v", ".git/index"):
        write(copy, rel)
    # Not kept, with a reason each.
    write(copy, "tox.ini", "[tox]\nchanged by setup = 1\n")
    write(copy, ".venv/bin/python")
    write(copy, "node_modules/left-pad/index.js")
    (copy / "leak").symlink_to("/etc/passwd")
    (copy / "src" / "up").symlink_to("../../outside")
    os.mkfifo(copy / "pipe")
    (copy / "empty-dir").mkdir()

    found = collect(original, copy, tmp_path / "g.tar")

    assert found.files == ["src/pkg.egg-info/entry_points.txt", "src/pkg/_speedups.cpython-311-x86_64-linux-gnu.so",
                           "src/pkg/_version.py", "src/pkg/current.py"]
    assert members(found.archive) == {"src/pkg.egg-info/entry_points.txt": "0o644",
                                      "src/pkg/_speedups.cpython-311-x86_64-linux-gnu.so": "0o755",
                                      "src/pkg/_version.py": "0o644", "src/pkg/current.py": "_version.py"}
    warnings = "\n".join(found.warnings())
    assert "setup changed files the worktree already has, not kept (the tests see the worktree's version): tox.ini" \
        in warnings
    # node_modules was there before setup (vendored), but setup installed into it.
    assert "setup installed into the worktree, which each job gets afresh: .venv/, node_modules/ not kept" in warnings
    assert "symlinks leading out of the worktree, not kept: leak -> /etc/passwd, src/up -> ../../outside" in warnings
    assert "not regular files, not kept: pipe" in warnings and "nothing to keep in them, not kept: empty-dir/" \
        in warnings
    assert not any(word in warnings for word in ("__pycache__", "build", "dist", ".eggs", ".pytest_cache", ".git"))


def test_nothing_created_means_no_archive_and_no_warning(tmp_path: Path) -> None:
    original, copy = trees(tmp_path)
    write(copy, "src/pkg/__pycache__/a.pyc")
    write(copy, "tox.ini", "[tox]\n")  # rewritten as it was: a new time, the same content
    assert (copy / "tox.ini").stat().st_mtime_ns != (original / "tox.ini").stat().st_mtime_ns
    write(copy, ".git/index")
    (copy / "node_modules" / "x").mkdir()
    (copy / "node_modules" / "x").rmdir()  # touched but nothing added: still its time changed, see below
    os.utime(copy / "node_modules", ns=(0, (original / "node_modules").stat().st_mtime_ns))
    found = collect(original, copy, tmp_path / "g.tar")
    assert (found.files, found.archive, found.warnings()) == ([], None, ())


def test_the_walk_does_not_follow_a_directory_link_setup_left(tmp_path: Path) -> None:
    original, copy = trees(tmp_path)
    secret_dir = tmp_path / "host"
    write(secret_dir, "id_rsa", "HOST-SECRET")
    (copy / "src" / "pkg" / "data").symlink_to(secret_dir)  # absolute: would be the host's directory
    found = collect(original, copy, tmp_path / "g.tar")
    assert found.files == [] and "src/pkg/data -> " in "\n".join(found.warnings())


def test_limits_drop_the_rest_and_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(setup_output, "MAX_FILES", 3)
    original, copy = trees(tmp_path)
    for i in range(5):
        write(copy, f"assets/{i}.css")
    found = collect(original, copy, tmp_path / "g.tar")
    assert found.files == ["assets/0.css", "assets/1.css", "assets/2.css"]
    assert "these are not kept: assets/3.css, assets/4.css" in found.warnings()[0]


def test_the_label_round_trips_any_path_and_shrugs_off_garbage() -> None:
    files = ("src/a $HOME \"quoted\".py", "ünïcode/ß.py", "line\nbreak.py")
    value = encode_label(files, ("warned",))
    assert value.isascii() and "$" not in value and '"' not in value
    assert decode_label({"ai-fix.generated": value}) == (files, ("warned",))
    assert decode_label({}) == ((), ()) and decode_label(None) == ((), ())
    assert decode_label({"ai-fix.generated": "not base64 at all!"}) == ((), ())
