"""Apply parsed edits to a worktree: confined, unambiguous, dry-run first, written atomically.

Every path comes from an LLM and is treated as hostile: no absolute paths, no `..`, no symlinks
out of the tree, nothing under `.git/` or `.github/workflows/`, nothing the repository denies.
Every block is tried against in-memory copies first; a block that fails is reported and the others
still apply (a partial edit); then each changed file is written atomically. A file keeps its line
endings (CRLF stays CRLF), its byte-order mark, its missing final newline and its mode.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from runner.edit.feedback import say
from runner.edit.match import Found, Miss, is_elision, locate, quote
from runner.edit.parse import EditBlock, normalize_path
from runner.edit.symbols import replace_symbol

ALWAYS_DENIED = (".git", ".git/**", "**/.git/**", ".github/workflows/**")
_BOM = "\ufeff"


class EditRefused(Exception):
    """The edit's path may not be touched; the message, written for the model, says why."""


@dataclass(frozen=True)
class EditFailure:
    number: int
    """1-based position of the block in the reply."""
    block: EditBlock
    kind: str
    """`refused`, `missing_file`, `not_found`, `ambiguous`, `already_applied`, `malformed`, `write_failed`."""
    message: str


@dataclass
class ApplyResult:
    applied: list[EditBlock] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """One precise message per failed block, written for the model."""
    changed_files: list[str] = field(default_factory=list)
    """Every file written or deleted, as a posix path relative to the root."""
    contents: dict[str, str] = field(default_factory=dict)
    """Final text of every changed (not deleted) file: what gets committed, whatever the sandbox does later."""
    deleted: list[str] = field(default_factory=list)
    failures: list[EditFailure] = field(default_factory=list)
    applied_numbers: list[int] = field(default_factory=list)
    """1-based positions of the applied blocks, to tell the model which ones not to send again."""

    def fail(self, number: int, block: EditBlock, kind: str, message: str, total: int) -> None:
        quoted = block.kind == "replace" and bool(block.search.strip()) and kind not in ("refused", "missing_file")
        text = say("block_failed", number=number, total=total, path=block.path,
                   symbol=block.symbol if block.kind == "symbol" else None, reason=message,
                   search=quote(block.search.splitlines()) if quoted else "")
        self.failures.append(EditFailure(number, block, kind, text))
        self.errors.append(text)


def confine(root: Path, rel: str, deny: Sequence[str] = ()) -> Path:
    """Return the absolute path for `rel` inside `root`, or raise `EditRefused`."""
    if not rel or "\x00" in rel:
        raise EditRefused(say("invalid_path"))
    posix = PurePosixPath(rel.replace("\\", "/"))
    if posix.is_absolute() or rel.startswith("~") or (len(rel) > 1 and rel[1] == ":"):
        raise EditRefused(say("absolute_path", path=rel))
    if any(part == ".." for part in posix.parts):
        raise EditRefused(say("parent_path", path=rel))
    normal = str(posix)
    if any(part.lower() == ".git" for part in posix.parts):
        raise EditRefused(say("git_path", path=rel))
    folded = normal.lower()
    checks = [(folded, pattern) for pattern in ALWAYS_DENIED] + [(normal, pattern) for pattern in deny]
    for probe, pattern in checks:
        if fnmatch.fnmatchcase(probe, pattern) or fnmatch.fnmatchcase(probe, pattern.rstrip("/") + "/*"):
            if folded.startswith(".github/workflows"):
                raise EditRefused(say("workflow_path", path=rel))
            raise EditRefused(say("denied_path", path=rel, pattern=pattern))
    target = root / normal
    real_root = root.resolve()
    probe_path = real_root
    for part in posix.parts:
        probe_path = probe_path / part
        if probe_path.is_symlink():
            raise EditRefused(say("symlink_path", path=rel))
    if not str(target.resolve()).startswith(str(real_root) + os.sep):
        raise EditRefused(say("outside_path", path=rel))
    return target


