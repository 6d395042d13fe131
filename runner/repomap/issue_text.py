"""What an issue names: file paths, stack-trace frames, module paths, identifiers, error messages.

Pure text processing, no knowledge of any repository. Each mention carries a weight saying how
sure we are that the author meant code: a name in a traceback or in backticks counts more than
a word in prose that merely looks like an identifier.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from runner.repomap.tags import split_identifier

# How much a mention counts, by where it was found (relative; only the ordering is meaningful).
FRAME = 3.0  # a stack-trace frame of the code that failed
CODE = 2.0  # inside backticks or a fenced / indented code block
PROSE = 1.0  # plain text that looks like code (snake_case, CamelCase, dotted, called)

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_TICKS = re.compile(r"`([^`\n]+)`")
_PY_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([\w<>.]+))?')
_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/|\\)*[\w.-]*[\w-]\.(?:[A-Za-z][A-Za-z0-9]{0,7}))(?::(\d+))?(?![\w/])")
_PATHY = re.compile(r"[\w.-]+(?:[/\\][\w.-]+)+")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w., ()*]+)|import\s+([\w.]+)(?:\s+as\s+(\w+))?)", re.M)
_DOTTED = re.compile(r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")
_IDENT = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_ERROR = re.compile(
    r"^\s*(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt|Failure|Fault))\b:?\s*(.*)$", re.M)
_CODE_EXT = ("py", "pyi", "js", "jsx", "ts", "tsx", "mjs", "go", "rs", "java", "c", "h", "cc", "cpp", "hpp", "rb",
             "cfg", "toml", "ini", "yml", "yaml", "json", "rst", "md", "txt", "kt", "scala", "php", "cs", "swift")
_PROSE_STOP = {"e.g", "i.e", "etc", "vs", "http", "https", "www", "com", "org", "github"}


@dataclass
class Mentions:
    """Everything an issue names, each with a weight (the strongest place it was seen)."""

    paths: dict[str, float] = field(default_factory=dict)  # path or path tail as written, normalised to "/"
    frames: list[tuple[str, str]] = field(default_factory=list)  # (path, function), outermost first
    modules: dict[str, float] = field(default_factory=dict)  # dotted names that may be module paths
    idents: dict[str, float] = field(default_factory=dict)  # identifiers as written
    qualified: dict[tuple[str, str], float] = field(default_factory=dict)  # (owner, member) from `A.b`
    errors: list[str] = field(default_factory=list)  # error messages (text after `SomeError:`)
    words: dict[str, float] = field(default_factory=dict)  # lower-cased words and identifier parts, with counts
    title: dict[str, float] = field(default_factory=dict)  # the same for the first line, the summary
    normalised: str = ""  # the whole text, lower case, white space collapsed (for verbatim matches)

    def add(self, table: dict[str, float], key: str, weight: float) -> None:
        if weight > table.get(key, 0.0):
            table[key] = weight


def _code_regions(text: str) -> tuple[list[str], str]:
    """(code snippets, prose with the code taken out)."""
    code: list[str] = []

    def take(match: re.Match[str]) -> str:
        code.append(match.group(0).strip("`"))
        return " "

    prose = _FENCE.sub(take, text)
    prose = _TICKS.sub(take, prose)
    kept: list[str] = []
    for line in prose.split("\n"):  # indented blocks and REPL lines are code too
        if line.startswith(("    ", "\t", ">>> ", "... ")) or _PY_FRAME.search(line):
            code.append(line)
        else:
            kept.append(line)
    return code, "\n".join(kept)


def _looks_like_code(word: str) -> bool:
    return "_" in word.strip("_") or bool(re.search(r"[a-z][A-Z]|[A-Z]{2,}[a-z]", word)) or word.startswith("__")


_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
# Environment dumps (pip list, conda list, show_versions(), "key: version" tables) name every
# installed package and say nothing about where the bug is.
_ENV_LINE = re.compile(
    r"^\s*[\w.\-\[\]]+(?:\s{2,}|\s*[:=]=?\s*|\s+)(?:v?\d+(?:\.\w+)+\S*|None|\d+)(?:\s+\S+)?\s*$", re.M)


_KEY_VALUE = re.compile(r"^\s*[\w .\-/()]{1,40}:\s+(\S.{0,80})$")
_VERSIONISH = re.compile(r"^(v?\d+(\.\w+)+\S*|None|True|False|\d+|\(.*\))\s*$")


def _drop_tables(text: str) -> str:
    """Drop runs of 5+ `key: value` lines where many values are versions or None (show_versions())."""
    lines = text.split("\n")
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and _KEY_VALUE.match(lines[j]):
            j += 1
        if j - i >= 5:
            values = [_KEY_VALUE.match(line).group(1) for line in lines[i:j]]  # type: ignore[union-attr]
            if sum(1 for v in values if _VERSIONISH.match(v)) >= 0.4 * len(values):
                keep[i:j] = [False] * (j - i)
        i = max(j, i + 1)
    return "\n".join(line for line, k in zip(lines, keep, strict=True) if k)


def clean(text: str) -> str:
    """The issue without HTML comments (template instructions) and environment dumps."""
    return _drop_tables(_ENV_LINE.sub("", _COMMENT.sub(" ", text)))


def word_counts(text: str) -> dict[str, float]:
    """Lower-cased words with their counts; an identifier counts whole and by its parts."""
    counts: dict[str, float] = defaultdict(float)
    for raw in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
        lower = raw.lower()
        counts[lower] += 1
        for part in split_identifier(raw):
            if part != lower:
                counts[part] += 1
    return dict(counts)


def extract(text: str) -> Mentions:
    text = clean(text)
    m = Mentions()
    m.normalised = " ".join(text.lower().split())
    code, prose = _code_regions(text)
    code_text = "\n".join(code)

    for match in _PY_FRAME.finditer(text):
        path, func = match.group(1).replace("\\", "/"), match.group(3) or ""
        m.frames.append((path, func))
        m.add(m.paths, path, FRAME)
        if func and not func.startswith("<"):
            m.add(m.idents, func, FRAME)
    for source, weight in ((code_text, CODE), (prose, PROSE)):
        for match in _PATH.finditer(source):
            path = match.group(1).replace("\\", "/")
            ext = path.rsplit(".", 1)[-1].lower()
            if ext in _CODE_EXT or "/" in path:
                written = path[2:] if path.startswith("./") else path
                m.add(m.paths, written, weight + (0.5 if "/" in path else 0))
        for match in _PATHY.finditer(source):  # directories or extension-less paths, e.g. src/_pytest
            if "://" not in source[max(0, match.start() - 3) : match.start()] and "." not in match.group(0)[-5:]:
                m.add(m.paths, match.group(0).replace("\\", "/"), weight * 0.5)

    aliases: dict[str, str] = {}
    for match in _IMPORT.finditer(code_text):
        if match.group(1):
            module = match.group(1)
            m.add(m.modules, module, CODE)
            for name in re.findall(r"\w+", match.group(2)):
                if name != "as":
                    m.add(m.modules, f"{module}.{name}", CODE)
                    m.add(m.idents, name, CODE)
        else:
            m.add(m.modules, match.group(3), CODE)
            if match.group(4):
                aliases[match.group(4)] = match.group(3)

    for source, weight in ((code_text, CODE), (prose, PROSE)):
        for match in _DOTTED.finditer(source):
            dotted = match.group(1)
            parts = dotted.split(".")
            if parts[0] in aliases:
                dotted = aliases[parts[0]] + dotted[len(parts[0]) :]
                parts = dotted.split(".")
            if len(parts) > 1 and parts[-1].lower() in _CODE_EXT and "/" not in dotted:
                continue  # a file name, handled as a path
            m.add(m.modules, dotted, weight)
            for owner, member in zip(parts, parts[1:], strict=False):
                m.qualified[(owner, member)] = max(weight, m.qualified.get((owner, member), 0.0))
            for part in parts[1:]:
                m.add(m.idents, part, weight)
            if parts[0] not in aliases.values():
                m.add(m.idents, parts[0], weight * 0.5)
        for match in _CALL.finditer(source):
            m.add(m.idents, match.group(1), weight)
    for ident in _IDENT.findall(code_text):
        m.add(m.idents, ident, CODE if _looks_like_code(ident) or len(code) else PROSE)
    for ident in _IDENT.findall(prose):
        if _looks_like_code(ident) and ident.lower() not in _PROSE_STOP:
            m.add(m.idents, ident, PROSE)

    for match in _ERROR.finditer(text):
        name, message = match.group(1), match.group(2).strip()
        m.add(m.idents, name.rsplit(".", 1)[-1], CODE)
        if len(message) >= 12:
            m.errors.append(message)

    m.words = word_counts(text)
    m.title = word_counts(text.strip().split("\n", 1)[0])
    return m
