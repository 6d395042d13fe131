"""GitHub access for the App, through githubkit: App JWT, installation tokens, the REST calls we make.

Each job mints its own installation token narrowed to the one repository and the permissions the
App uses, and hands git the token only as an environment variable (`git_env`).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.exception import GitHubException, RequestFailed

log = logging.getLogger("ai_fix.github")
Conclusion = Literal["success", "failure", "neutral", "cancelled"]
MAX_BODY_CHARS = 60_000
TOKEN_PERMISSIONS = {"contents": "write", "pull_requests": "write", "issues": "write", "checks": "write",
                     "metadata": "read"}


class GitHubError(Exception):
    """A GitHub API call failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BotIdentity:
    slug: str
    login: str
    user_id: int

    @property
    def email(self) -> str:
        return f"{self.user_id}+{self.login}@users.noreply.github.com"


@dataclass(frozen=True)
class RepoInfo:
    default_branch: str
    clone_url: str


@dataclass(frozen=True)
class IssueInfo:
    title: str
    body: str
    state: str
    is_pull_request: bool


@dataclass(frozen=True)
class PullInfo:
    number: int
    html_url: str
    head_ref: str
    draft: bool


def clip(body: str, limit: int = MAX_BODY_CHARS) -> str:
    """GitHub rejects bodies over 65,536 characters with a 422 and posts nothing: never send one."""
    if len(body) <= limit:
        return body
    note = "\n\n_(cut: the full text was longer than GitHub allows)_"
    return body[: limit - len(note)] + note


@contextmanager
def _calls(what: str) -> Iterator[None]:
    try:
        yield
    except RequestFailed as exc:
        status = exc.response.status_code
        raise GitHubError(f"{what}: GitHub answered {status}: {exc.response.text[:300]}", status) from exc
    except GitHubException as exc:
        raise GitHubError(f"{what}: {type(exc).__name__}: {exc}") from exc


