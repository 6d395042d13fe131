"""Tests of the GitHub double itself, driven the way the App drives GitHub (githubkit + git over HTTP)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit import AppAuthStrategy, GitHub
from githubkit.exception import RequestError, RequestFailed
from githubkit.utils import Unset

from tests.doubles.github import GitHubDouble
from tests.doubles.github.fixtures import assert_no_violations, github_double  # noqa: F401  (fixture)
from tests.doubles.github.openapi import SpecValidator, load_spec

REPO = "octo-org/widgets"
OWNER, NAME = REPO.split("/")
FILES = {"README.md": "# widgets\n", "src/widgets.py": "def area(w, h):\n    return w * h\n"}


@pytest.fixture
def world(github_double: GitHubDouble) -> GitHubDouble:  # noqa: F811
    """A private repo with an issue by a maintainer, and the App installed on it."""
    d = github_double
    d.add_repo(REPO, FILES)
    d.add_user("alice")
    d.set_role(REPO, "alice", "maintain")
    d.add_issue(REPO, "area() is wrong for squares", "Please fix", user="alice", labels=["ai-fix"])
    d.install(OWNER, [REPO])
    return d


@pytest.fixture
def app(world: GitHubDouble) -> Iterator[GitHub[Any]]:
    """The App's client exactly as production builds it; only base_url differs."""
    gh = GitHub(AppAuthStrategy(world.app_id, world.private_key_pem), base_url=world.url, auto_retry=False)
    with gh:
        yield gh


def installation_client(app: GitHub[Any], **narrowing: Any) -> GitHub[Any]:
    inst_id = app.rest.apps.get_repo_installation(OWNER, NAME).parsed_data.id
    return app.with_auth(app.auth.as_installation(inst_id, **narrowing))


def git(
    *args: str, cwd: Path | None = None, token: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run git the way the App does: the token travels only in an env-configured header."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_AUTHOR_NAME": "ai-fix-test[bot]",
            "GIT_AUTHOR_EMAIL": "41234567+ai-fix-test[bot]@users.noreply.github.com",
            "GIT_COMMITTER_NAME": "ai-fix-test[bot]",
            "GIT_COMMITTER_EMAIL": "41234567+ai-fix-test[bot]@users.noreply.github.com",
        }
    )
    if token is not None:
        env.update(GitHubDouble.git_auth_env(token))
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args} failed: {proc.stderr}")
    return proc


def token_of(app: GitHub[Any], **narrowing: Any) -> str:
    """An installation token for git, minted by the App as production does (never stored in a URL or file)."""
    inst_id = app.rest.apps.get_repo_installation(OWNER, NAME).parsed_data.id
    return app.rest.apps.create_installation_access_token(inst_id, **narrowing).parsed_data.token


def clone_edit_push(d: GitHubDouble, token: str, tmp: Path, branch: str) -> str:
    work = tmp / "work"
    git("clone", "--quiet", d.git_url(REPO), str(work), token=token)
    (work / "src" / "widgets.py").write_text("def area(w, h):\n    return w * h  # squares too\n")
    git("checkout", "--quiet", "-b", branch, cwd=work)
    git("commit", "--quiet", "-am", "Fix area", cwd=work)
    git("push", "--quiet", "origin", branch, cwd=work, token=token)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


