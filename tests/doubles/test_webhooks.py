"""The webhook helper: GitHub's signature test vector, payload loading and overrides, headers, delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.doubles import webhooks
from tests.doubles.github.openapi import read_json
from tests.doubles.webhooks import DELETE, Actor, deliver, headers, load_payload, sign

SPEC = "data/github-openapi/api.github.com.json"


# ----- signing -------------------------------------------------------------------------------------


def test_sign_matches_githubs_documented_test_vector() -> None:
    # docs.github.com "Validating webhook deliveries" > "Testing the webhook payload validation"
    assert sign("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_sha1_signature_of_the_same_vector() -> None:
    # Not documented by GitHub; computed independently in tests/data/shared/data/github-webhooks/SOURCES.md.
    assert webhooks.sign_sha1("It's a Secret to Everybody", b"Hello, World!") == (
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"
    )


# ----- loading -------------------------------------------------------------------------------------


def test_examples_are_found() -> None:
    files = webhooks.example_files()
    assert len(files) == 48
    assert ("issues", "labeled.payload.json") in files


@pytest.mark.parametrize(("event", "file_name"), webhooks.example_files())
def test_every_example_loads_and_gains_an_installation(event: str, file_name: str) -> None:
    payload = load_payload(event, file_name, installation_id=77)

    assert payload["installation"]["id"] == 77
    assert payload["installation"]["node_id"] == webhooks.node_id("IntegrationInstallation", 77)
    assert "sender" in payload


def test_installation_none_leaves_the_example_alone() -> None:
    assert "installation" not in load_payload("issues", "labeled", installation_id=None)
    kept = load_payload("installation", "created", installation_id=None)["installation"]
    assert (kept["id"], kept["app_id"]) == (957387, 29310)


def test_existing_installation_object_keeps_its_other_fields() -> None:
    installation = load_payload("installation", "created")["installation"]
    assert installation["id"] == webhooks.DEFAULT_INSTALLATION_ID
    assert installation["app_id"] == 29310 and installation["account"]["login"] == "Codertocat"


def test_node_id_matches_githubs_legacy_format() -> None:
    example = load_payload("issue_comment", "created.with-installation", installation_id=None)
    assert webhooks.node_id("IntegrationInstallation", 1) == example["installation"]["node_id"]
    assert webhooks.node_id("User", 21031067) == example["sender"]["node_id"]


def test_name_forms_and_errors() -> None:
    assert load_payload("ping")["zen"]
    assert load_payload("pull_request", "opened.with-null-body")["pull_request"]["body"] is None
    assert load_payload("issues", "opened.payload.json")["action"] == "opened"
    with pytest.raises(FileNotFoundError, match="available: .*labeled.payload.json"):
        load_payload("issues", "reopened")
    with pytest.raises(FileNotFoundError, match="no webhook examples"):
        load_payload("push")


def test_each_load_is_a_fresh_copy() -> None:
    first = load_payload("issues", "labeled")
    first["issue"]["title"] = "mutated"
    assert load_payload("issues", "labeled")["issue"]["title"] == "Spelling error in the README file"


def test_shared_dir_is_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "data" / "github-webhooks" / "issues").mkdir(parents=True)
    (tmp_path / "data" / "github-webhooks" / "issues" / "opened.payload.json").write_text(
        '{"action": "opened", "sender": {"login": "x"}}'
    )
    monkeypatch.setenv("AI_FIX_SHARED_DIR", str(tmp_path))

    assert webhooks.example_files() == [("issues", "opened.payload.json")]
    assert load_payload("issues", "opened")["installation"]["id"] == webhooks.DEFAULT_INSTALLATION_ID


# ----- overrides -----------------------------------------------------------------------------------


def all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)
    elif isinstance(value, str):
        yield value


def test_repository_override_rewrites_names_and_urls() -> None:
    payload = load_payload(
        "issues", "labeled", repo="acme/widgets", clone_url="http://127.0.0.1:9999/git/acme/widgets.git"
    )

    repository = payload["repository"]
    assert (repository["name"], repository["full_name"]) == ("widgets", "acme/widgets")
    assert repository["owner"]["login"] == "acme"
    assert repository["owner"]["html_url"] == "https://github.com/acme"
    assert repository["clone_url"] == "http://127.0.0.1:9999/git/acme/widgets.git"
    assert repository["ssh_url"] == "git@github.com:acme/widgets.git"
    assert payload["issue"]["url"] == "https://api.github.com/repos/acme/widgets/issues/1"
    assert not [s for s in all_strings(payload) if "Hello-World" in s]
    assert payload["sender"]["login"] == "Codertocat"  # other accounts are untouched


def test_issue_override_moves_urls_with_the_number() -> None:
    payload = load_payload(
        "issue_comment", "created", issue_number=57, issue_title="Crash on empty input", issue_body=None
    )

    issue = payload["issue"]
    assert (issue["number"], issue["title"], issue["body"]) == (57, "Crash on empty input", None)
    assert issue["html_url"].endswith("/issues/57")
    assert issue["labels_url"].endswith("/issues/57/labels{/name}")
    assert payload["comment"]["issue_url"].endswith("/issues/57")
    assert "/issues/57#issuecomment-" in payload["comment"]["html_url"]


def test_issue_comment_on_a_pull_request() -> None:
    payload = load_payload("issue_comment", "created", on_pull_request=True)
    pull = payload["issue"]["pull_request"]
    assert pull["html_url"] == "https://github.com/Codertocat/Hello-World/pull/1"
    assert pull["diff_url"].endswith("/pull/1.diff")


def test_label_override_updates_the_issue_labels_too() -> None:
    payload = load_payload("issues", "labeled", label="ai-fix")

    assert payload["label"]["name"] == "ai-fix"
    assert payload["label"]["url"].endswith("/labels/ai-fix")
    assert [lab["name"] for lab in payload["issue"]["labels"]] == ["ai-fix"]


def test_sender_and_comment_overrides() -> None:
    payload = load_payload(
        "issue_comment",
        "created",
        sender=Actor("ai-fix[bot]", id=41000001, type="Bot"),
        comment_body="/ai-fix retry",
        comment_user="octocat",
    )

    sender = payload["sender"]
    assert (sender["login"], sender["id"], sender["type"]) == ("ai-fix[bot]", 41000001, "Bot")
    assert sender["html_url"] == "https://github.com/ai-fix[bot]"
    assert payload["comment"]["body"] == "/ai-fix retry"
    assert payload["comment"]["user"]["login"] == "octocat"
    assert payload["comment"]["user"]["id"] == Actor("octocat").resolved_id != sender["id"]


def test_deep_merge_adds_replaces_and_deletes() -> None:
    payload = load_payload(
        "issues",
        "labeled",
        merge={"issue": {"state": "closed", "assignee": DELETE}, "organization": {"login": "acme"}},
    )

    assert payload["issue"]["state"] == "closed"
    assert "assignee" not in payload["issue"]
    assert payload["issue"]["title"] == "Spelling error in the README file"
    assert payload["organization"] == {"login": "acme"}


def test_overrides_refuse_payloads_without_the_field() -> None:
    with pytest.raises(KeyError, match="no label"):
        load_payload("issue_comment", "created", label="x")
    with pytest.raises(ValueError, match="owner/name"):
        load_payload("issues", "labeled", repo="no-slash")


# ----- schema validation ---------------------------------------------------------------------------


@cache
def _spec_registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    spec = read_json(webhooks.shared_dir() / SPEC)
    return spec, Registry().with_resource("urn:github", Resource.from_contents(spec, default_specification=DRAFT4))


def schema_errors(webhook: str, payload: dict[str, Any]) -> list[str]:
    """Errors of `payload` against `x-webhooks.<webhook>` in GitHub's OpenAPI description (OAS 3.0)."""
    from openapi_schema_validator import OAS30Validator

    _, registry = _spec_registry()
    ref = f"urn:github#/x-webhooks/{webhook}/post/requestBody/content/application~1json/schema"
    validator = OAS30Validator({"$ref": ref}, registry=registry)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(payload)]


