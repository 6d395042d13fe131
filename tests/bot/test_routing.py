"""`decide` on GitHub's real example payloads (with the installation an App delivery carries)."""

from typing import Any

import pytest

from bot.routing import Ignore, JobSpec, decide
from runner.models import DEFAULT_ALIASES
from tests.doubles.webhooks import Actor, load_payload

APP_ID = 1234567


def _decide(event: str, payload: dict[str, Any]) -> JobSpec | Ignore:
    return decide(event, payload, label="ai-fix", app_id=APP_ID, aliases=DEFAULT_ALIASES)


def test_trigger_label_makes_a_run_job() -> None:
    payload = load_payload("issues", "labeled", label="AI-Fix", repo="acme/widgets", issue_number=7, sender="alice")
    decision = _decide("issues", payload)
    assert decision == JobSpec(kind="run", owner="acme", repo="widgets", installation_id=4242, issue_number=7,
                               sender="alice", trigger="label")


@pytest.mark.parametrize(("event", "name", "kwargs", "reason"), [
    ("issues", "labeled", {}, "label 'bug' is not the trigger label"),
    ("issues", "unlabeled", {"label": "ai-fix"}, "issues.unlabeled is not a trigger"),
    ("issues", "labeled", {"label": "ai-fix", "installation_id": None}, "no installation id"),
    ("issues", "labeled", {"label": "ai-fix", "sender": Actor("ai-fix[bot]", type="Bot")}, "sent by a bot"),
    ("issue_comment", "created", {"comment_body": "Looks good to me"}, "comment holds no command"),
    ("issue_comment", "edited", {"comment_body": "/retry"}, "issue_comment.edited is not a trigger"),
    ("ping", None, {}, "event 'ping' is not handled"),
    ("pull_request", "opened", {}, "event 'pull_request' is not handled"),
])
def test_ignored(event: str, name: str | None, kwargs: dict[str, Any], reason: str) -> None:
    decision = _decide(event, load_payload(event, name, **kwargs))
    assert isinstance(decision, Ignore) and reason in decision.reason


def test_the_apps_own_comment_is_ignored_even_with_a_command() -> None:
    payload = load_payload("issue_comment", "created", comment_body="/retry",
                           merge={"comment": {"performed_via_github_app": {"id": APP_ID}}})
    assert isinstance(_decide("issue_comment", payload), Ignore)


@pytest.mark.parametrize(("body", "kind", "extra"), [
    ("/retry", "run", {}),
    ("/retry with sonnet", "run", {"model": "sonnet"}),
    ("/retry with openai/gpt-4o-mini", "run", {"model": "openai/gpt-4o-mini"}),
    ("/retry with sonet", "reply", {"reply": "unknown_model", "detail": "sonet"}),
    ("/cancel", "cancel", {}),
    ("/ai-fix help", "reply", {"reply": "help"}),
    ("/ai-fix please", "reply", {"reply": "unknown_command", "detail": "/ai-fix please"}),
])
def test_comment_commands(body: str, kind: str, extra: dict[str, Any]) -> None:
    payload = load_payload("issue_comment", "created", comment_body=body, sender="maint")
    decision = _decide("issue_comment", payload)
    assert isinstance(decision, JobSpec)
    assert decision.kind == kind and decision.trigger == "comment" and decision.sender == "maint"
    assert decision.comment_id == payload["comment"]["id"]
    for key, value in extra.items():
        assert getattr(decision, key) == value


def test_comment_on_a_pull_request_is_marked() -> None:
    payload = load_payload("issue_comment", "created", comment_body="/retry", on_pull_request=True)
    decision = _decide("issue_comment", payload)
    assert isinstance(decision, JobSpec) and decision.on_pull_request


def test_malformed_payloads_are_ignored_not_crashing() -> None:
    assert isinstance(_decide("issues", {"action": "labeled"}), Ignore)
    assert isinstance(_decide("issues", {"action": "labeled", "label": {"name": "ai-fix"}, "repository": []}), Ignore)


def test_only_the_fields_it_reads_are_required() -> None:
    # githubkit's models reject GitHub's own issues.labeled example (no label.archived_at): routing must not.
    minimal = {"action": "labeled", "label": {"name": "ai-fix"}, "issue": {"number": 3},
               "repository": {"name": "widgets", "owner": {"login": "acme"}}, "sender": {"login": "alice"},
               "installation": {"id": 9}}
    assert _decide("issues", minimal) == JobSpec(kind="run", owner="acme", repo="widgets", installation_id=9,
                                                 issue_number=3, sender="alice", trigger="label")