# ---------------------------------------------------------------------------------------------------------------
def test_full_app_flow_validates_clean(world: GitHubDouble, app: GitHub[Any], tmp_path: Path) -> None:
    d = world
    me = app.rest.apps.get_authenticated().parsed_data
    assert me is not None and me.slug == d.app_slug
    gh = installation_client(app)

    perm = gh.rest.repos.get_collaborator_permission_level(OWNER, NAME, "alice").parsed_data
    assert (perm.permission, perm.role_name) == ("write", "maintain")
    bot = gh.rest.users.get_by_username(d.bot_login).parsed_data
    assert (bot.login, bot.type, bot.id) == (d.bot_login, "Bot", d.bot_id)
    issue = gh.rest.issues.get(OWNER, NAME, 1).parsed_data
    assert [lab.name for lab in issue.labels if not isinstance(lab, str)] == ["ai-fix"]

    gh.rest.reactions.create_for_issue(OWNER, NAME, 1, content="eyes")
    comment = gh.rest.issues.create_comment(OWNER, NAME, 1, body="<!-- ai-fix:run=1 -->\nWorking").parsed_data
    assert comment.user is not None and comment.user.login == d.bot_login and comment.user.type == "Bot"
    via = comment.performed_via_github_app
    assert via and not isinstance(via, Unset) and via.id == d.app_id
    gh.rest.issues.update_comment(OWNER, NAME, comment.id, body="<!-- ai-fix:run=1 -->\nDone")
    again = gh.rest.reactions.create_for_issue_comment(OWNER, NAME, comment.id, content="rocket")
    assert again.status_code == 201
    assert gh.rest.reactions.create_for_issue_comment(OWNER, NAME, comment.id, content="rocket").status_code == 200

    repo = gh.rest.repos.get(OWNER, NAME).parsed_data
    assert repo.clone_url == d.git_url(REPO) and repo.default_branch == "main"
    head_sha = clone_edit_push(d, token_of(app), tmp_path, "ai-fix/issue-1")
    assert d.branch_sha(REPO, "ai-fix/issue-1") == head_sha

    pr = gh.rest.pulls.create(
        OWNER, NAME, title="Fix area", head="ai-fix/issue-1", base="main", body="Fixes #1", draft=True
    ).parsed_data
    assert (pr.number, pr.head.sha, pr.draft, pr.user.login) == (2, head_sha, True, d.bot_login)
    with pytest.raises(RequestFailed) as dup:
        gh.rest.pulls.create(OWNER, NAME, title="again", head="ai-fix/issue-1", base="main")
    assert dup.value.response.status_code == 422
    assert "A pull request already exists" in dup.value.response.text

    listed = gh.rest.pulls.list(OWNER, NAME, head=f"{OWNER}:ai-fix/issue-1", state="open").parsed_data
    assert [p.number for p in listed] == [2]
    assert gh.rest.pulls.list(OWNER, NAME, head=f"{OWNER}:other").parsed_data == []
    diff = gh.rest.pulls.get(OWNER, NAME, 2, headers={"Accept": "application/vnd.github.diff"}).text
    assert diff == d.pull_diff(REPO, 2) and "+    return w * h  # squares too" in diff
    gh.rest.pulls.update(OWNER, NAME, 2, body="Fixes #1 (updated)")

    run = gh.rest.checks.create(
        OWNER,
        NAME,
        name="ai-fix",
        head_sha=head_sha,
        status="in_progress",
        output={"title": "Working", "summary": "started"},
    ).parsed_data
    assert run.conclusion is None and [p.number for p in run.pull_requests] == [2]
    done = gh.rest.checks.update(
        OWNER, NAME, run.id, conclusion="success", output={"title": "Done", "summary": "ok"}
    ).parsed_data
    assert (done.status, done.conclusion) == ("completed", "success")

    assert [c["body"] for c in d.comments(REPO, 1)] == ["<!-- ai-fix:run=1 -->\nDone"]
    assert [r["content"] for r in d.reactions(REPO, issue=1)] == ["eyes"]
    assert [r["content"] for r in d.reactions(REPO, comment_id=comment.id)] == ["rocket"]
    assert [(p["number"], p["body"]) for p in d.pulls(REPO)] == [(2, "Fixes #1 (updated)")]
    assert [c["conclusion"] for c in d.check_runs(REPO)] == ["success"]
    assert ("POST", f"/repos/{REPO}/pulls", 201) in [(r.method, r.path, r.status) for r in d.requests]
    assert d.violations == []


