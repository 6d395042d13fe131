"""The words the Junior reads live in one template: every message there is used, and a wrong name fails loudly."""

import re

import jinja2
import pytest

from runner.edit.feedback import TEMPLATE, UnknownMessage, say
from runner.prompts import PROMPTS_DIR

EDIT_SOURCES = "\n".join(p.read_text(encoding="utf-8") for p in (PROMPTS_DIR.parent / "runner/edit").glob("*.py"))
MESSAGES = re.findall(r'message == "([a-z_]+)"', (PROMPTS_DIR / TEMPLATE).read_text(encoding="utf-8"))


def test_every_message_is_said_somewhere() -> None:
    assert len(MESSAGES) == len(set(MESSAGES)) > 30
    assert [m for m in MESSAGES if f'say("{m}"' not in EDIT_SOURCES] == []


def test_messages_no_test_reaches() -> None:
    """Kept word for word from the code they replaced (the other messages are pinned by test_cases and test_apply)."""
    assert say("outside_path", path="a/b.py") == "a/b.py: resolves outside the repository"
    assert say("symbol_edits_unavailable") == ("whole-symbol edits are unavailable here (tree-sitter-language-pack "
                                               "is not installed); use SEARCH/REPLACE blocks")


def test_lists_are_shortened_and_joined_in_english() -> None:
    assert say("search_ambiguous", rung="exact", lines=[3, 9]) == (
        "the SEARCH text matches 2 places, at lines 3 and 9; include more surrounding lines to make it unique")
    assert say("search_ambiguous", rung="indent", lines=list(range(1, 9))).startswith(
        "the SEARCH text matches 8 places (with a different indentation), at lines 1, 2, 3, 4, 5, 6 and ...;")
    assert say("elided_search_ambiguous", ways=2, spans=[(1, 3), (5, 8)]) == (
        "the SEARCH text with its `...` lines matches 2 ways, at lines 1-3, 5-8; quote more lines around each "
        "`...` to make it unique")


def test_a_message_ends_without_a_newline_even_when_it_quotes_code() -> None:
    text = say("closest_lines", first=2, last=3, quoted="```\nx = 1\n```")
    assert text == "the SEARCH text was not found; did you mean these lines (2-3)?\n```\nx = 1\n```"


def test_an_unknown_message_or_a_missing_fact_is_an_error() -> None:
    with pytest.raises(UnknownMessage):
        say("no_such_message")
    with pytest.raises(jinja2.UndefinedError):
        say("no_such_path")
