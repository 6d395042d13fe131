"""Parse the Junior's reply into edit blocks: SEARCH/REPLACE, whole-file, whole-symbol and file deletion.

The four reply syntaxes (the prompts teach them; `parse` reads all but whole-file, `parse_whole` all four):

    path/to/file.py                     path/to/new_or_small.py          path/to/file.py::Class.method
    ```python                           ```python                        ```python
    <<<<<<< SEARCH                      whole new content                def method(self):
    lines copied from the file          ```                                  return 2
    =======                                                              ```
    the new lines                       path/to/old.py
    >>>>>>> REPLACE                     <<<<<<< DELETE FILE
    ```

Models decorate the filename in many ways (backticks, bold, `#` or `//`, `File:`, a heading, the fence's info
string); the parser strips the decoration but never invents a path: an unnamed SEARCH/REPLACE block inherits the
previous block's file, anything else unnamed is reported. With `known` (the tracked files), a path that names no
tracked file is mapped to one only when unambiguous (a unique path suffix, then a unique basename); creations and
whole-file blocks keep their path as written.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from runner.edit.feedback import say

EditKind = Literal["replace", "whole", "symbol", "delete"]

_SEARCH = re.compile(r"^\s*<{5,9}\s?(?:SEARCH|ORIGINAL)\s*>?\s*$", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s?(?:REPLACE|UPDATED)\s*$", re.IGNORECASE)
_DELETE = re.compile(r"^\s*<{5,9}\s?DELETE(?:\s+FILE)?\s*>?\s*$", re.IGNORECASE)
_DELETE_CLOSE = re.compile(r"^\s*>{5,9}\s?DELETE(?:\s+FILE)?\s*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(.*?)\s*$")
_SYMBOL = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$")
_PROSE_PATH = re.compile(r"`([^`\s]+)`")
# Not `runner.file_kinds`' text files: these say when a word in the Junior's reply *is* a filename, where a
# wrong yes sends an edit to a file nobody named. So only extensions no dotted name ends with (`self.m`,
# `np.r`, `x.in` are not files), and bare names a reply edits (LICENSE, Procfile) but that are never a
# heading's word (Bazel's `build`, `workspace`).
_BARE_NAMES = {"makefile", "dockerfile", "gemfile", "rakefile", "procfile", "license", "readme", "changelog",
               "justfile", "vagrantfile", "jenkinsfile", "containerfile"}
_PROSE_EXTENSIONS = {"py", "pyi", "js", "jsx", "ts", "tsx", "mjs", "cjs", "go", "rs", "rb", "java", "kt", "c", "h",
                     "cc", "cpp", "hpp", "cs", "php", "swift", "scala", "sh", "md", "rst", "txt", "toml", "yml",
                     "yaml", "json", "cfg", "ini", "html", "css", "scss", "sql", "lua", "ex", "exs", "vue", "svelte"}
_LOOKBACK = 3


@dataclass(frozen=True)
class EditBlock:
    path: str
    search: str
    replace: str
    kind: EditKind = "replace"
    symbol: str = ""
    """For `kind="symbol"`: the qualified name inside the file, e.g. `Class.method`."""


@dataclass(frozen=True)
class ParseResult:
    blocks: list[EditBlock]
    errors: list[str]


def parse(reply: str, known: Collection[str] | None = None) -> ParseResult:
    """SEARCH/REPLACE, whole-symbol and deletion blocks; plain code blocks are ignored."""
    return _Parser(reply, whole=False).run(known)


def parse_whole(reply: str, known: Collection[str] | None = None) -> ParseResult:
    """As `parse`, and a code block under a filename with no markers in it replaces (or creates) that file."""
    return _Parser(reply, whole=True).run(known)


class _Parser:
    def __init__(self, reply: str, whole: bool) -> None:
        self.lines = reply.splitlines()
        self.whole = whole
        self.blocks: list[EditBlock] = []
        self.errors: list[str] = []
        self.current: str | None = None

    def run(self, known: Collection[str] | None) -> ParseResult:
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            if _SEARCH.match(line):
                i = self._search_replace(i)
            elif _DELETE.match(line):
                i = self._delete(i)
            elif _FENCE.match(line) and not self._fence_holds_markers(i):
                i = self._code_block(i)
            else:
                i += 1
        if known is None:
            return ParseResult(self.blocks, self.errors)
        blocks, errors = resolve_paths(self.blocks, known)
        return ParseResult(blocks, self.errors + errors)

    def _search_replace(self, start: int) -> int:
        named = _path_above(self.lines, start)
        path = named.path if named else self.current
        i, search = self._collect(start + 1, _DIVIDER)
        if i >= len(self.lines) or not _DIVIDER.match(self.lines[i]):
            self.errors.append(say("no_divider", line=start + 1, path=path or "no file"))
            return i
        i, replace = self._collect(i + 1, _REPLACE)
        if i >= len(self.lines) or not _REPLACE.match(self.lines[i]):
            self.errors.append(say("no_replace_marker", line=start + 1, path=path or "no file"))
            return i
        if path is None:
            self.errors.append(say("block_names_no_file", line=start + 1))
        elif named and named.symbol:
            self.errors.append(say("block_names_a_symbol", line=start + 1, path=named.path, symbol=named.symbol))
        else:
            self.current = path
            self.blocks.append(EditBlock(path, _join(search), _join(replace)))
        return self._past_closing_fence(i + 1)

    def _past_closing_fence(self, i: int) -> int:
        """Skip the fence that closes a block's code fence, so it is not taken for an opening one."""
        j = i
        while j < len(self.lines) and not self.lines[j].strip():
            j += 1
        return j + 1 if j < len(self.lines) and _is_bare_fence(self.lines[j]) else i

    def _collect(self, i: int, until: re.Pattern[str]) -> tuple[int, list[str]]:
        taken: list[str] = []
        markers = (_SEARCH, _DIVIDER, _REPLACE)
        while i < len(self.lines) and not until.match(self.lines[i]):
            if any(m.match(self.lines[i]) for m in markers):
                break
            taken.append(self.lines[i])
            i += 1
        return i, taken

    def _delete(self, start: int) -> int:
        named = _path_above(self.lines, start)
        if named is None or named.symbol:
            self.errors.append(say("deletion_names_no_file", line=start + 1))
        else:
            self.blocks.append(EditBlock(named.path, "", "", kind="delete"))
        nxt = start + 1
        if nxt < len(self.lines) and _DELETE_CLOSE.match(self.lines[nxt]):
            nxt += 1
        return self._past_closing_fence(nxt)

    def _fence_holds_markers(self, start: int) -> bool:
        """Whether the code block opening at `start` contains SEARCH or DELETE markers before it closes."""
        end = _closing_fence(self.lines, start)
        stop = len(self.lines) if end is None else end
        return any(_SEARCH.match(line) or _DELETE.match(line) for line in self.lines[start + 1:stop])

    def _code_block(self, start: int) -> int:
        end = _closing_fence(self.lines, start)
        named = _info_path(self.lines[start]) or _path_above(self.lines, start)
        wanted = named is not None and (bool(named.symbol) or self.whole)
        if not wanted or named is None:
            return start + 1 if end is None else end + 1
        body = self.lines[start + 1:end] if end is not None else []
        if end is None:
            self.errors.append(say("block_not_closed", line=start + 1, path=named.display))
            return len(self.lines)
        if named.symbol:
            self.blocks.append(EditBlock(named.path, "", _join(body), kind="symbol", symbol=named.symbol))
        else:
            self.blocks.append(EditBlock(named.path, "", _join(body), kind="whole"))
        return end + 1


