"""The double's world: App, users, repositories, installations, issues, comments, PRs, check runs, tokens.

Why a separate module: tests seed and inspect this state directly while the App mutates it over HTTP from other
threads; every access goes through ``State.lock`` (re-entrant) so both sides see consistent snapshots.
"""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

Role = Literal["admin", "maintain", "write", "triage", "read", "none"]
ROLES: tuple[str, ...] = ("admin", "maintain", "write", "triage", "read", "none")
# Collaborator API "permission" is the legacy 4-level view of the role.
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}

DEFAULT_APP_PERMISSIONS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "checks": "write",
    "metadata": "read",
}
DEFAULT_APP_EVENTS = ["issues", "issue_comment", "pull_request_review", "pull_request_review_comment"]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(ts: datetime | None) -> str | None:
    """GitHub's timestamp format; githubkit parses token expiry with exactly ``%Y-%m-%dT%H:%M:%SZ``."""
    return None if ts is None else ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, ident: int) -> str:
    """Opaque, GitHub-looking global node id (``I_kwDO...``)."""
    return f"{prefix}_kwDO" + base64.b64encode(ident.to_bytes(8, "big")).decode().rstrip("=")


@dataclass
class User:
    login: str
    id: int
    type: Literal["User", "Bot", "Organization"] = "User"
    name: str | None = None
    created_at: datetime = field(default_factory=now)

    @property
    def node_prefix(self) -> str:
        return {"User": "U", "Bot": "BOT", "Organization": "O"}[self.type]


@dataclass
class App:
    id: int
    slug: str
    name: str
    client_id: str
    owner: User
    private_key_pem: str
    public_key_pem: str
    permissions: dict[str, str]
    events: list[str]
    bot: User
    created_at: datetime = field(default_factory=now)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    default_branch: str
    path: Path
    private: bool = True
    description: str | None = None
    drafts: bool = True
    """False: draft pull requests are refused with 422, as on private repositories of plans without drafts."""
    collaborators: dict[str, str] = field(default_factory=dict)  # lower-case login -> role
    labels: dict[str, Label] = field(default_factory=dict)  # lower-case name -> label
    next_number: int = 1
    created_at: datetime = field(default_factory=now)
    pushed_at: datetime = field(default_factory=now)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    def role_of(self, login: str) -> str:
        if login.lower() == self.owner.login.lower() and self.owner.type == "User":
            return "admin"
        return self.collaborators.get(login.lower(), "none")


@dataclass
class Issue:
    repo: Repo
    number: int
    id: int
    title: str
    body: str | None
    user: User
    labels: list[Label] = field(default_factory=list)
    state: Literal["open", "closed"] = "open"
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    closed_at: datetime | None = None
    comment_count: int = 0
    pull: PullRequest | None = None
    via_app: bool = False


@dataclass
class PullRequest:
    issue: Issue
    id: int
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    draft: bool = False
    maintainer_can_modify: bool = False
    merged_at: datetime | None = None

    @property
    def number(self) -> int:
        return self.issue.number

    @property
    def repo(self) -> Repo:
        return self.issue.repo


@dataclass
class Comment:
    id: int
    issue: Issue
    body: str
    user: User
    via_app: bool
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class Reaction:
    id: int
    subject: Literal["issue", "comment"]
    subject_id: int  # issue id or comment id
    content: str
    user: User
    created_at: datetime = field(default_factory=now)


@dataclass
class CheckRun:
    id: int
    repo: Repo
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    started_at: datetime | None = field(default_factory=now)
    completed_at: datetime | None = None
    details_url: str | None = None
    external_id: str | None = None
    output: dict[str, str | None] = field(default_factory=dict)
    check_suite_id: int = 0
    annotations_count: int = 0


@dataclass
class Installation:
    id: int
    account: User
    repository_selection: Literal["all", "selected"]
    repo_ids: set[int]
    permissions: dict[str, str]
    events: list[str]
    created_at: datetime = field(default_factory=now)
    suspended: bool = False


@dataclass
class Token:
    token: str
    installation: Installation
    repo_ids: frozenset[int] | None  # None: every repository the installation covers, now and later
    permissions: dict[str, str]
    expires_at: datetime