@pytest.mark.parametrize(
    ("webhook", "event", "name", "overrides"),
    [
        ("issues-labeled", "issues", "labeled", {}),
        ("issues-labeled", "issues", "labeled.with-organization", {}),
        (
            "issues-labeled",
            "issues",
            "labeled",
            {"repo": "acme/widgets", "issue_number": 57, "issue_body": None, "label": "ai-fix", "sender": "octocat"},
        ),
        ("issue-comment-created", "issue_comment", "created", {}),
        (
            "issue-comment-created",
            "issue_comment",
            "created",
            {
                "repo": "acme/widgets",
                "issue_number": 57,
                "on_pull_request": True,
                "comment_body": "/ai-fix retry",
                "comment_user": Actor("ai-fix[bot]", type="Bot"),
                "sender": Actor("ai-fix[bot]", type="Bot"),
            },
        ),
    ],
)
def test_payloads_match_githubs_webhook_schema(webhook: str, event: str, name: str, overrides: dict[str, Any]) -> None:
    assert schema_errors(webhook, load_payload(event, name, **overrides)) == []


def test_schema_check_is_not_vacuous() -> None:
    broken = load_payload("issues", "labeled", merge={"issue": {"number": "one"}, "installation": DELETE})
    errors = schema_errors("issues-labeled", broken)
    assert any("'one' is not of type 'integer'" in e for e in errors)


