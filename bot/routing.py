"""Decide, from one verified delivery, whether there is work: a pure function, no I/O.

Authorisation by repository permission needs an API call, so it happens in the worker, not here;
this only filters what can be decided from the payload (event, label, bot authors, commands).

Why a tolerant read of the raw dict rather than githubkit's webhook models (`githubkit.webhooks.parse`),
measured with githubkit 0.16.1 / schemas 2026-03-10 on the example payloads (tests/data/shared/data/github-webhooks):
- they reject the very trigger: GitHub's own `issues.labeled` example fails validation (6 errors), because
  the models require `label.archived_at`/`archived_by`, which the example, GitHub's OpenAPI description
  the tests validate against, and older or GHES deliveries do not carry; 15 of the 48 examples fail alike.
  A model path would ignore real deliveries (githubkit#14, #93, #118 are earlier cases of this);
- they are slow where nothing may be: the first parse of an event builds its models (issues 805 ms,
  issue_comment 238 ms, pull_request_review 525 ms), and warm parses of `issues` take 3-7 ms against
  0.03 ms for `json.loads` of the same body.
So `decide` reads only the fields it needs and answers `Ignore` when one is missing or of the wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot import commands
from runner import ModelPair, UnknownModel, resolve

JobKind = Literal["run", "cancel", "reply"]


@dataclass(frozen=True)
class JobSpec:
    kind: JobKind
    owner: str
    repo: str
    installation_id: int
    issue_number: int
    sender: str
    trigger: Literal["label", "comment"]
    comment_id: int | None = None
    on_pull_request: bool = False
    model: str | None = None
    """Alias or model string from `/retry with MODEL`, already checked to resolve."""
    reply: str | None = None
    """For `reply` jobs: `help`, `unknown_model`, `unknown_command`."""
    detail: str = ""


@dataclass(frozen=True)
class Ignore:
    reason: str


Decision = JobSpec | Ignore


def _is_own_or_bot(payload: Mapping[str, Any], app_id: int | None) -> bool:
    sender = payload.get("sender") or {}
    comment = payload.get("comment") or {}
    via = comment.get("performed_via_github_app") or {}
    user = comment.get("user") or {}
    return (sender.get("type") == "Bot" or user.get("type") == "Bot"
            or (app_id is not None and via.get("id") == app_id))


def decide(event: str, payload: Mapping[str, Any], *, label: str, app_id: int | None,
           aliases: Mapping[str, ModelPair]) -> Decision:
    action = payload.get("action")
    if event not in ("issues", "issue_comment"):
        return Ignore(f"event {event!r} is not handled")
    if _is_own_or_bot(payload, app_id):
        return Ignore("sent by a bot (possibly this App)")
    try:
        owner = str(payload["repository"]["owner"]["login"])
        repo = str(payload["repository"]["name"])
        issue = payload["issue"]
        number = int(issue["number"])
        sender = str(payload["sender"]["login"])
    except (KeyError, TypeError, ValueError):
        return Ignore("payload lacks repository, issue or sender")
    installation = (payload.get("installation") or {}).get("id")
    if not isinstance(installation, int):
        return Ignore("payload has no installation id (not an App delivery)")
    base: dict[str, Any] = {"owner": owner, "repo": repo, "installation_id": installation, "issue_number": number,
            "sender": sender}

    if event == "issues":
        if action != "labeled":
            return Ignore(f"issues.{action} is not a trigger")
        name = str((payload.get("label") or {}).get("name", ""))
        if name.lower() != label.lower():
            return Ignore(f"label {name!r} is not the trigger label {label!r}")
        if issue.get("pull_request"):
            return Ignore("labelled item is a pull request")
        if issue.get("state") == "closed":
            return Ignore("issue is closed")
        return JobSpec(kind="run", trigger="label", **base)

    if action != "created":
        return Ignore(f"issue_comment.{action} is not a trigger")
    comment = payload.get("comment") or {}
    command = commands.parse(comment.get("body"))
    if command is None:
        return Ignore("comment holds no command")
    comment_id = comment.get("id") if isinstance(comment.get("id"), int) else None

    def job(kind: JobKind, **fields: Any) -> JobSpec:
        return JobSpec(kind=kind, trigger="comment", comment_id=comment_id,
                       on_pull_request=bool(issue.get("pull_request")), **base, **fields)

    match command:
        case commands.Retry(model=None):
            return job("run")
        case commands.Retry(model=str(model)):
            try:
                resolve(model, aliases)
            except UnknownModel:
                return job("reply", reply="unknown_model", detail=model)
            return job("run", model=model)
        case commands.Cancel():
            return job("cancel")
        case commands.Help():
            return job("reply", reply="help")
        case commands.Unknown(text=text):
            return job("reply", reply="unknown_command", detail=text)
    return Ignore("unreachable")
