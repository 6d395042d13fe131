"""Apply parsed edits to a worktree: confined, unambiguous, dry-run first, written atomically.

Every path comes from an LLM and is treated as hostile: no absolute paths, no `..`, no symlinks
out of the tree, nothing under `.git/` or `.github/workflows/`, nothing the repository denies.
A SEARCH text that matches in more than one place is refused: for an unattended PR a wrong edit
is worse than no edit.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from runner.edits import EditBlock

ALWAYS_DENIED = (".git", ".git/**", "**/.git/**", ".github/workflows/**")


class EditRefused(Exception):
    """The edit's path may not be touched; the message says why."""


@dataclass
class ApplyResult:
    applied: list[EditBlock] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    contents: dict[str, str] = field(default_factory=dict)
    """Final text of every changed file: what gets committed, whatever the sandbox does later."""


def confine(root: Path, rel: str, deny: Sequence[str] = ()) -> Path:
    """Return the absolute path for `rel` inside `root`, or raise `EditRefused`."""
    if not rel or "\x00" in rel:
        raise EditRefused("empty or invalid path")
    posix = PurePosixPath(rel.replace("\\", "/"))
    if posix.is_absolute() or rel.startswith("~"):
        raise EditRefused(f"{rel}: absolute paths are not allowed; use a path relative to the repository root")
    if any(part == ".." for part in posix.parts):
        raise EditRefused(f"{rel}: paths may not contain `..`")
    normal = str(posix)
    if normal.split("/")[0] == ".git" or "/.git/" in f"/{normal}":
        raise EditRefused(f"{rel}: files under .git/ are never edited")
    for pattern in (*ALWAYS_DENIED, *deny):
        if fnmatch.fnmatch(normal, pattern) or fnmatch.fnmatch(normal, pattern.rstrip("/") + "/*"):
            why = ("the App has no permission to change workflows" if normal.startswith(".github/workflows")
                   else f"the repository denies `{pattern}` in .github/ai-fix.yml")
            raise EditRefused(f"{rel}: {why}")
    target = root / normal
    real_root = root.resolve()
    probe = real_root
    for part in PurePosixPath(normal).parts:
        probe = probe / part
        if probe.is_symlink():
            raise EditRefused(f"{rel}: refusing to write through a symbolic link")
    if not str(target.resolve()).startswith(str(real_root) + os.sep):
        raise EditRefused(f"{rel}: resolves outside the repository")
    return target


def _locate(text: str, search: str) -> tuple[int, int] | str:
    """Find `search` in `text` exactly once; fall back to ignoring trailing whitespace and CRLF."""
    count = text.count(search)
    if count == 1:
        start = text.index(search)
        return start, start + len(search)
    if count > 1:
        return f"the SEARCH text matches {count} places; include more surrounding lines to make it unique"
    file_lines = text.splitlines(keepends=True)
    want = [line.rstrip() for line in search.splitlines()]
    if not want:
        return "the SEARCH section is empty"
    stripped = [line.rstrip() for line in file_lines]
    hits = [i for i in range(len(stripped) - len(want) + 1) if stripped[i:i + len(want)] == want]
    if len(hits) == 1:
        start = sum(len(line) for line in file_lines[:hits[0]])
        end = start + sum(len(line) for line in file_lines[hits[0]:hits[0] + len(want)])
        return start, end
    if len(hits) > 1:
        return f"the SEARCH text matches {len(hits)} places; include more surrounding lines to make it unique"
    return _closest_hint(stripped, want)


def _closest_hint(file_lines: list[str], want: list[str]) -> str:
    best_ratio, best_at = 0.0, 0
    width = len(want)
    for i in range(max(1, len(file_lines) - width + 1)):
        ratio = difflib.SequenceMatcher(None, "\n".join(file_lines[i:i + width]), "\n".join(want)).ratio()
        if ratio > best_ratio:
            best_ratio, best_at = ratio, i
    if best_ratio < 0.5:
        return "the SEARCH text was not found in the file"
    closest = "\n".join(file_lines[best_at:best_at + width])
    return f"the SEARCH text was not found; did you mean these lines?\n{closest}"


def apply_edits(root: Path, blocks: Sequence[EditBlock], deny: Sequence[str] = ()) -> ApplyResult:
    """Dry-run every block against in-memory copies, then write each changed file atomically."""
    result = ApplyResult()
    pending: dict[str, str] = {}
    originals: dict[str, str | None] = {}
    for block in blocks:
        try:
            target = confine(root, block.path, deny)
        except EditRefused as exc:
            result.errors.append(f"{block.path}: refused: {exc}")
            continue
        key = target.relative_to(root).as_posix()
        if key not in pending:
            if target.exists() and not target.is_file():
                result.errors.append(f"{block.path}: is not a regular file")
                continue
            original = target.read_text(encoding="utf-8", errors="surrogateescape") if target.exists() else None
            originals[key] = original
            pending[key] = original or ""
        text = pending[key]
        if not block.search.strip():
            if originals[key] is not None and text.strip():
                result.errors.append(f"{block.path}: the SEARCH section is empty but the file exists; "
                                     "quote the lines to change")
                continue
            pending[key] = block.replace
            result.applied.append(block)
            continue
        found = _locate(text, block.search)
        if isinstance(found, str):
            result.errors.append(f"{block.path}: {found}")
            continue
        start, end = found
        pending[key] = text[:start] + block.replace + text[end:]
        result.applied.append(block)
    for key, text in pending.items():
        if text == (originals[key] or "") and originals[key] is not None:
            continue
        _write_atomic(root / key, text)
        result.changed_files.append(key)
        result.contents[key] = text
    return result


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ai-fix-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
