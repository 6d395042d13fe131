"""The texts around an attempt's conversation, read and written without a model."""

from __future__ import annotations

from runner.replies import closest_paths, fence_for, parse_file_list, review_approves


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
