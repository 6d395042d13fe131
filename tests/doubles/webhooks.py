"""GitHub webhook deliveries for tests: real example payloads, GitHub's signatures, GitHub's headers.

The bodies come from `shared/data/github-webhooks/` (octokit/webhooks examples, copied unchanged; see
its SOURCES.md). They are realistic but generic (`Codertocat/Hello-World`, issue #1, label `bug`,
no `installation`), so `load_payload` adds the installation every App delivery carries and applies
a few explicit overrides. `deliver` then serialises once, signs those exact bytes and POSTs them,
the way GitHub does, so the App's signature check is exercised for real.

Overrides, all explicit and applied in this order by `load_payload` (each is also a public helper):
`set_repository`, `set_issue`, `set_label`, `set_sender`, `set_comment`, then `deep_merge(merge)`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx

SHARED_DIR_ENV: Final = "AI_FIX_SHARED_DIR"
# Defaults that line up with the GitHub double (`tests/doubles/github`, App id 1_234_567).
DEFAULT_INSTALLATION_ID: Final = 4242
DEFAULT_APP_ID: Final = 1_234_567
DEFAULT_HOOK_ID: Final = 12_312_312
USER_AGENT: Final = "GitHub-Hookshot/a1b2c3d"


class _Delete:
    """Marker for `deep_merge`: remove this key instead of setting it."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()
_KEEP: Any = object()  # "argument not given" for optional overrides where None is meaningful


# ----- locating and loading ------------------------------------------------------------------------


