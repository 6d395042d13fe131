"""What kind of file a path names: its language, whether it is text, a test, documentation, vendored or
generated, and which folders no walk enters. Judged from the path alone, never from a file's content.

One place, because these answers must agree: the repo map ranks a `.vue` file, so the context must be
able to show it; the map weighs tests down and the report flags edited tests, by the same rule. Each user
picks the subset it can act on (lint's and the symbol editor's grammars, the map's tag queries) from the
one table of languages below, rather than keeping a table of its own.
"""

from __future__ import annotations

import re
from types import MappingProxyType

#: Extension -> tree-sitter-language-pack grammar name, for every language some part of the runner reads.
LANGUAGES = MappingProxyType({
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp",
    ".ipp": "cpp", ".inl": "cpp",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby",
    ".php": "php", ".cs": "csharp", ".kt": "kotlin", ".swift": "swift", ".scala": "scala", ".sh": "bash",
    ".json": "json", ".yml": "yaml", ".yaml": "yaml", ".toml": "toml",
})
#: Text in no language above that is still worth reading: issue words can name it, a model may edit it.
TEXT_SUFFIXES = frozenset({
    ".md", ".rst", ".txt", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".json", ".sh", ".bash", ".kt", ".kts",
    ".swift", ".php", ".cs", ".scala", ".lua", ".pl", ".r", ".jl", ".ex", ".exs", ".erl", ".hs", ".ml",
    ".css", ".scss", ".html", ".htm", ".xml", ".sql", ".proto", ".cmake", ".mk", ".gradle", ".vue", ".svelte",
    ".tf", ".dart", ".m", ".mm", ".zig", ".nim", ".pyx", ".pxd", ".in", ".conf", ".j2", ".jinja",
})
#: Text files known by their whole (lower-cased) name, having no telling extension.
TEXT_NAMES = frozenset({"makefile", "dockerfile", "gemfile", "rakefile", "cmakelists.txt", "build", "workspace"})
#: Prose. (`.adoc` is not among the text suffixes, so it is never read as documentation: kept as the map had it.)
DOC_SUFFIXES = frozenset({".md", ".rst", ".txt", ".adoc"})

#: Folders holding nothing of the repository's own making: version control and tool caches. No walk enters them.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                          ".tox"})
#: Folders that installs and builds fill. The map still lists what is in them (as vendored or generated, not
#: ranked), but a search for the repository's own files, such as its dependency manifests, skips them too.
INSTALLED_DIRS = frozenset({"node_modules", ".venv", "venv", ".nox", "site-packages", "build", "dist"})

_VENDOR_DIRS = frozenset({
    "vendor", "vendored", "_vendor", "third_party", "third-party", "thirdparty", "external", "externals",
    "node_modules", "bower_components", "site-packages", "dist-packages", ".venv", "venv", "deps",
})
_GENERATED_DIRS = frozenset({"dist", "build", "out", "target", "__generated__", "generated", ".next", "coverage"})
_GENERATED_NAME = re.compile(
    r"(\.min\.(js|css)$|\.bundle\.js$|[._-]pb2(_grpc)?\.pyi?$|\.pb\.(go|cc|h)$|_pb\.(js|ts)$|\.g\.dart$|"
    r"_generated\.\w+$|\.generated\.\w+$|(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|"
    r"cargo\.lock|go\.sum|uv\.lock|composer\.lock|gemfile\.lock)$)"
)
_MINIFIED_SUFFIXES = (".min.js", ".min.css")
_TEST_DIRS = frozenset({"test", "tests", "spec", "specs", "__tests__", "testdata", "test_data", "e2e"})
_TOP_TEST_DIRS = frozenset({"testing"})  # a top-level `testing/` holds tests; a nested one is often a library module
_TEST_NAME = re.compile(r"(^test_.*|.*_test\.\w+$|.*_tests?\.py$|.*\.(test|spec)\.[jt]sx?$|^conftest\.py$|"
                        r".*Tests?\.java$|.*_spec\.rb$)")


def _name_and_suffix(path: str) -> tuple[str, str]:
    """The lower-cased file name and its last extension (a leading dot, as in `.bashrc`, starts no extension)."""
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return name, name[dot:] if dot > 0 else ""


def language_of(path: str) -> str | None:
    """The grammar of the file's language, or None; callers keep the languages they support."""
    return LANGUAGES.get(_name_and_suffix(path)[1])


def is_text_path(path: str) -> bool:
    """Source or text a model can read and the map indexes; anything else is data, media or unknown."""
    name, suffix = _name_and_suffix(path)
    return suffix in LANGUAGES or suffix in TEXT_SUFFIXES or name in TEXT_NAMES


def is_doc_path(path: str) -> bool:
    return _name_and_suffix(path)[1] in DOC_SUFFIXES


def is_test_path(path: str) -> bool:
    """A test by its name (`test_x.py`, `x.spec.ts`, `XTest.java`, `conftest.py`...) or its folder (`tests/`)."""
    parts = path.split("/")
    if _TEST_NAME.match(parts[-1]) or any(p.lower() in _TEST_DIRS for p in parts[:-1]):
        return True
    return len(parts) > 1 and parts[0].lower() in _TOP_TEST_DIRS


def is_pytest_file(path: str) -> bool:
    """A module pytest collects by default (`test_*.py`, `*_test.py`) or a `conftest.py`: narrower than
    `is_test_path`, because it answers another question, whether running pytest would find anything."""
    name = path.rsplit("/", 1)[-1]
    return name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")))


def is_vendored_path(path: str) -> bool:
    """Someone else's code copied or installed into the tree."""
    return any(part in _VENDOR_DIRS for part in path.lower().split("/")[:-1])


def is_generated_path(path: str) -> bool:
    """Written by a tool (by its name, or under a top-level output folder): edit the source it comes from."""
    lower = path.lower()
    return bool(_GENERATED_NAME.search(lower)) or ("/" in lower and lower.split("/", 1)[0] in _GENERATED_DIRS)


def is_minified_path(path: str) -> bool:
    return path.lower().endswith(_MINIFIED_SUFFIXES)
