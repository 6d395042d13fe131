"""One answer to "what kind of file is this?", and every user's languages a subset of the one table."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from runner import context, file_kinds
from runner.checks import lint
from runner.edit.symbols import SYMBOL_LANGUAGES
from runner.file_kinds import (
    is_doc_path,
    is_generated_path,
    is_minified_path,
    is_pytest_file,
    is_test_path,
    is_text_path,
    is_vendored_path,
    language_of,
)
from runner.repomap.languages import TAGGED_LANGUAGES, Kind, kind_by_name

GRAMMARS = set(file_kinds.LANGUAGES.values())


def test_languages_by_extension_whatever_the_case() -> None:
    assert language_of("pkg/mod.py") == language_of("PKG/MOD.PY") == language_of("stubs/x.pyi") == "python"
    assert language_of("web/app.tsx") == "tsx" and language_of("web/app.mts") == "typescript"
    assert language_of("src/a.c++") == "cpp" and language_of("lib/tasks.rake") == "ruby"
    assert language_of("ci.yml") == "yaml" and language_of("run.sh") == "bash"
    assert language_of(".py") is None and language_of("Makefile") is None and language_of("notes.md") is None


def test_lint_checks_a_subset_with_tree_sitter() -> None:
    assert lint.SYNTAX_LANGUAGES <= GRAMMARS and "python" not in lint.SYNTAX_LANGUAGES  # Python has its own checks


def test_whole_symbol_edits_support_a_subset() -> None:
    assert SYMBOL_LANGUAGES <= GRAMMARS


def test_the_maps_languages_are_the_ones_it_has_queries_for() -> None:
    assert TAGGED_LANGUAGES <= GRAMMARS
    queries = resources.files("runner.repomap").joinpath("queries")
    query_names = {"typescript" if lang == "tsx" else lang for lang in TAGGED_LANGUAGES}
    assert all(queries.joinpath(f"{name}.scm").is_file() for name in query_names)


@pytest.mark.parametrize("path", ["a.py", "web/App.vue", "Makefile", "docker/Dockerfile", "conf/app.ini",
                                  "templates/page.j2", "Cargo.toml", "lib/x.php", "README.md"])
def test_text_files(path: str) -> None:
    assert is_text_path(path)


@pytest.mark.parametrize("path", ["logo.png", "data.bin", "LICENSE", ".bashrc", "archive.tar.gz", "book.adoc"])
def test_not_text_files(path: str) -> None:
    assert not is_text_path(path)


def test_a_model_may_read_every_file_the_map_ranks(tmp_path: Path) -> None:
    files = {"web/App.vue": "<template/>", "Makefile": "all:\n", "app.py": "x = 1\n", "LICENSE": "MIT\n",
             "logo.png": "PNG"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ranked = [rel for rel in files if kind_by_name(rel).ranked]
    assert ranked == ["web/App.vue", "Makefile", "app.py"] and kind_by_name("LICENSE") is Kind.OTHER
    assert context.readable(tmp_path, list(files)) == ranked
    assert context.select(tmp_path, list(files), "") == ranked


def test_documentation() -> None:
    assert is_doc_path("docs/usage.md") and is_doc_path("NOTES.TXT") and not is_doc_path("setup.cfg")


@pytest.mark.parametrize("path", ["tests/helpers.py", "Tests/x.py", "test_a.py", "pkg/a_test.go", "pkg/a_tests.py",
                                  "web/a.spec.ts", "web/a.test.jsx", "conftest.py", "src/FooTest.java",
                                  "spec/models/user_spec.rb", "app/__tests__/x.js", "e2e/flow.ts", "testing/util.py"])
def test_test_files(path: str) -> None:
    assert is_test_path(path)


@pytest.mark.parametrize("path", ["pkg/testing/utils.py", "src/contest.py", "latest.py", "src/testament.md"])
def test_not_test_files(path: str) -> None:
    assert not is_test_path(path)


def test_pytest_collects_fewer_files_than_are_tests() -> None:
    assert is_pytest_file("test_a.py") and is_pytest_file("pkg/a_test.py") and is_pytest_file("tests/conftest.py")
    assert not is_pytest_file("tests/helpers.py") and not is_pytest_file("a_tests.py")
    assert not is_pytest_file("test_data.json")
    assert is_test_path("tests/helpers.py") and is_test_path("a_tests.py")


def test_vendored_generated_and_minified() -> None:
    assert is_vendored_path("vendor/left_pad.py") and is_vendored_path("web/Node_Modules/x/index.js")
    assert not is_vendored_path("vendor.py")
    assert is_generated_path("netlib/schema_pb2.py") and is_generated_path("dist/app.js")
    assert is_generated_path("web/app.min.js") and is_generated_path("package-lock.json")
    assert not is_generated_path("src/dist/app.js") and not is_generated_path("build")
    assert is_minified_path("web/app.MIN.css") and not is_minified_path("dist/app.js")


def test_skipped_folders() -> None:
    assert {".git", "__pycache__", ".tox"} <= file_kinds.SKIPPED_DIRS
    assert {"node_modules", ".venv", "build", "dist"} <= file_kinds.INSTALLED_DIRS
    assert not file_kinds.SKIPPED_DIRS & file_kinds.INSTALLED_DIRS
