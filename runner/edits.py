"""Parse SEARCH/REPLACE blocks (aider's widely used format) out of a model's reply.

Models decorate the filename line in many ways (backticks, `#`, bold, a trailing colon, a
language fence after it); the parser strips the decoration but never guesses a path that is not
written: an unnamed block inherits the previous block's file, or is reported as an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH>?\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_FILENAME_PREFIXES = ("file:", "filename:", "path:")


@dataclass(frozen=True)
class EditBlock:
    path: str
    search: str
    replace: str


@dataclass(frozen=True)
class ParseResult:
    blocks: list[EditBlock]
    errors: list[str]


def _clean_filename(line: str) -> str | None:
    text = line.strip()
    if not text or _FENCE.match(text) and not text.strip("`~").strip():
        return None
    text = re.sub(r"^(`{3,}|~{3,})\w*\s*", "", text)  # "```python path.py" style
    text = text.strip().strip("*").strip()
    for prefix in ("#", "//", "--", ";"):
        if text.startswith(prefix):
            text = text.lstrip(prefix[0]).strip()
    lowered = text.lower()
    for prefix in _FILENAME_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix):].strip()
    text = text.strip("`'\"*").rstrip(":").strip().strip("`'\"")
    if not text or " " in text or len(text) > 300:
        return None
    return text


def _filename_before(lines: list[str], index: int) -> str | None:
    """Look back up to three non-fence lines above a SEARCH marker for the filename."""
    looked = 0
    i = index - 1
    while i >= 0 and looked < 3:
        line = lines[i]
        if _FENCE.match(line) and not _clean_filename(line):
            i -= 1
            continue
        if not line.strip():
            i -= 1
            looked += 1
            continue
        return _clean_filename(line)
    return None


def parse(reply: str) -> ParseResult:
    lines = reply.splitlines()
    blocks: list[EditBlock] = []
    errors: list[str] = []
    current_path: str | None = None
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        path = _filename_before(lines, i) or current_path
        start = i
        i += 1
        search: list[str] = []
        while i < len(lines) and not _DIVIDER.match(lines[i]):
            if _SEARCH.match(lines[i]) or _REPLACE.match(lines[i]):
                break
            search.append(lines[i])
            i += 1
        if i >= len(lines) or not _DIVIDER.match(lines[i]):
            errors.append(f"block starting at line {start + 1} has no ======= divider")
            continue
        i += 1
        replace: list[str] = []
        while i < len(lines) and not _REPLACE.match(lines[i]):
            if _SEARCH.match(lines[i]) or _DIVIDER.match(lines[i]):
                break
            replace.append(lines[i])
            i += 1
        if i >= len(lines) or not _REPLACE.match(lines[i]):
            errors.append(f"block starting at line {start + 1} has no >>>>>>> REPLACE line")
            continue
        i += 1
        if path is None:
            errors.append(f"block starting at line {start + 1} names no file: put the path on the line "
                          "before the opening fence")
            continue
        current_path = path
        blocks.append(EditBlock(path, _join(search), _join(replace)))
    return ParseResult(blocks, errors)


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""