def shared_dir() -> Path:
    """`$AI_FIX_SHARED_DIR`, else the suite's own copy in tests/data/shared (same layout as the project's shared/
    folder, the OpenAPI description gzipped), so a plain clone runs the suite."""
    override = os.environ.get(SHARED_DIR_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "data" / "shared"


def webhooks_dir() -> Path:
    return shared_dir() / "data" / "github-webhooks"


def example_files() -> list[tuple[str, str]]:
    """Every example as (event, file name), sorted: for tests that sweep all of them."""
    root = webhooks_dir()
    return sorted((p.parent.name, p.name) for p in root.glob("*/*.json"))


def example_path(event: str, name: str | None = None) -> Path:
    """Resolve an example file.

    `name` may be a full file name (`opened.with-null-body.json`), or the part before
    `.payload.json` (`labeled`, `created.with-installation`). Without a name: `payload.json`, the
    only file of `ping` that has no action.
    """
    folder = webhooks_dir() / event
    if not folder.is_dir():
        raise FileNotFoundError(f"no webhook examples for event {event!r} in {webhooks_dir()}")
    candidates = (
        ["payload.json"]
        if name is None
        else [name]
        if name.endswith(".json")
        else [f"{name}.payload.json", f"{name}.json"]
    )
    for candidate in candidates:
        if (folder / candidate).is_file():
            return folder / candidate
    available = ", ".join(sorted(p.name for p in folder.glob("*.json")))
    raise FileNotFoundError(f"no example {name!r} for event {event!r}; available: {available}")


def node_id(type_name: str, ident: int) -> str:
    """A legacy-format GitHub global node id, as the examples use (`MDQ6VXNlcjE=` is `04:User1`)."""
    return base64.b64encode(f"0{len(type_name)}:{type_name}{ident}".encode()).decode()


@dataclass(frozen=True)
class Actor:
    """A GitHub account appearing in a payload (sender, comment author).

    `id` defaults to a stable number derived from the login so distinct logins get distinct ids
    without a test having to invent them. Use `type="Bot"` and a `name[bot]` login for Apps.
    """

    login: str
    id: int | None = None
    type: str = "User"

    @property
    def resolved_id(self) -> int:
        if self.id is not None:
            return self.id
        return 10_000_000 + int(hashlib.sha256(self.login.encode()).hexdigest()[:8], 16) % 80_000_000


def load_payload(
    event: str,
    name: str | None = None,
    *,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
    repo: str | None = None,
    clone_url: str | None = None,
    issue_number: int | None = None,
    issue_title: str | None = None,
    issue_body: str | None = _KEEP,
    on_pull_request: bool | None = None,
    label: str | None = None,
    sender: str | Actor | None = None,
    comment_body: str | None = None,
    comment_user: str | Actor | None = None,
    merge: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A fresh copy of an example payload, made to look like a delivery to our App.

    - installation_id: sets `installation.id`/`node_id` (added when the example lacks it, as all
      `issues` examples do; other fields of an existing installation object are kept). None leaves
      the example's installation, or its absence, untouched.
    - repo="owner/name", clone_url: see `set_repository`.
    - issue_number/issue_title/issue_body/on_pull_request: see `set_issue` (issue_body=None is a
      real value: GitHub sends null for an empty body).
    - label: see `set_label`. sender: see `set_sender`. comment_body/comment_user: see `set_comment`.
    - merge: deep-merged last (`DELETE` removes a key), for anything the helpers do not cover.
    """
    payload: dict[str, Any] = json.loads(example_path(event, name).read_text(encoding="utf-8"))
    if installation_id is not None:
        set_installation(payload, installation_id)
    if repo is not None or clone_url is not None:
        set_repository(payload, repo, clone_url=clone_url)
    if issue_number is not None or issue_title is not None or issue_body is not _KEEP or on_pull_request is not None:
        set_issue(payload, number=issue_number, title=issue_title, body=issue_body, on_pull_request=on_pull_request)
    if label is not None:
        set_label(payload, label)
    if sender is not None:
        set_sender(payload, sender)
    if comment_body is not None or comment_user is not None:
        set_comment(payload, body=comment_body, user=comment_user)
    if merge:
        deep_merge(payload, merge)
    return payload


# ----- overrides -------------------------------------------------------------------------------------


def deep_merge(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `patch` into `target` in place: dicts recurse, anything else replaces, `DELETE` removes."""
    for key, value in patch.items():
        if value is DELETE:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)
    return target


def set_installation(payload: dict[str, Any], installation_id: int) -> dict[str, Any]:
    """Give the payload `installation.id` (the App needs it to mint a token) and a matching node_id."""
    installation = payload.setdefault("installation", {})
    installation["id"] = installation_id
    installation["node_id"] = node_id("IntegrationInstallation", installation_id)
    return payload


def _rewrite_urls(value: Any, pattern: re.Pattern[str], replacement: str) -> Any:
    """Apply a regex to every URL-looking string in a JSON tree (returns the new tree)."""
    if isinstance(value, dict):
        return {k: _rewrite_urls(v, pattern, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_urls(v, pattern, replacement) for v in value]
    if isinstance(value, str) and (value.startswith(("http://", "https://", "git://", "git@", "ssh://"))):
        return pattern.sub(replacement, value)
    return value


def set_repository(payload: dict[str, Any], full_name: str | None, *, clone_url: str | None = None) -> dict[str, Any]:
    """Point the payload at another repository.

    Sets `repository.name`, `full_name`, `owner.login`, and rewrites the old `owner/name` in every URL
    of the payload (issue, comment and repository URLs alike), so nothing still points at the
    example repository. `clone_url` then replaces `repository.clone_url` (e.g. the GitHub double's
    git URL); without it the rewritten github.com URL stays.
    """
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        raise KeyError("this payload has no repository")
    if full_name is not None:
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repo must be 'owner/name', got {full_name!r}")
        old = str(repository["full_name"])
        old_owner = old.split("/")[0]
        pattern = re.compile(rf"(?<=[/:]){re.escape(old)}(?=\.git\b|[/#?{{]|$)")
        payload.update(_rewrite_urls(payload, pattern, full_name))
        repository = payload["repository"]
        repository["name"], repository["full_name"] = name, full_name
        owner_obj = repository.get("owner")
        if isinstance(owner_obj, dict) and owner != old_owner:
            _set_account(owner_obj, Actor(owner, type=str(owner_obj.get("type", "User"))))
    if clone_url is not None:
        repository["clone_url"] = clone_url
    return payload


def set_issue(
    payload: dict[str, Any],
    *,
    number: int | None = None,
    title: str | None = None,
    body: str | None = _KEEP,
    on_pull_request: bool | None = None,
) -> dict[str, Any]:
    """Change the issue: number (URLs follow, in `issue` and `comment`), title, body (None = null).

    `on_pull_request=True` adds `issue.pull_request` ({url, html_url, diff_url, patch_url}), which is how
    GitHub marks an `issue_comment` on a pull request; False removes it.
    """
    issue = payload.get("issue")
    if not isinstance(issue, dict):
        raise KeyError("this payload has no issue")
    if number is not None:
        old = int(issue["number"])
        pattern = re.compile(rf"(?<=/issues/){old}(?=[/#?{{]|$)")
        payload["issue"] = issue = _rewrite_urls(issue, pattern, str(number))
        if isinstance(payload.get("comment"), dict):
            payload["comment"] = _rewrite_urls(payload["comment"], pattern, str(number))
        issue["number"] = number
    if title is not None:
        issue["title"] = title
    if body is not _KEEP:
        issue["body"] = body
    if on_pull_request is True:
        api, html = str(issue["url"]), str(issue["html_url"])
        pulls_api = api.replace("/issues/", "/pulls/")
        pulls_html = html.replace("/issues/", "/pull/")
        issue["pull_request"] = {
            "url": pulls_api,
            "html_url": pulls_html,
            "diff_url": pulls_html + ".diff",
            "patch_url": pulls_html + ".patch",
            "merged_at": None,
        }
    elif on_pull_request is False:
        issue.pop("pull_request", None)
    return payload


def set_label(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """Rename the changed label (`label`, for issues.labeled/unlabeled) and its copy in `issue.labels`.

    Entries of `issue.labels` with the old name are replaced by the new label; other labels stay.
    """
    label = payload.get("label")
    if not isinstance(label, dict):
        raise KeyError("this payload has no label (only issues.labeled/unlabeled carry one)")
    old_name = label["name"]
    label["name"] = name
    if isinstance(label.get("url"), str):
        label["url"] = label["url"].rsplit("/labels/", 1)[0] + "/labels/" + quote(name, safe="")
    issue = payload.get("issue")
    if isinstance(issue, dict) and isinstance(issue.get("labels"), list):
        issue["labels"] = [copy.deepcopy(label) if lab.get("name") == old_name else lab for lab in issue["labels"]]
    return payload


def _set_account(account: dict[str, Any], actor: Actor) -> None:
    """Rewrite one user object: login, id, node_id, type, and the login inside its URLs."""
    old_login = str(account.get("login", ""))
    ident = actor.resolved_id
    if old_login:
        pattern = re.compile(rf"(?<=/){re.escape(old_login)}(?=[/#?{{]|$)")
        account.update(_rewrite_urls(account, pattern, actor.login))
    account["login"] = actor.login
    account["id"] = ident
    account["node_id"] = node_id("Bot" if actor.type == "Bot" else actor.type, ident)
    account["type"] = actor.type
    if "avatar_url" in account:
        account["avatar_url"] = f"https://avatars.githubusercontent.com/u/{ident}?v=4"


def _actor(value: str | Actor) -> Actor:
    return value if isinstance(value, Actor) else Actor(value)


def set_sender(payload: dict[str, Any], sender: str | Actor) -> dict[str, Any]:
    """Replace `sender` (who triggered the event): the App's loop and permission checks read it."""
    if not isinstance(payload.get("sender"), dict):
        raise KeyError("this payload has no sender")
    _set_account(payload["sender"], _actor(sender))
    return payload


def set_comment(payload: dict[str, Any], *, body: str | None = None, user: str | Actor | None = None) -> dict[str, Any]:
    """Change `comment.body` and/or `comment.user` (issue_comment, pull_request_review_comment)."""
    comment = payload.get("comment")
    if not isinstance(comment, dict):
        raise KeyError("this payload has no comment")
    if body is not None:
        comment["body"] = body
    if user is not None:
        _set_account(comment.setdefault("user", {}), _actor(user))
    return payload


# ----- signing and delivery --------------------------------------------------------------------------


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, body: bytes) -> str:
    """`X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the raw body, keyed with the UTF-8 secret."""
    return "sha256=" + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def sign_sha1(secret: str | bytes, body: bytes) -> str:
    """Legacy `X-Hub-Signature` (HMAC-SHA1), still sent by GitHub alongside the SHA-256 one."""
    return "sha1=" + hmac.new(_key(secret), body, hashlib.sha1).hexdigest()


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialise a payload the way GitHub does: compact JSON, raw UTF-8 (no ASCII escaping)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def headers(
    event: str,
    body: bytes,
    secret: str | bytes | None,
    delivery_id: str | None = None,
    *,
    hook_id: int = DEFAULT_HOOK_ID,
    app_id: int = DEFAULT_APP_ID,
) -> dict[str, str]:
    """The headers of a GitHub App webhook delivery for `body`.

    With `secret=None` the signature headers are omitted, as GitHub does for a webhook without a
    secret (useful to test that the App refuses unsigned deliveries).
    """
    result = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Hook-Installation-Target-ID": str(app_id),
    }
    if secret is not None:
        result["X-Hub-Signature"] = sign_sha1(secret, body)
        result["X-Hub-Signature-256"] = sign(secret, body)
    return result


def deliver(
    url: str,
    event: str,
    payload: Mapping[str, Any] | bytes,
    secret: str | bytes | None,
    *,
    delivery_id: str | None = None,
    client: httpx.Client | None = None,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> httpx.Response:
    """POST one signed delivery; returns the App's response.

    The payload is serialised once and those exact bytes are both signed and sent (pass bytes to
    send something `encode` would not produce). `client` may be any httpx.Client, including
    FastAPI's TestClient (then `url` can be a path such as "/webhook"). `extra_headers` override
    or add headers, e.g. a wrong signature.
    """
    body = payload if isinstance(payload, bytes) else encode(payload)
    sent = {**headers(event, body, secret, delivery_id), **(extra_headers or {})}
    if client is not None:
        return client.post(url, content=body, headers=sent, timeout=timeout)
    with httpx.Client(timeout=timeout) as own:
        return own.post(url, content=body, headers=sent)