def git_env_for(token: str) -> dict[str, str]:
    """Credentials for git, passed only in the git process's environment, never in a URL or file."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}


class GitHubApp:
    def __init__(self, api_url: str, app_id: int, private_key: str) -> None:
        self.api_url = api_url
        self.app_id = app_id
        self._private_key = private_key
        self._identity: BotIdentity | None = None

    def _client(self, auth: Any) -> GitHub[Any]:
        return GitHub(auth, base_url=self.api_url + "/", user_agent="ai-fix")

    @cached_property
    def slug(self) -> str:
        with self._client(AppAuthStrategy(self.app_id, self._private_key)) as gh, _calls("reading the App"):
            app = gh.rest.apps.get_authenticated().parsed_data
            return str(app.slug) if app and app.slug else "ai-fix"

    def identity(self, gh: Installation) -> BotIdentity:
        """Who commits: `<slug>[bot]` with its noreply address (the user lookup needs an installation)."""
        if self._identity is None:
            login = f"{self.slug}[bot]"
            self._identity = BotIdentity(slug=self.slug, login=login, user_id=gh.user_id(login))
        return self._identity

    def _mint(self, installation_id: int, repo: str) -> str:
        with self._client(AppAuthStrategy(self.app_id, self._private_key)) as app_gh:
            with _calls("minting an installation token"):
                return str(app_gh.rest.apps.create_installation_access_token(
                    installation_id, data={"repositories": [repo], "permissions": TOKEN_PERMISSIONS}).parsed_data.token)

    @contextmanager
    def installation(self, installation_id: int, repo: str) -> Iterator[Installation]:
        token = self._mint(installation_id, repo)
        with self._client(TokenAuthStrategy(token)) as gh:
            yield Installation(gh, token)

    def git_env(self, installation_id: int, repo: str) -> dict[str, str]:
        """Credentials minted now: for a push that may come long after the clone."""
        return git_env_for(self._mint(installation_id, repo))


class Installation:
    """Calls made as one installation, with a token narrowed to one repository."""

    def __init__(self, gh: GitHub[Any], token: str) -> None:
        self._gh = gh
        self._token = token

    def git_env(self) -> dict[str, str]:
        return git_env_for(self._token)

    def user_id(self, login: str) -> int:
        with _calls(f"reading user {login}"):
            return int(self._gh.rest.users.get_by_username(login).parsed_data.id)

    def permission(self, owner: str, repo: str, login: str) -> str:
        """admin / write / read / none, where maintain counts as write and triage as read."""
        try:
            with _calls(f"checking {login}'s permission"):
                data = self._gh.rest.repos.get_collaborator_permission_level(owner, repo, login).parsed_data
        except GitHubError as exc:
            if exc.status == 404:
                return "none"
            raise
        return str(data.permission)

    def repository(self, owner: str, repo: str) -> RepoInfo:
        with _calls(f"reading {owner}/{repo}"):
            data = self._gh.rest.repos.get(owner, repo).parsed_data
        return RepoInfo(default_branch=str(data.default_branch), clone_url=str(data.clone_url))

    def issue(self, owner: str, repo: str, number: int) -> IssueInfo:
        with _calls(f"reading issue #{number}"):
            data = self._gh.rest.issues.get(owner, repo, number).parsed_data
        return IssueInfo(title=str(data.title), body=str(data.body or ""), state=str(data.state),
                         is_pull_request=bool(data.pull_request))

    def pull(self, owner: str, repo: str, number: int) -> PullInfo:
        with _calls(f"reading pull request #{number}"):
            data = self._gh.rest.pulls.get(owner, repo, number).parsed_data
        return PullInfo(int(data.number), str(data.html_url), str(data.head.ref), bool(data.draft))

    def comment(self, owner: str, repo: str, number: int, body: str) -> int:
        with _calls(f"commenting on #{number}"):
            return int(self._gh.rest.issues.create_comment(owner, repo, number, body=clip(body)).parsed_data.id)

    def edit_comment(self, owner: str, repo: str, comment_id: int, body: str) -> None:
        with _calls(f"editing comment {comment_id}"):
            self._gh.rest.issues.update_comment(owner, repo, comment_id, body=clip(body))

    def react(self, owner: str, repo: str, *, issue_number: int | None = None, comment_id: int | None = None) -> None:
        """👀 on the trigger, best effort: a missing reaction must not fail a job."""
        try:
            with _calls("adding a reaction"):
                if comment_id is not None:
                    self._gh.rest.reactions.create_for_issue_comment(owner, repo, comment_id, content="eyes")
                elif issue_number is not None:
                    self._gh.rest.reactions.create_for_issue(owner, repo, issue_number, content="eyes")
        except GitHubError as exc:
            log.warning("could not add a reaction: %s", exc)

    def find_pull(self, owner: str, repo: str, branch: str) -> PullInfo | None:
        with _calls(f"looking for the pull request of {branch}"):
            pulls = self._gh.rest.pulls.list(owner, repo, state="open", head=f"{owner}:{branch}").parsed_data
        for pr in pulls:
            if pr.head.ref == branch:
                return PullInfo(int(pr.number), str(pr.html_url), str(pr.head.ref), bool(pr.draft))
        return None

    def create_pull(self, owner: str, repo: str, *, title: str, head: str, base: str, body: str,
                    draft: bool) -> PullInfo:
        try:
            with _calls("opening the pull request"):
                pr = self._gh.rest.pulls.create(owner, repo, title=title, head=head, base=base, body=clip(body),
                                                draft=draft).parsed_data
        except GitHubError as exc:
            # Private repositories on some plans cannot have drafts; the title still says "[draft]".
            if not (draft and exc.status == 422 and "draft" in str(exc).lower()):
                raise
            log.warning("drafts are not supported in %s/%s; opening a regular pull request", owner, repo)
            return self.create_pull(owner, repo, title=title, head=head, base=base, body=body, draft=False)
        return PullInfo(int(pr.number), str(pr.html_url), str(pr.head.ref), bool(pr.draft))

    def update_pull(self, owner: str, repo: str, number: int, *, title: str, body: str) -> None:
        with _calls(f"updating pull request #{number}"):
            self._gh.rest.pulls.update(owner, repo, number, title=title, body=clip(body))

    def find_comment(self, owner: str, repo: str, number: int, marker: str) -> int | None:
        """The first comment on the issue whose body holds `marker` (a hidden HTML comment the App wrote)."""
        with _calls(f"looking for the comment marked {marker} on #{number}"):
            comments: Iterator[Any] = self._gh.rest.paginate(
                self._gh.rest.issues.list_comments, owner=owner, repo=repo, issue_number=number, per_page=100)
            for comment in comments:
                if marker in (comment.body or ""):
                    return int(comment.id)
        return None

    def find_check_run(self, owner: str, repo: str, head_sha: str, name: str) -> int | None:
        with _calls(f"looking for the check run {name} on {head_sha[:12]}"):
            data = self._gh.rest.checks.list_for_ref(owner, repo, head_sha, check_name=name).parsed_data
        return next((int(run.id) for run in data.check_runs if run.name == name), None)

    def create_check_run(self, owner: str, repo: str, *, name: str, head_sha: str, conclusion: Conclusion, title: str,
                         summary: str) -> int:
        with _calls("creating the check run"):
            return int(self._gh.rest.checks.create(
                owner, repo, name=name, head_sha=head_sha, status="completed", conclusion=conclusion,
                output={"title": title[:250], "summary": clip(summary)}).parsed_data.id)

    def update_check_run(self, owner: str, repo: str, check_run_id: int, *, conclusion: Conclusion, title: str,
                         summary: str) -> None:
        with _calls(f"updating check run {check_run_id}"):
            self._gh.rest.checks.update(owner, repo, check_run_id, status="completed",
                                        conclusion=conclusion, output={"title": title[:250], "summary": clip(summary)})