# ----- headers and delivery ------------------------------------------------------------------------


def test_headers_are_complete_and_sign_the_body() -> None:
    body = b'{"action":"labeled"}'
    sent = headers("issues", body, "s3cret", "72d3162e-cc78-11e3-81ab-4c9367dc0958", app_id=99)

    assert sent == {
        "Content-Type": "application/json",
        "User-Agent": webhooks.USER_AGENT,
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Hook-ID": str(webhooks.DEFAULT_HOOK_ID),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Hook-Installation-Target-ID": "99",
        "X-Hub-Signature": "sha1=" + hmac.new(b"s3cret", body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest(),
    }
    assert sent["User-Agent"].startswith("GitHub-Hookshot/")


def test_headers_cover_every_header_githubs_description_lists() -> None:
    spec, _ = _spec_registry()
    documented = {p["name"].lower() for p in spec["x-webhooks"]["issues-labeled"]["post"]["parameters"]}
    assert documented <= {name.lower() for name in headers("issues", b"{}", "s")}


def test_delivery_ids_are_fresh_guids_and_unsigned_without_secret() -> None:
    first, second = headers("ping", b"{}", None), headers("ping", b"{}", None)
    assert first["X-GitHub-Delivery"] != second["X-GitHub-Delivery"]
    assert len(first["X-GitHub-Delivery"]) == 36
    assert "X-Hub-Signature-256" not in first and "X-Hub-Signature" not in first


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_deliver_signs_exactly_the_bytes_it_sends(
    receiver: tuple[str, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    payload = load_payload("issues", "labeled", issue_title="Ünïcode title ✓", label="ai-fix")

    response = deliver(url + "/webhook", "issues", payload, "s3cret", delivery_id="d-1")

    assert response.status_code == 202
    ((path, sent, body),) = received
    assert path == "/webhook"
    assert sent["X-Hub-Signature-256"] == sign("s3cret", body)
    assert sent["X-GitHub-Event"] == "issues" and sent["X-GitHub-Delivery"] == "d-1"
    assert json.loads(body) == payload
    assert "Ünïcode title ✓".encode() in body  # raw UTF-8, like GitHub


def test_deliver_with_a_client_and_raw_bytes(
    receiver: tuple[str, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    import httpx

    url, received = receiver
    with httpx.Client(base_url=url) as client:
        deliver("/hook", "ping", b'{"zen":"x"}', "k", client=client, extra_headers={"X-Hub-Signature-256": "bad"})

    ((_, sent, body),) = received
    assert body == b'{"zen":"x"}'
    assert sent["X-Hub-Signature-256"] == "bad"
    assert sent["X-Hub-Signature"] == webhooks.sign_sha1("k", body)
