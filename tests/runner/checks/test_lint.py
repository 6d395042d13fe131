from runner.checks.lint import lint_text, new_errors, new_output_lines, with_context


def test_python_syntax_and_fatal_pyflakes_only() -> None:
    assert [str(e) for e in lint_text("a.py", "def f(:\n    pass\n")] == ["a.py:1: SyntaxError: invalid syntax"]
    assert [str(e) for e in lint_text("a.py", "import os\n\ndef f():\n    return undefined_thing\n")] == [
        "a.py:4: undefined name 'undefined_thing'"]  # the unused import is not fatal
    assert lint_text("a.py", "x = 1\n") == []


def test_other_languages_through_tree_sitter() -> None:
    assert lint_text("a.js", "function f( {\n  return 1;\n}\n")
    assert lint_text("a.js", "function f() {\n  return 1;\n}\n") == []
    assert lint_text("main.go", "package main\nfunc main() {\n") != []
    assert lint_text("notes.txt", "anything ((") == []


def test_every_extension_of_a_language_is_linted() -> None:
    assert lint_text("web/a.mts", "function f( {\n") != [] and lint_text("src/a.hh", "int f( {\n") != []
    assert [str(e) for e in lint_text("gui.pyw", "print(nope)\n")] == ["gui.pyw:1: undefined name 'nope'"]


def test_python_stubs_get_syntax_checks_only() -> None:
    assert [str(e) for e in lint_text("a.pyi", "def f(:\n")] == ["a.pyi:1: SyntaxError: invalid syntax"]
    assert lint_text("a.pyi", "def f() -> Later: ...\nclass Later: ...\n") == []  # a forward reference


def test_only_new_errors_count() -> None:
    before = {"a.py": "def f():\n    return missing_one\n", "b.py": None}
    after = {"a.py": "x = 1\n\ndef f():\n    return missing_one\n\ndef g():\n    return missing_two\n",
             "b.py": "print(nope)\n"}
    assert [str(e) for e in new_errors(before, after)] == ["a.py:7: undefined name 'missing_two'",
                                                           "b.py:1: undefined name 'nope'"]


def test_context_marks_the_line() -> None:
    text = "a = 1\nb = c\nd = 2\n"
    [error] = lint_text("m.py", text)
    shown = with_context(error, text, radius=1).splitlines()[1:]
    assert shown == ["     1 | a = 1", "█    2 | b = c", "     3 | d = 2"]


def test_a_repository_linters_old_warnings_are_not_new_when_they_move() -> None:
    before = "calc.py:5:1: E741 ambiguous variable name 'l'\ncalc.py:9:80: E501 line too long\n"
    after = ("calc.py:6:1: E741 ambiguous variable name 'l'\ncalc.py:10:80: E501 line too long\n"
             "calc.py:12:80: E501 line too long\ncalc.py:3:1: F401 'os' imported but unused\n")
    assert new_output_lines(before, after) == ["calc.py:12:80: E501 line too long",
                                               "calc.py:3:1: F401 'os' imported but unused"]
