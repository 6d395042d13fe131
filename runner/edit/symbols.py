"""Whole-symbol replacement: a function, method or class named by its qualified name, located with tree-sitter.

`path/to/mod.py::Class.method` names the definition; the new source replaces it whole, re-indented to where
the old one stood. Decorators (Python `@x`, TypeScript `@X()`) and a JavaScript `export` stay in place unless
the new source starts with its own. A name defined twice (a property's getter and setter, a function defined
in both branches of an `if`) is refused: the model is told to use SEARCH/REPLACE instead.
"""

from __future__ import annotations

import difflib
import functools
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

from runner.edit.feedback import say
from runner.edit.match import Found, Miss
from runner.file_kinds import language_of

#: Languages whose definitions are found by name (the node types below are theirs).
SYMBOL_LANGUAGES = frozenset({"python", "javascript", "typescript", "tsx"})
_NAMED = {"function_definition", "class_definition", "function_declaration", "generator_function_declaration",
          "class_declaration", "abstract_class_declaration", "method_definition", "interface_declaration",
          "enum_declaration", "type_alias_declaration"}
_VARIABLES = {"lexical_declaration", "variable_declaration"}
_FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "generator_function", "class"}


@functools.lru_cache(maxsize=8)
def _parser(language: str) -> Any:
    from tree_sitter_language_pack import get_parser

    return get_parser(language)  # type: ignore[arg-type]


def replace_symbol(body: Sequence[str], path: str, qualname: str, source: str) -> Found | Miss:
    """Replace the definition `qualname` in `body` (the file's lines without endings) with `source`."""
    language = language_of(path)
    if language is None or language not in SYMBOL_LANGUAGES:
        return Miss("malformed", say("symbol_language", path=path))
    new = _trimmed(source.splitlines())
    if not new:
        return Miss("malformed", say("symbol_source_empty", qualname=qualname))
    try:
        root = _parser(language).parse("\n".join(body).encode("utf-8", "surrogateescape")).root_node
    except ImportError:
        return Miss("malformed", say("symbol_edits_unavailable"))
    found = [node for name, node in _definitions(root, "") if name == qualname]
    if not found:
        names = list(dict.fromkeys(name for name, _ in _definitions(root, "")))
        near = difflib.get_close_matches(qualname, names, n=3, cutoff=0.6)
        return Miss("not_found", say("symbol_not_defined", qualname=qualname, path=path, near=near, names=names))
    if len(found) > 1:
        lines = [node.start_point[0] + 1 for node in found]
        return Miss("ambiguous", say("symbol_ambiguous", qualname=qualname, path=path, lines=lines))
    return _replace(body, _outer(found[0], new[0].lstrip()), new)


def _definitions(node: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for child in node.children:
        name = _name(child)
        if name:
            yield prefix + name, child
            yield from _definitions(child, prefix + name + ".")
        else:
            yield from _definitions(child, prefix)


def _name(node: Any) -> str | None:
    if node.type in _NAMED:
        named = node.child_by_field_name("name")
        return _text(named) if named is not None else None
    if node.type in _VARIABLES or node.type == "public_field_definition":
        declarators = [c for c in node.children if c.type == "variable_declarator"] or [node]
        if len(declarators) == 1:
            named, value = declarators[0].child_by_field_name("name"), declarators[0].child_by_field_name("value")
            if named is not None and value is not None and value.type in _FUNCTION_VALUES:
                return _text(named)
    return None


def _text(node: Any) -> str:
    return bytes(node.text).decode("utf-8", "surrogateescape")


def _outer(node: Any, first_new_line: str) -> tuple[Any, Any]:
    """The first and last node to replace: decorators and `export` only when the new source brings its own."""
    parent = node.parent
    brings_prefix = first_new_line.startswith(("@", "export "))
    if parent is not None and parent.type in {"decorated_definition", "export_statement"} and brings_prefix:
        return parent, parent
    first = node
    sibling = node.prev_named_sibling
    while brings_prefix and sibling is not None and sibling.type == "decorator":
        first, sibling = sibling, sibling.prev_named_sibling
    return first, node


def _replace(body: Sequence[str], span: tuple[Any, Any], new: list[str]) -> Found | Miss:
    first, last = span
    start_row, start_col = first.start_point
    end_row, end_col = last.end_point
    start_line, end_line = body[start_row], body[end_row]
    prefix = _bytes_prefix(start_line, start_col)
    suffix = _bytes_suffix(end_line, end_col)
    indent = start_line[:len(start_line) - len(start_line.lstrip())]
    lead = prefix if prefix.strip() else indent
    old_body = [line for line in body[start_row + 1:end_row + 1] if line.strip()]
    lines = _reindent(new, indent, old_body)
    lines[0] = lead + lines[0][len(indent):]
    if suffix.strip():
        lines[-1] += suffix
    return Found(start_row, end_row + 1, lines, "symbol")


def _reindent(new: list[str], indent: str, old_body: list[str]) -> list[str]:
    """Dedent `new`, then indent it to `indent`; undo a body pasted from the file under an unindented first line."""
    head, rest = new[0], new[1:]
    rest_indents = [_width(line) for line in rest if line.strip()]
    if indent and not head[:1].isspace() and rest_indents and old_body:
        old_relative = min(_width(line) for line in old_body) - _width(indent)
        if min(rest_indents) == old_relative + _width(indent) and all(
                line.startswith(indent) or not line.strip() for line in rest):
            rest = [line[len(indent):] for line in rest]
    dedented = textwrap.dedent("\n".join([head, *rest])).split("\n")
    return [indent + line if line.strip() else "" for line in dedented]


def _width(line: str) -> int:
    return len(line[:len(line) - len(line.lstrip())].expandtabs(8))


def _bytes_prefix(line: str, col: int) -> str:
    return line.encode("utf-8", "surrogateescape")[:col].decode("utf-8", "surrogateescape")


def _bytes_suffix(line: str, col: int) -> str:
    return line.encode("utf-8", "surrogateescape")[col:].decode("utf-8", "surrogateescape")


def _trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines
