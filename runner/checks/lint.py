"""Lint the files an edit changed, on the host, without executing anything they contain.

- The languages of `SYNTAX_LANGUAGES`, through tree-sitter: syntax errors (ERROR and MISSING nodes).
- Python: `compile()` (the E9 class) and pyflakes' fatal checks, the same set aider uses through
  flake8 (F821 undefined name, F823, F831, F406, F407, F701, F702, F704, F706); stubs (`.pyi`) get
  `compile()` only, because pyflakes reads their forward references as undefined names.
Which language a file is in comes from `runner.file_kinds`.
Only errors that the untouched file did not already have are reported: a repository's old
warts are not the edit's fault. The repository's own lint command runs in the sandbox instead.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from runner.file_kinds import language_of

_FATAL_PYFLAKES = {"UndefinedName", "UndefinedLocal", "DuplicateArgument", "ImportStarNotPermitted",
                   "FutureFeatureNotDefined", "BreakOutsideLoop", "ContinueOutsideLoop", "YieldOutsideFunction",
                   "ReturnOutsideFunction"}
#: Languages checked with tree-sitter (Python has checks of its own).
SYNTAX_LANGUAGES = frozenset({"javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "ruby", "php",
                              "csharp", "kotlin", "swift", "scala", "bash", "json", "yaml", "toml"})
_LINE = re.compile(r"\bline \d+\b|:\d+(:\d+)?\b")


@dataclass(frozen=True)
class LintError:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"

    @property
    def key(self) -> tuple[str, str]:
        """Identity that survives lines moving up or down."""
        return self.path, _LINE.sub("", self.message)


def _python(path: str, text: str) -> list[LintError]:
    try:
        tree = compile(text, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return [LintError(path, exc.lineno or 0, f"SyntaxError: {exc.msg}")]
    except ValueError as exc:  # e.g. null bytes
        return [LintError(path, 0, f"cannot be compiled: {exc}")]
    if path.lower().endswith(".pyi"):
        return []
    from pyflakes import checker

    found = checker.Checker(tree, filename=path)
    return [LintError(path, int(m.lineno), m.message % m.message_args) for m in found.messages
            if type(m).__name__ in _FATAL_PYFLAKES]


def _tree_sitter(path: str, text: str, language: str) -> list[LintError]:
    try:
        from tree_sitter_language_pack import get_parser

        parser = get_parser(language)  # type: ignore[arg-type]
    except Exception:  # grammar not available: nothing to say rather than a false alarm
        return []
    root = parser.parse(text.encode("utf-8", errors="surrogateescape")).root_node
    if not root.has_error:
        return []
    errors: list[LintError] = []
    stack = [root]
    while stack and len(errors) < 20:
        node = stack.pop()
        if node.is_missing:
            errors.append(LintError(path, node.start_point[0] + 1, f"syntax error: missing {node.type!r}"))
        elif node.type == "ERROR":
            errors.append(LintError(path, node.start_point[0] + 1, "syntax error"))
            continue
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(errors, key=lambda e: e.line)


def lint_text(path: str, text: str) -> list[LintError]:
    language = language_of(path)
    if language == "python":
        return _python(path, text)
    if language is None or language not in SYNTAX_LANGUAGES:
        return []
    return _tree_sitter(path, text, language)


def new_errors(before: Mapping[str, str | None], after: Mapping[str, str]) -> list[LintError]:
    """Errors in the edited files that their original versions (None: new file) did not have."""
    found: list[LintError] = []
    for path, text in sorted(after.items()):
        original = before.get(path)
        old = Counter(e.key for e in lint_text(path, original)) if original is not None else Counter()
        for error in lint_text(path, text):
            if old[error.key] > 0:
                old[error.key] -= 1
            else:
                found.append(error)
    return found


def with_context(error: LintError, text: str, radius: int = 3) -> str:
    """The error with the surrounding lines, the failing one marked, as aider shows them."""
    lines = text.splitlines()
    lo, hi = max(0, error.line - 1 - radius), min(len(lines), error.line + radius)
    shown = "\n".join(f"{'█' if i + 1 == error.line else ' '} {i + 1:4} | {lines[i]}" for i in range(lo, hi))
    return f"{error}\n{shown}"


def new_output_lines(before: str, after: str) -> list[str]:
    """Lines of a lint command's output that the baseline did not print, ignoring line and column numbers
    (an edit that adds a line above an old warning moves it; it is not new) and counting repeats."""
    from runner.checks.test_results import clean

    old = Counter(_LINE.sub("", line) for line in clean(before).splitlines() if line.strip())
    fresh = []
    for line in clean(after).splitlines():
        key = _LINE.sub("", line)
        if not line.strip():
            continue
        if old[key] > 0:
            old[key] -= 1
        else:
            fresh.append(line)
    return fresh
