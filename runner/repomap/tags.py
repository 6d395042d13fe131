"""Tags of one file: its definitions (with scopes and signature lines), the names it references,
and the words it contains. Pure functions of the file's bytes, so they can be cached by blob id.

Parsing uses tree-sitter grammars bundled in tree-sitter-language-pack (no download at run time)
and our own queries in `queries/<language>.scm`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from runner.repomap.languages import tag_language

VERSION = 5  # bump when what is extracted changes: old cache rows are then ignored
MAX_SIG = 160
_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]|\{[^{}]*\}|\$\{[^{}]*\}|\\[nt]|\n")
_SPACES = re.compile(r"\s+")
CHUNK_LINES = 40  # lexical matching also per window, so words must meet in one place, not across a big file
MIN_FRAGMENT = 8  # shorter pieces of strings ("utf-8", "r") say nothing about where a message comes from
MAX_LITERAL = 300  # longer strings are docs, not messages
MAX_FRAGMENTS = 2000
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    kind: str  # class, function, method, constant, field, type, ...
    line: int  # 0-based first line
    end_line: int
    parent: int  # index of the enclosing definition in the same file, -1 at top level
    sig: str  # the definition's first line(s), stripped on the right


@dataclass(slots=True)
class FileTags:
    defs: list[Definition] = field(default_factory=list)
    refs: dict[str, int] = field(default_factory=dict)  # referenced name -> count
    terms: dict[str, int] = field(default_factory=dict)  # lower-cased word -> count
    lines: int = 0
    parsed: bool = False  # a grammar and query ran on it
    literals: list[str] = field(default_factory=list)  # fragments of string literals (messages, options)
    chunks: list[dict[str, int]] = field(default_factory=list)  # words of each CHUNK_LINES-line window

    def dump(self) -> tuple[Any, ...]:
        defs = [(d.name, d.kind, d.line, d.end_line, d.parent, d.sig) for d in self.defs]
        return (defs, self.refs, self.terms, self.lines, self.parsed, self.literals, self.chunks)

    @classmethod
    def load(cls, raw: tuple[Any, ...]) -> FileTags:
        defs, refs, terms, lines, parsed, literals, chunks = raw
        return cls([Definition(*d) for d in defs], refs, terms, lines, parsed, literals, chunks)


@lru_cache(maxsize=1 << 17)
def split_identifier(word: str) -> tuple[str, ...]:
    """`get_ranked_tags` -> (get, ranked, tags); `HTTPError` -> (http, error). Parts of one char are dropped."""
    if word.isalpha() and (word.islower() or word[1:].islower()):
        return (word.lower(),) if len(word) > 1 else ()
    return tuple(p.lower() for chunk in word.split("_") if chunk for p in _CAMEL.findall(chunk) if len(p) > 1)


_TERMS: dict[bytes, tuple[str, ...]] = {}  # raw word -> its terms; identifiers repeat across a repository's files


def _terms(raw: bytes) -> tuple[str, ...]:
    if len(_TERMS) >= 1 << 18:
        _TERMS.clear()
    word = raw.decode("ascii")
    lower = word.lower()
    found = _TERMS[raw] = (lower, *(p for p in split_identifier(word) if p != lower))
    return found


def words(data: bytes) -> dict[str, int]:
    """Lower-cased words and, for compound identifiers, their parts (each part once per occurrence)."""
    out: dict[str, int] = {}
    get = out.get
    for raw, n in Counter(_WORD.findall(data)).items():
        for term in _TERMS.get(raw) or _terms(raw):
            out[term] = get(term, 0) + n
    return out


def normalise(text: str) -> str:
    """Lower case, runs of white space as one space: how literals and issue text are compared."""
    return _SPACES.sub(" ", text).strip().lower()


def fragments(literal: str) -> list[str]:
    """The constant pieces of a string literal: split at format placeholders and line breaks."""
    if len(literal) > MAX_LITERAL:
        return []
    out = []
    for piece in _PLACEHOLDER.split(literal):
        piece = normalise(piece).strip(" '\"`:.,;()[]")
        if len(piece) >= MIN_FRAGMENT:
            out.append(piece)
    return out


# Grammars whose node names are another's: TSX is TypeScript plus JSX, so TypeScript's query serves it.
_QUERY_OF = {"tsx": "typescript"}


@cache
def _query(language: str) -> tuple[Any, Any] | None:
    from tree_sitter import Parser, Query
    from tree_sitter_language_pack import get_language

    name = _QUERY_OF.get(language, language)
    try:
        text = resources.files("runner.repomap").joinpath("queries").joinpath(f"{name}.scm").read_text()
    except FileNotFoundError:
        return None
    lang = get_language(language)  # type: ignore[arg-type]
    return Parser(lang), Query(lang, text)


def _signature(lines: list[bytes], start: int, language: str) -> str:
    sig = lines[start].rstrip().decode("utf-8", "replace")
    if language == "python" and sig.lstrip().startswith(("def ", "async def ", "class ")):
        # A signature spread over lines: join until the closing colon, within a few lines.
        i = start
        while not sig.endswith(":") and i + 1 < len(lines) and i - start < 6 and len(sig) < MAX_SIG:
            i += 1
            sig += " " + lines[i].strip().decode("utf-8", "replace")
    if len(sig) > MAX_SIG:
        sig = sig[: MAX_SIG - 1] + "…"
    return sig


def extract(path: str, data: bytes) -> FileTags:
    """Tags of `data`, the content of `path` (the path only picks the grammar)."""
    all_lines = data.split(b"\n")
    language = tag_language(path)
    if len(all_lines) <= CHUNK_LINES or language is None:  # prose is matched as a whole
        terms = words(data)
        tags = FileTags(terms=terms, lines=len(all_lines), chunks=[terms])
    else:
        chunks = [words(b"\n".join(all_lines[k : k + CHUNK_LINES])) for k in range(0, len(all_lines), CHUNK_LINES)]
        total: dict[str, int] = {}
        get = total.get
        for chunk in chunks:
            for term, n in chunk.items():
                total[term] = get(term, 0) + n
        tags = FileTags(terms=total, lines=len(all_lines), chunks=chunks)
    compiled = _query(language) if language else None
    if compiled is None or language is None:
        return tags
    from tree_sitter import QueryCursor

    parser, query = compiled
    tree = parser.parse(data)
    found: list[tuple[int, int, str, str, int, int]] = []
    ref_texts: list[bytes | None] = []  # counted and decoded once per name, not per occurrence
    literals: set[str] = set()
    seen: set[tuple[int, int]] = set()
    for _pattern, captures in QueryCursor(query).matches(tree.root_node):
        names = captures.get("name")
        if names is None:
            ref_nodes = captures.get("ref")
            if ref_nodes is not None:
                ref_texts.extend(node.text for node in ref_nodes)
                continue
        for node in captures.get("lit", ()):
            if node.text and len(literals) < MAX_FRAGMENTS:
                literals.update(fragments(node.text.decode("utf-8", "replace")))
        if names is None:
            continue
        for key, nodes in captures.items():
            if not key.startswith("def."):
                continue
            node, name = nodes[0], names[0]
            if (node.start_byte, name.start_byte) in seen or not name.text:
                continue
            seen.add((node.start_byte, name.start_byte))
            found.append((node.start_byte, -node.end_byte, name.text.decode("utf-8", "replace"), key[4:],
                          node.start_point[0], node.end_point[0]))
    found.sort()
    stack: list[tuple[int, int]] = []  # (end_byte, index)
    for start, neg_end, def_name, kind, line, end_line in found:
        while stack and stack[-1][0] <= start:
            stack.pop()
        parent = stack[-1][1] if stack else -1
        if kind == "function" and parent >= 0 and tags.defs[parent].kind in ("class", "struct", "impl", "module"):
            kind = "method"
        tags.defs.append(Definition(def_name, kind, line, end_line, parent, _signature(all_lines, line, language)))
        stack.append((-neg_end, len(tags.defs) - 1))
    refs: dict[str, int] = {}
    for text, n in Counter(ref_texts).items():
        if text:
            ref = text.decode("utf-8", "replace")
            refs[ref] = refs.get(ref, 0) + n
    tags.refs = refs
    tags.literals = sorted(literals)
    tags.parsed = True
    return tags
