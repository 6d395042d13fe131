import pytest

from bot.commands import Cancel, Help, Retry, Unknown, parse


@pytest.mark.parametrize(("body", "expected"), [
    ("/retry", Retry()),
    ("  /RETRY  \nplease", Retry()),
    ("/retry with sonnet", Retry(model="sonnet")),
    ("/Retry WITH openai/gpt-4o", Retry(model="openai/gpt-4o")),
    ("/cancel", Cancel()),
    ("/ai-fix help", Help()),
    ("/ai-fix", Help()),
    ("/ai-fix frobnicate", Unknown("/ai-fix frobnicate")),
    ("/retry sonnet", Unknown("/retry sonnet")),
    ("/cancel now", Unknown("/cancel now")),
])
def test_commands(body: str, expected: object) -> None:
    assert parse(body) == expected


@pytest.mark.parametrize("body", [None, "", "   ", "thanks!", "/lgtm", "please /retry", "we should\n/retry"])
def test_not_commands(body: str | None) -> None:
    assert parse(body) is None