@dataclass(frozen=True)
class _Named:
    path: str
    symbol: str = ""

    @property
    def display(self) -> str:
        return f"{self.path}::{self.symbol}" if self.symbol else self.path


def _closing_fence(lines: list[str], start: int) -> int | None:
    opening = _FENCE.match(lines[start])
    assert opening is not None
    ticks = opening.group(1)
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if stripped and set(stripped) == {ticks[0]} and len(stripped) >= len(ticks):
            return i
    return None


def _path_above(lines: list[str], index: int) -> _Named | None:
    """The filename written just above line `index`: through blank lines and the block's own opening fence."""
    may_skip_fence = not _FENCE.match(lines[index])
    looked = 0
    i = index - 1
    while i >= 0 and looked < _LOOKBACK:
        line = lines[i]
        if not line.strip():
            i -= 1
            continue
        looked += 1
        if _REPLACE.match(line) or _DIVIDER.match(line) or _SEARCH.match(line) or _DELETE_CLOSE.match(line):
            return None
        if _FENCE.match(line):
            info = _info_path(line)
            if info or not may_skip_fence:
                return info  # a second fence closes some earlier block: what is above it is not ours
            may_skip_fence = False
            i -= 1
            continue
        return _clean_filename(line)
    return None


def _is_bare_fence(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 3 and set(stripped) in ({"`"}, {"~"})


def _info_path(line: str) -> _Named | None:
    """A path in a fence's info string: ```python path/x.py, ```path/x.py, ```py:path/x.py, ```py title="x.py"."""
    fence = _FENCE.match(line)
    if not fence or not fence.group(2):
        return None
    for token in fence.group(2).split():
        token = token.split("=", 1)[1] if "=" in token else token
        token = token.split(":", 1)[1] if re.match(r"^\w+:[^:]", token) else token
        named = _as_path(token.strip("\"'`"))
        if named and ("." in named.path or "/" in named.path or named.symbol):
            return named
    return None


def _clean_filename(line: str) -> _Named | None:
    text = line.strip()
    text = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", text)  # list bullets
    text = re.sub(r"^<!--\s*(.*?)\s*-->$", r"\1", text)
    text = re.sub(r"^/\*+\s*(.*?)\s*\*+/$", r"\1", text)
    text = re.sub(r"^(?:#+|//+|--|;+)\s*", "", text)  # headings and line comments
    text = text.strip().strip("*").strip()
    text = re.sub(r"^(?:file\s*name|file|path|filepath)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = text.strip("*").strip().rstrip(":").strip().strip("*`'\"").rstrip(":").strip()
    named = _as_path(text)
    if named:
        return named
    return _prose_path(line)


def _prose_path(line: str) -> _Named | None:
    """`Then in `pkg/mod.py`:`: a single backticked path in a short line of prose ending with a colon."""
    if not line.rstrip().rstrip("*").endswith(":"):
        return None
    tokens = _PROSE_PATH.findall(line)
    if len(tokens) != 1:
        return None
    named = _as_path(tokens[0])
    if named is None:
        return None
    ext = named.path.rsplit(".", 1)[-1].lower() if "." in named.path else ""
    return named if ("/" in named.path or ext in _PROSE_EXTENSIONS) else None


def _as_path(text: str) -> _Named | None:
    if not text or len(text) > 300 or any(c.isspace() for c in text) or text[0] in "<=>`~":
        return None
    path, _, symbol = text.partition("::")
    if symbol and not _SYMBOL.match(symbol):
        return None
    path = normalize_path(path)
    if not path or not re.search(r"[\w]", path):
        return None
    base = path.rsplit("/", 1)[-1]
    if "." not in base and "/" not in path and base.lower() not in _BARE_NAMES:
        return None
    return _Named(path, symbol)


def normalize_path(path: str) -> str:
    """Backslashes to slashes and no leading `./`; confinement still checks the result."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return re.sub(r"/{2,}", "/", path)


def resolve_paths(blocks: list[EditBlock], known: Collection[str]) -> tuple[list[EditBlock], list[str]]:
    """Map each path to a tracked file when unambiguous; report the paths that cannot be mapped."""
    tracked = set(known)
    out: list[EditBlock] = []
    errors: list[str] = []
    for block in blocks:
        creates = block.kind == "whole" or (block.kind == "replace" and not block.search.strip())
        if block.path in tracked or creates:
            out.append(block)
            continue
        found = _resolve(block.path, tracked)
        if isinstance(found, str) and block.kind != "delete":
            out.append(EditBlock(found, block.search, block.replace, block.kind, block.symbol))
            continue
        candidates = [found] if isinstance(found, str) else found
        if block.kind == "delete":
            errors.append(say("no_file_to_delete", path=block.path, candidates=candidates))
        elif candidates:
            errors.append(say("path_could_be_several", path=block.path, candidates=candidates))
        else:
            errors.append(say("no_such_path", path=block.path))
    return out, errors


def _resolve(path: str, tracked: set[str]) -> str | list[str]:
    """The unique tracked file meant by `path`, or the candidates (none or several)."""
    suffix = sorted(t for t in tracked if t.endswith("/" + path) or path.endswith("/" + t))
    if len(suffix) == 1:
        return suffix[0]
    if suffix:
        return suffix
    base = path.rsplit("/", 1)[-1]
    same = sorted(t for t in tracked if t.rsplit("/", 1)[-1] == base)
    return same[0] if len(same) == 1 else same


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""