def test_validator_reports_broken_responses_and_requests(world: GitHubDouble, app: GitHub[Any]) -> None:
    d = world
    validator = SpecValidator()
    gh = installation_client(app)
    good = gh.rest.issues.create_comment(OWNER, NAME, 1, body="hello").json()
    path = f"/repos/{REPO}/issues/comments/{good['id']}"
    assert validator.validate_response("PATCH", path, 200, {}, json.dumps(good).encode()) == []

    broken = dict(good)
    del broken["user"]  # required
    broken["id"] = str(good["id"])  # wrong type
    problems = validator.validate_response("PATCH", path, 200, {}, json.dumps(broken).encode())
    assert any("'user' is a required property" in p for p in problems)
    assert any("is not of type 'integer'" in p for p in problems)
    # nullable means null is fine; a non-nullable field set to null is not.
    assert (
        validator.validate_response(
            "PATCH", path, 200, {}, json.dumps(good | {"performed_via_github_app": None}).encode()
        )
        == []
    )
    assert validator.validate_response("PATCH", path, 200, {}, json.dumps(good | {"html_url": None}).encode())

    # Over HTTP: an undocumented endpoint and a schema-violating body are recorded and answered with errors.
    token = token_of(app)
    with httpx.Client(base_url=d.url, headers={"Authorization": f"token {token}"}) as http:
        assert http.get(f"/repos/{REPO}/not-a-github-endpoint").status_code == 404
        assert http.post(f"/repos/{REPO}/issues/1/comments", json={"body": 42}).status_code == 422
        assert http.post(f"/repos/{REPO}/issues/1/comments", content=b"{not json").status_code == 400
        assert http.get(f"/repos/{REPO}/pulls", params={"state": "merged"}).status_code == 422
    kinds = [(v.kind, v.path) for v in d.violations]
    assert ("request", f"/repos/{REPO}/not-a-github-endpoint") in kinds
    assert len([k for k in kinds if k == ("request", f"/repos/{REPO}/issues/1/comments")]) == 2
    assert ("request", f"/repos/{REPO}/pulls") in kinds
    assert len(d.comments(REPO, 1)) == 1
    with pytest.raises(pytest.fail.Exception, match="OpenAPI violation"):
        assert_no_violations(d)  # what the fixture runs at teardown
    d.clear_violations()  # they were the point of this test


def test_validation_is_fast_once_loaded() -> None:
    spec = load_spec()
    validator = SpecValidator(spec)
    example = spec.raw["components"]["examples"]["issue-comment"]["value"]
    body = json.dumps(example).encode()
    validator.validate_response("GET", "/repos/o/r/issues/comments/1", 200, {}, body)
    start = time.perf_counter()
    for _ in range(20):
        assert validator.validate_response("GET", "/repos/o/r/issues/comments/1", 200, {}, body) == []
        assert validator.validate_request("POST", "/repos/o/r/issues/1/comments", [], {}, b'{"body":"x"}') == []
    per_pair = (time.perf_counter() - start) / 20
    assert per_pair < 0.1, per_pair


def test_bad_app_jwts_are_refused(world: GitHubDouble) -> None:
    d = world
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    imposter = GitHub(AppAuthStrategy(d.app_id, other_key.decode()), base_url=d.url, auto_retry=False)
    with pytest.raises(RequestFailed) as exc:
        imposter.rest.apps.get_authenticated()
    assert exc.value.response.status_code == 401
    assert "could not be decoded" in exc.value.response.text

    now = int(time.time())

    def sign(claims: dict[str, Any]) -> str:
        return jwt.encode(claims, d.private_key_pem, algorithm="RS256")

    cases = {
        "expired": {"iss": str(d.app_id), "iat": now - 700, "exp": now - 60},
        "too long": {"iss": str(d.app_id), "iat": now - 60, "exp": now + 3600},
        "wrong iss": {"iss": "999", "iat": now - 60, "exp": now + 540},
        "no iat": {"iss": str(d.app_id), "exp": now + 540},
    }
    with httpx.Client(base_url=d.url) as http:
        for name, claims in cases.items():
            r = http.get("/app", headers={"Authorization": f"Bearer {sign(claims)}"})
            assert r.status_code == 401, name
        ok_client_id = sign({"iss": d.client_id, "iat": now - 60, "exp": now + 540})
        assert http.get("/app", headers={"Authorization": f"Bearer {ok_client_id}"}).status_code == 200
        assert http.get("/app").status_code == 401
        # A JWT is not an installation token.
        assert http.get(f"/repos/{REPO}", headers={"Authorization": f"Bearer {ok_client_id}"}).status_code == 403
        assert http.get(f"/repos/{REPO}", headers={"Authorization": "token ghs_bogus"}).status_code == 401