def _generate_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class State:
    """All mutable data of one double instance. Callers hold ``lock`` while reading or mutating."""

    def __init__(self, root: Path, app_slug: str = "ai-fix-test", app_id: int = 1_234_567) -> None:
        self.lock = threading.RLock()
        self.root = root
        self._ids = itertools.count(100_000_001)
        # Installation ids differ between doubles too (githubkit's token cache is keyed by them).
        self._inst_ids = itertools.count(50_000_000 + secrets.randbelow(40_000_000))
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}  # lower-case "owner/name"
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.issues: dict[tuple[int, int], Issue] = {}  # (repo id, number)
        self.comments: dict[int, Comment] = {}
        self.reactions: list[Reaction] = []
        self.checks: dict[int, CheckRun] = {}
        owner = self.add_user("ai-fix-dev", type="Organization")
        bot = self.add_user(f"{app_slug}[bot]", type="Bot", id=41_000_000 + app_id % 1_000_000)
        private, public = _generate_key()
        self.app = App(
            id=app_id,
            slug=app_slug,
            name=app_slug.replace("-", " ").title(),
            client_id="Iv23li" + secrets.token_hex(7),
            owner=owner,
            private_key_pem=private,
            public_key_pem=public,
            permissions=dict(DEFAULT_APP_PERMISSIONS),
            events=list(DEFAULT_APP_EVENTS),
            bot=bot,
        )

    def next_id(self) -> int:
        return next(self._ids)

    # ----- users -----
    def add_user(
        self,
        login: str,
        type: Literal["User", "Bot", "Organization"] = "User",
        id: int | None = None,
        name: str | None = None,
    ) -> User:
        with self.lock:
            if login.lower() in self.users:
                raise ValueError(f"user {login!r} exists")
            user = User(login=login, id=id if id is not None else self.next_id(), type=type, name=name)
            self.users[login.lower()] = user
            return user

    def user(self, login: str) -> User | None:
        with self.lock:
            return self.users.get(login.lower())

    # ----- repositories -----
    def repo(self, owner: str, name: str) -> Repo | None:
        with self.lock:
            return self.repos.get(f"{owner}/{name}".lower())

    def repo_by_id(self, repo_id: int) -> Repo | None:
        with self.lock:
            return next((r for r in self.repos.values() if r.id == repo_id), None)

    def repo_dir(self, owner: str, name: str) -> Path:
        return self.root / owner.lower() / f"{name.lower()}.git"

    def register_repo(
        self, owner: User, name: str, default_branch: str, private: bool, description: str | None
    ) -> Repo:
        with self.lock:
            key = f"{owner.login}/{name}".lower()
            if key in self.repos:
                raise ValueError(f"repository {key} exists")
            repo = Repo(
                id=self.next_id(),
                owner=owner,
                name=name,
                default_branch=default_branch,
                path=self.repo_dir(owner.login, name),
                private=private,
                description=description,
            )
            self.repos[key] = repo
            for inst in self.installations.values():
                if inst.account.id == owner.id and inst.repository_selection == "all":
                    inst.repo_ids.add(repo.id)
            return repo

    def label(self, repo: Repo, name: str) -> Label:
        with self.lock:
            lab = repo.labels.get(name.lower())
            if lab is None:
                lab = repo.labels[name.lower()] = Label(id=self.next_id(), name=name)
            return lab

    # ----- issues -----
    def add_issue(self, repo: Repo, title: str, body: str | None, user: User, labels: list[str]) -> Issue:
        with self.lock:
            issue = Issue(
                repo=repo,
                number=repo.next_number,
                id=self.next_id(),
                title=title,
                body=body,
                user=user,
                labels=[self.label(repo, n) for n in labels],
            )
            repo.next_number += 1
            self.issues[(repo.id, issue.number)] = issue
            return issue

    def issue(self, repo: Repo, number: int) -> Issue | None:
        with self.lock:
            return self.issues.get((repo.id, number))

    # ----- installations and tokens -----
    def add_installation(
        self, account: User, repos: list[Repo] | None, permissions: dict[str, str] | None = None, id: int | None = None
    ) -> Installation:
        with self.lock:
            if any(i.account.id == account.id for i in self.installations.values()):
                raise ValueError(f"the App is already installed on {account.login}")
            selection: Literal["all", "selected"] = "all" if repos is None else "selected"
            ids = (
                {r.id for r in self.repos.values() if r.owner.id == account.id}
                if repos is None
                else {r.id for r in repos}
            )
            for r in repos or []:
                if r.owner.id != account.id:
                    raise ValueError(f"{r.full_name} is not owned by {account.login}")
            inst = Installation(
                id=id if id is not None else next(self._inst_ids),
                account=account,
                repository_selection=selection,
                repo_ids=ids,
                permissions=dict(permissions or self.app.permissions),
                events=list(self.app.events),
            )
            self.installations[inst.id] = inst
            return inst

    def installation_for_repo(self, repo: Repo) -> Installation | None:
        with self.lock:
            return next((i for i in self.installations.values() if repo.id in i.repo_ids), None)

    def mint_token(self, inst: Installation, repo_ids: frozenset[int] | None, permissions: dict[str, str]) -> Token:
        with self.lock:
            tok = Token(
                token="ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36],
                installation=inst,
                repo_ids=repo_ids,
                permissions=permissions,
                expires_at=now() + timedelta(hours=1),
            )
            self.tokens[tok.token] = tok
            return tok

    def token_repo_ids(self, tok: Token) -> set[int]:
        with self.lock:
            ids = set(tok.installation.repo_ids)
            return ids if tok.repo_ids is None else ids & set(tok.repo_ids)