@dataclass
class _File:
    """One file's in-memory state during the dry run."""

    original: str | None
    lines: list[str] | None
    """Lines with their endings, without the BOM; None once deleted (or never existing)."""
    bom: bool = False

    @classmethod
    def load(cls, text: str | None) -> _File:
        if text is None:
            return cls(None, None)
        bom = text.startswith(_BOM)
        return cls(text, (text[1:] if bom else text).splitlines(keepends=True), bom)

    @property
    def newline(self) -> str:
        lines = self.lines or []
        crlf = sum(1 for line in lines if line.endswith("\r\n"))
        return "\r\n" if crlf and crlf * 2 >= sum(1 for line in lines if line.endswith("\n")) else "\n"

    def body(self) -> list[str]:
        return [line.rstrip("\r\n") for line in self.lines or []]

    def text(self) -> str | None:
        return None if self.lines is None else (_BOM if self.bom else "") + "".join(self.lines)

    def splice(self, found: Found) -> None:
        lines = self.lines or []
        newline = self.newline
        new = [line + newline for line in found.lines]
        if found.end == len(lines) and lines and not lines[-1].endswith("\n") and new:
            new[-1] = new[-1][:-len(newline)]
        self.lines = lines[:found.start] + new + lines[found.end:]

    def replace_all(self, text: str) -> None:
        newline = self.newline if self.lines else "\n"
        body = text[1:] if text.startswith(_BOM) else text
        self.lines = [line.rstrip("\r\n") + newline if line.endswith("\n") else line
                      for line in body.splitlines(keepends=True)]


def apply_edits(root: Path, blocks: Sequence[EditBlock], deny: Sequence[str] = ()) -> ApplyResult:
    """Dry-run every block against in-memory copies, then write each changed file atomically."""
    result = ApplyResult()
    files: dict[str, _File] = {}
    total = len(blocks)
    for number, block in enumerate(blocks, start=1):
        try:
            target = confine(root, normalize_path(block.path), deny)
        except EditRefused as exc:
            why = str(exc).removeprefix(f"{block.path}: ")  # the failure line names the path already
            result.fail(number, block, "refused", say("refused", reason=why), total)
            continue
        key = target.relative_to(root).as_posix()
        if key not in files:
            loaded = _read(target)
            if isinstance(loaded, tuple):
                result.fail(number, block, *loaded, total)
                continue
            files[key] = _File.load(loaded)
        problem = _apply_one(files[key], block)
        if problem is None:
            result.applied.append(block)
            result.applied_numbers.append(number)
        else:
            result.fail(number, block, problem.kind, problem.message, total)
    _write(root, files, result, total)
    return result


def _read(target: Path) -> str | None | tuple[str, str]:
    if not target.exists():
        return None
    if not target.is_file():
        return "malformed", say("not_a_regular_file")
    data = target.read_bytes()
    if b"\x00" in data[:8192]:
        return "malformed", say("binary_file")
    return data.decode("utf-8", "surrogateescape")


def _apply_one(file: _File, block: EditBlock) -> Miss | None:
    if block.kind == "delete":
        if file.lines is None:
            return Miss("missing_file", say("nothing_to_delete"))
        file.lines = None
        return None
    if block.kind == "whole":
        placeholder = next((line for line in block.replace.splitlines() if _is_placeholder(line)), None)
        if placeholder is not None:
            return Miss("malformed", say("whole_file_placeholder", placeholder=placeholder.strip()))
        file.replace_all(block.replace)
        return None
    if block.kind == "replace" and not block.search.strip():
        if file.lines is not None and "".join(file.lines).strip():
            return Miss("malformed", say("search_empty_file_not_empty"))
        file.replace_all(block.replace)
        return None
    if file.lines is None:
        return Miss("missing_file", say("missing_file", deleted=file.original is not None))
    if block.kind == "symbol":
        found = replace_symbol(file.body(), block.path, block.symbol, block.replace)
    else:
        found = locate(file.body(), block.search, block.replace)
    if isinstance(found, Miss):
        return found
    file.splice(found)
    return None


def _is_placeholder(line: str) -> bool:
    words = ("rest of", "existing code", "unchanged", "remaining", "same as before", "omitted")
    return is_elision(line) and any(word in line.lower() for word in words)


def _write(root: Path, files: dict[str, _File], result: ApplyResult, total: int) -> None:
    for key, file in files.items():
        text = file.text()
        if text == file.original:
            continue
        try:
            if text is None:
                (root / key).unlink()
                result.deleted.append(key)
            else:
                _write_atomic(root / key, text)
                result.contents[key] = text
        except OSError as exc:
            for number, block in list(zip(result.applied_numbers, result.applied, strict=True)):
                if normalize_path(block.path) == key:
                    result.applied.remove(block)
                    result.applied_numbers.remove(number)
                    result.fail(number, block, "write_failed", say("write_failed", path=key, error=exc.strerror),
                                total)
            continue
        result.changed_files.append(key)


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