def test_tokens_are_scoped_to_repositories_and_permissions(world: GitHubDouble, app: GitHub[Any]) -> None:
    d = world
    d.add_repo(f"{OWNER}/secret", {"x.txt": "x\n"})
    d.add_repo("someone/elsewhere", {"y.txt": "y\n"})
    d.add_issue(f"{OWNER}/secret", "hidden", user="alice")

    read_only = installation_client(app, permissions={"issues": "read", "metadata": "read"})
    assert read_only.rest.issues.get(OWNER, NAME, 1).parsed_data.number == 1
    with pytest.raises(RequestFailed) as exc:
        read_only.rest.issues.create_comment(OWNER, NAME, 1, body="nope")
    assert exc.value.response.status_code == 403
    assert exc.value.response.json()["message"] == "Resource not accessible by integration"
    with pytest.raises(RequestFailed) as exc:
        read_only.rest.pulls.list(OWNER, NAME)
    assert exc.value.response.status_code == 403

    gh = installation_client(app)
    for owner, name in ((OWNER, "secret"), ("someone", "elsewhere")):  # not installed / other account
        with pytest.raises(RequestFailed) as exc:
            gh.rest.issues.get(owner, name, 1)
        assert exc.value.response.status_code == 404

    # Keep each GitHub object in a variable: its .rest namespace only holds a weak reference to it.
    # A failed token exchange inside githubkit's auth flow surfaces as RequestError wrapping RequestFailed.
    narrowed_outside = installation_client(app, repositories=["secret"])
    with pytest.raises(RequestError) as wrapped:
        narrowed_outside.rest.repos.get(OWNER, "secret")
    assert isinstance(wrapped.value.__cause__, RequestFailed)
    assert wrapped.value.__cause__.response.status_code == 422  # cannot narrow to a repo outside the installation
    too_much = installation_client(app, permissions={"administration": "write"})
    with pytest.raises(RequestError) as wrapped:
        too_much.rest.repos.get(OWNER, NAME)
    assert isinstance(wrapped.value.__cause__, RequestFailed)
    assert wrapped.value.__cause__.response.status_code == 422
    assert d.comments(REPO, 1) == []


