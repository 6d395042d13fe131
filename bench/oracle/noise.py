"""Turn a unified diff into Junior-style replies, clean or with the noise real models add (for `bench/oracle`).

`diff_to_blocks` expresses a gold patch as SEARCH/REPLACE blocks that reproduce it exactly: each hunk's
lines, widened with more context until the ladder finds them in exactly one place of the file as it is
when that block applies. `render` writes the blocks as a reply, optionally with one kind of noise:

- `clean`: as the prompt asks.
- `shifted_indent`: SEARCH and REPLACE moved by one uniform indentation offset (dedented, or 4 columns deeper).
- `trailing_spaces`: trailing whitespace added to SEARCH lines, and dropped where the file had some.
- `elided_middle`: the longest unchanged run inside a block replaced by a `...` line in SEARCH and REPLACE.
- `no_filename_fence`: no code fences at all, and the filename only on a file's first block.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from runner.edit.match import Found, locate
from runner.edit.parse import EditBlock

NOISES = ("clean", "shifted_indent", "trailing_spaces", "elided_middle", "no_filename_fence")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_KEPT = 2
"""Lines of an unchanged run kept on each side of a `...`, so each quoted piece stays recognisable."""


class DiffError(ValueError):
    """The diff cannot be expressed as edit blocks (or does not apply to the files given)."""


@dataclass
class _Hunk:
    old_start: int
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


@dataclass
class _FileDiff:
    old_path: str | None
    new_path: str | None
    hunks: list[_Hunk] = field(default_factory=list)
    final_newline_changes: bool = False


def diff_to_blocks(patch: str, read_file: Callable[[str], str | None], context: int = 0) -> list[EditBlock]:
    """Blocks that turn the files `read_file` returns into the patched files, in order.

    Each block is the hunk (with the diff's own context lines) plus `context` more lines each side, widened
    further when needed to be unique; a long `context` gives `elided_middle` something to elide.
    """
    blocks: list[EditBlock] = []
    for diff in _parse_diff(patch):
        if diff.final_newline_changes:
            raise DiffError(f"{diff.new_path or diff.old_path}: the patch changes the final newline, which "
                            "SEARCH/REPLACE cannot express")
        if diff.old_path is None:
            assert diff.new_path is not None
            blocks.append(EditBlock(diff.new_path, "", "".join(line + "\n" for h in diff.hunks for line in h.new)))
            continue
        if diff.new_path is None:
            blocks.append(EditBlock(diff.old_path, "", "", kind="delete"))
            continue
        text = read_file(diff.old_path)
        if text is None:
            raise DiffError(f"{diff.old_path}: not found")
        if diff.new_path != diff.old_path:
            final = _apply_hunks(text.splitlines(), diff)
            blocks.append(EditBlock(diff.old_path, "", "", kind="delete"))
            blocks.append(EditBlock(diff.new_path, "", "".join(line + "\n" for line in final)))
            continue
        blocks.extend(_file_blocks(diff.old_path, text, diff, context))
    return blocks


def _parse_diff(patch: str) -> list[_FileDiff]:
    diffs: list[_FileDiff] = []
    lines = patch.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            diffs.append(_FileDiff(_diff_path(line[4:]), _diff_path(lines[i + 1][4:])))
            i += 2
            continue
        hunk = _HUNK.match(line)
        if hunk and diffs:
            i = _read_hunk(lines, i + 1, int(hunk.group(1)), int(hunk.group(2) or "1"),
                           int(hunk.group(4) or "1"), diffs[-1])
            continue
        i += 1
    return diffs


def _read_hunk(lines: list[str], i: int, old_start: int, old_count: int, new_count: int, diff: _FileDiff) -> int:
    hunk = _Hunk(old_start if old_count else old_start + 1)
    diff.hunks.append(hunk)
    last = ""
    no_newline: set[str] = set()
    while i < len(lines) and (len(hunk.old) < old_count or len(hunk.new) < new_count or lines[i].startswith("\\")):
        line = lines[i]
        if line.startswith("\\"):
            no_newline.add(last)
        else:
            tag, text = line[:1], line[1:].rstrip("\r")
            if tag in (" ", ""):
                hunk.old.append(text)
                hunk.new.append(text)
                last = " "
            elif tag == "-":
                hunk.old.append(text)
                last = "-"
            elif tag == "+":
                hunk.new.append(text)
                last = "+"
        i += 1
    old_lacks, new_lacks = bool(no_newline & {" ", "-"}), bool(no_newline & {" ", "+"})
    if old_lacks != new_lacks:
        diff.final_newline_changes = True
    return i


def _diff_path(text: str) -> str | None:
    path = text.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def _hunk_at(current: list[str], hunk: _Hunk, guess: int, path: str) -> int:
    """Where the hunk's old lines stand: at the stated line, else the nearest exact match, as `git apply`
    finds hunks whose line numbers are off (patches made against a slightly different file)."""
    size = len(hunk.old)
    for distance in range(len(current) + 1):
        for at in (guess - distance, guess + distance) if distance else (guess,):
            if 0 <= at <= len(current) - size and current[at:at + size] == hunk.old:
                return at
    raise DiffError(f"{path}: the hunk at line {hunk.old_start} does not apply")


def _apply_hunks(lines: list[str], diff: _FileDiff) -> list[str]:
    current, offset = [line.rstrip("\r") for line in lines], 0
    for hunk in diff.hunks:
        at = _hunk_at(current, hunk, hunk.old_start - 1 + offset, diff.old_path or "")
        current[at:at + len(hunk.old)] = hunk.new
        offset = at - (hunk.old_start - 1) + len(hunk.new) - len(hunk.old)
    return current


def _file_blocks(path: str, text: str, diff: _FileDiff, context: int) -> list[EditBlock]:
    current = [line.rstrip("\r") for line in text.lstrip("\ufeff").splitlines()]
    blocks: list[EditBlock] = []
    offset = 0
    for hunk in diff.hunks:
        at = _hunk_at(current, hunk, hunk.old_start - 1 + offset, path)
        blocks.append(_unique_block(path, current, at, hunk, context))
        current[at:at + len(hunk.old)] = hunk.new
        offset = at - (hunk.old_start - 1) + len(hunk.new) - len(hunk.old)
    return blocks


def _unique_block(path: str, current: list[str], at: int, hunk: _Hunk, context: int) -> EditBlock:
    """The hunk as a block, widened with context until the ladder applies it at `at` and nowhere else."""
    end = at + len(hunk.old)
    for extra in range(context, max(context, len(current)) + 1):
        top, bottom = max(0, at - extra), min(len(current), end + extra)
        search = current[top:bottom]
        replace = current[top:at] + hunk.new + current[end:bottom]
        if not search and current:
            continue
        found = locate(current, _text(search), _text(replace)) if current else None
        if found is None or (isinstance(found, Found) and (found.start, found.end, found.lines)
                             == (top, bottom, replace)):
            return EditBlock(path, _text(search), _text(replace))
    raise DiffError(f"{path}: no unique SEARCH text for the hunk at line {hunk.old_start}")


def _text(lines: Sequence[str]) -> str:
    return "".join(line + "\n" for line in lines)


def render(blocks: Sequence[EditBlock], noise: str = "clean") -> str:
    """A Junior reply holding `blocks`, with one kind of noise (see `NOISES`)."""
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; one of {', '.join(NOISES)}")
    parts: list[str] = []
    previous: str | None = None
    for block in blocks:
        search, replace = _noisy(block, noise) if block.kind == "replace" and block.search else (
            block.search, block.replace)
        name = f"{block.path}::{block.symbol}" if block.kind == "symbol" else block.path
        fenced = noise != "no_filename_fence"
        named = fenced or block.path != previous or block.kind != "replace"
        previous = block.path
        parts.append(_render_one(block.kind, name if named else None, search, replace, fenced))
    return "\n".join(parts)


def _render_one(kind: str, name: str | None, search: str, replace: str, fenced: bool) -> str:
    fence = _fence(search + replace)
    head = f"{name}\n" if name else ""
    if kind == "delete":
        body = "<<<<<<< DELETE FILE\n"
    elif kind in ("whole", "symbol"):
        return f"{head}{fence}\n{replace}{fence}\n"
    else:
        body = f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
    return f"{head}{fence}\n{body}{fence}\n" if fenced else head + body


def _fence(text: str) -> str:
    fence = "```"
    while any(line.lstrip().startswith(fence) for line in text.splitlines()):
        fence += "`"
    return fence


def _noisy(block: EditBlock, noise: str) -> tuple[str, str]:
    if noise == "shifted_indent":
        return _shifted(block.search, block.replace)
    if noise == "trailing_spaces":
        lines = block.search.splitlines()
        noisy = [line.rstrip() if line != line.rstrip() else (line + "  " if i % 2 == 0 and line else line)
                 for i, line in enumerate(lines)]
        return _text(noisy), block.replace
    if noise == "elided_middle":
        return _elided(block.search, block.replace)
    return block.search, block.replace


def _shifted(search: str, replace: str) -> tuple[str, str]:
    both = search + replace
    dedented = textwrap.dedent(both)
    if dedented != both:
        cut = len(search.splitlines())
        lines = dedented.splitlines()
        return _text(lines[:cut]), _text(lines[cut:])
    return textwrap.indent(search, "    "), textwrap.indent(replace, "    ")


def _elided(search: str, replace: str) -> tuple[str, str]:
    """Replace the middle of the longest unchanged run by `...`, keeping two lines of it on each side."""
    old, new = search.splitlines(), replace.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    runs = sorted(((size, a, b) for a, b, size in matcher.get_matching_blocks() if size >= 2 * _KEPT + 1),
                  reverse=True)
    for size, a, b in runs:
        cut = size - 2 * _KEPT
        head, tail = old[:a + _KEPT], old[a + _KEPT + cut:]
        if any(line.strip() for line in head) and any(line.strip() for line in tail):
            return (_text([*head, "...", *tail]), _text([*new[:b + _KEPT], "...", *new[b + _KEPT + cut:]]))
    return search, replace
