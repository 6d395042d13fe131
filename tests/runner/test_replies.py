"""The texts around an attempt's conversation: the feedback lines are templates, read back exactly."""

from __future__ import annotations

from runner.replies import closest_paths, feedback_line, fence_for, parse_file_list, review_approves


def test_the_feedback_templates_render_one_line_each() -> None:
    assert feedback_line("junior_feedback_no_block.md") == "your reply contained no SEARCH/REPLACE block"
    assert feedback_line("junior_feedback_no_change.md") == (
        "your edits left every file as it was: the REPLACE text must differ from the SEARCH text")
    assert feedback_line("junior_feedback_cut_off.md") == (
        "your reply was cut off at the output limit: send fewer, smaller blocks; the blocks that applied are "
        "listed above")
    assert feedback_line("junior_feedback_lint.md.j2", lint_command="ruff check .") == "`ruff check .` reports:"


def test_the_senior_s_file_list_is_read_with_or_without_tags() -> None:
    assert parse_file_list("Sure.\n<files>\n- `./src/a.py`\nsrc/a.py\nnot a path\n</files>") == ["src/a.py"]
    assert parse_file_list("src/a.py\nREADME.md\n") == ["src/a.py", "README.md"]


def test_a_wrong_path_gets_the_closest_real_ones() -> None:
    assert closest_paths("src/calc.py", ["calc.py", "pkg/other.py"]) == ["calc.py"]


def test_a_review_approves_only_when_it_says_so_first() -> None:
    assert review_approves("**LGTM**") and review_approves("\nNo defects found.")
    assert not review_approves("1. calc.py: wrong sign\nOtherwise LGTM")


def test_the_fence_is_longer_than_any_in_the_shown_text() -> None:
    assert fence_for(["plain"]) == "```" and fence_for(["```py\nx\n```"]) == "````"