def test_git_requires_a_token_with_contents_permission(world: GitHubDouble, app: GitHub[Any], tmp_path: Path) -> None:
    d = world
    url = d.git_url(REPO)
    anonymous = git("clone", "--quiet", url, str(tmp_path / "anon"), check=False)
    assert anonymous.returncode != 0
    with httpx.Client() as http:
        r = http.get(f"{url}/info/refs", params={"service": "git-upload-pack"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        bad = base64.b64encode(b"x-access-token:ghs_wrong").decode()
        r = http.get(
            f"{url}/info/refs", params={"service": "git-receive-pack"}, headers={"Authorization": f"Basic {bad}"}
        )
        assert r.status_code == 401

    token = token_of(app)
    work = tmp_path / "work"
    git("clone", "--quiet", url, str(work), token=token)
    assert (work / "src" / "widgets.py").exists()
    assert "x-access-token" not in (work / ".git" / "config").read_text()
    (work / "new.txt").write_text("new\n")
    git("add", "new.txt", cwd=work)
    git("commit", "--quiet", "-m", "new", cwd=work)
    git("checkout", "--quiet", "-b", "feature", cwd=work)

    assert git("push", "origin", "feature", cwd=work, check=False).returncode != 0  # no token
    read_token = token_of(app, permissions={"contents": "read"})
    refused = git("push", "origin", "feature", cwd=work, token=read_token, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert d.branch_sha(REPO, "feature") is None

    wf = work / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text("on: push\n")
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "ci", cwd=work)
    refused = git("push", "origin", "feature", cwd=work, token=token, check=False)
    assert refused.returncode != 0 and "without `workflows` permission" in refused.stderr
    git("reset", "--quiet", "--hard", "HEAD~1", cwd=work)
    git("push", "--quiet", "origin", "feature", cwd=work, token=token)
    assert d.read_file(REPO, "feature", "new.txt") == b"new\n"


def test_pull_request_rules(world: GitHubDouble, app: GitHub[Any], tmp_path: Path) -> None:
    d = world
    gh = installation_client(app)
    for head, base in (("missing-branch", "main"), ("main", "main"), ("main", "missing-base")):
        with pytest.raises(RequestFailed) as exc:
            gh.rest.pulls.create(OWNER, NAME, title="t", head=head, base=base)
        assert exc.value.response.status_code == 422, (head, base)
    clone_edit_push(d, token_of(app), tmp_path, "fix")
    with pytest.raises(RequestFailed) as exc:
        gh.rest.pulls.create(OWNER, NAME, title="t", head="fix", base="main", body="x" * 65_537)
    assert exc.value.response.status_code == 422
    with pytest.raises(RequestFailed) as exc:
        gh.rest.issues.create_comment(OWNER, NAME, 1, body="y" * 65_537)
    assert exc.value.response.status_code == 422
    assert d.pulls(REPO) == [] and d.comments(REPO, 1) == []
    pr = gh.rest.pulls.create(OWNER, NAME, title="t", head="fix", base="main", body="x" * 65_536).parsed_data
    # A bare branch name in `head` is ignored by GitHub's filter, not an error.
    assert [p.number for p in gh.rest.pulls.list(OWNER, NAME, head="fix").parsed_data] == [pr.number]
    closed = gh.rest.pulls.update(OWNER, NAME, pr.number, state="closed").parsed_data
    assert closed.state == "closed" and gh.rest.pulls.list(OWNER, NAME).parsed_data == []


def test_collaborator_permission_mapping(world: GitHubDouble, app: GitHub[Any]) -> None:
    d = world
    gh = installation_client(app)
    expected = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}
    for role, legacy in expected.items():
        d.set_role(REPO, f"user-{role}", role)
        got = gh.rest.repos.get_collaborator_permission_level(OWNER, NAME, f"user-{role}").parsed_data
        assert (got.permission, got.role_name) == (legacy, role)
    d.add_user("stranger")
    got = gh.rest.repos.get_collaborator_permission_level(OWNER, NAME, "stranger").parsed_data
    assert got.permission == "none"  # private repository
    with pytest.raises(RequestFailed) as exc:
        gh.rest.repos.get_collaborator_permission_level(OWNER, NAME, "ghost")
    assert exc.value.response.status_code == 404


def test_faults(world: GitHubDouble) -> None:
    d = world
    retrying = GitHub(AppAuthStrategy(d.app_id, d.private_key_pem), base_url=d.url)  # auto_retry on
    strict = GitHub(AppAuthStrategy(d.app_id, d.private_key_pem), base_url=d.url, auto_retry=False)
    gh = installation_client(retrying)
    gh_strict = installation_client(strict)

    d.inject_fault("bad_gateway", method="GET", path=r"/issues/1$")
    start = time.monotonic()
    assert gh.rest.issues.get(OWNER, NAME, 1).parsed_data.number == 1  # githubkit retried after ~1 s
    assert time.monotonic() - start >= 0.9
    statuses = [r.status for r in d.requests if r.path == f"/repos/{REPO}/issues/1"]
    assert statuses == [502, 200]

    d.inject_fault("secondary", method="POST", path=r"/comments$", retry_after=1)
    with pytest.raises(RequestFailed) as exc:
        gh_strict.rest.issues.create_comment(OWNER, NAME, 1, body="x")
    assert exc.value.response.status_code == 403 and exc.value.response.headers["retry-after"] == "1"

    d.inject_fault("primary", path=r"/pulls$", reset_in=1)
    with pytest.raises(RequestFailed) as exc:
        gh_strict.rest.pulls.list(OWNER, NAME)
    headers = exc.value.response.headers
    assert (exc.value.response.status_code, headers["x-ratelimit-remaining"]) == (403, "0")
    assert int(headers["x-ratelimit-reset"]) >= int(time.time())

    with httpx.Client(base_url=d.url) as http:
        created = http.post("/_double/faults", json={"kind": "too_many", "path": "/pulls$", "count": 2})
        assert created.status_code == 201
    for _ in range(2):
        with pytest.raises(RequestFailed) as exc:
            gh_strict.rest.pulls.list(OWNER, NAME)
        assert exc.value.response.status_code == 429
    assert gh_strict.rest.pulls.list(OWNER, NAME).parsed_data == []

    d.inject_fault("delay", path=r"/issues/1$", delay=0.5)
    start = time.monotonic()
    gh_strict.rest.issues.get(OWNER, NAME, 1)
    assert time.monotonic() - start >= 0.5
    assert d.comments(REPO, 1) == []


def test_repository_from_local_git_dir(github_double: GitHubDouble, tmp_path: Path) -> None:  # noqa: F811
    d = github_double
    src = tmp_path / "src"
    git("init", "--quiet", "--initial-branch=trunk", str(src))
    (src / "hello.txt").write_text("hello\n")
    git("add", ".", cwd=src)
    git("commit", "--quiet", "-m", "hello", cwd=src)
    git("branch", "feature", cwd=src)
    repo = d.add_repo("me/local", source=src)
    assert repo.default_branch == "trunk"
    assert d.branch_sha("me/local", "feature") == git("rev-parse", "HEAD", cwd=src).stdout.strip()
    inst = d.install("me")  # all repositories of the account
    token = d.mint_token(inst.id)
    git("clone", "--quiet", d.git_url("me/local"), str(tmp_path / "clone"), token=token)
    assert (tmp_path / "clone" / "hello.txt").read_text() == "hello\n"
