"""The words the Junior reads when an edit of its cannot be parsed, placed or applied.

They live in prompts/junior_edit_feedback.md.j2, one message per branch, next to the prompts that teach
the edit syntax, so what the model is told can be read and reviewed in one place; parse, match, symbols
and apply only decide which message applies and supply its facts. Messages for developers (logs,
exceptions that never reach a model) stay in Python.
"""

from __future__ import annotations

from runner.prompts import render

TEMPLATE = "junior_edit_feedback.md.j2"


class UnknownMessage(KeyError):
    """The template has no branch of this name: a typo in the code, which must fail loudly, not say nothing."""


def say(message: str, **facts: object) -> str:
    """The text of `message`, filled in with `facts` (a missing fact is an error: StrictUndefined)."""
    text = render(TEMPLATE, message=message, **facts)
    if not text.strip():
        raise UnknownMessage(f"{TEMPLATE} has no message {message!r}")
    return text.removesuffix("\n")  # render ends a prompt with a newline; a message is quoted inside others
