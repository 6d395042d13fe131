"""REST endpoint behaviour, keyed by the spec's ``operationId``.

Why keyed by operationId: the server has already matched the request to a documented operation (and validated
it), so dispatching on that id keeps path handling in one place and makes "documented but not implemented by the
double" an explicit, reported case rather than a silent 404.

Every handler runs with ``State.lock`` held and returns a ``Reply`` or raises ``ApiError``; semantic checks that
the schema cannot express (body length, branch existence, duplicate PRs, permissions) follow GitHub's answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from . import gitrepo
from .auth import (
    Anonymous,
    ApiError,
    AppJWT,
    InstallationAuth,
    Principal,
    not_accessible,
    not_found,
    require_repo,
)
from .render import Renderer
from .state import CheckRun, Comment, Issue, PullRequest, Reaction, Repo, State, User, now

MAX_BODY = 65_536  # issue comments, issue and PR bodies
APP_ROUTES = frozenset(
    {
        "apps/get-authenticated",
        "apps/get-installation",
        "apps/create-installation-access-token",
        "apps/get-repo-installation",
        "apps/list-installations",
    }
)
_DIFF_ACCEPT = re.compile(r"application/vnd\.github(?:\.v3)?\.(diff|patch)")


@dataclass
class Ctx:
    """One validated request, as handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    principal: Principal


@dataclass
class Reply:
    status: int
    body: Any  # JSON-able, or str for text media types
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


def _validation_failed(
    resource: str, field_: str | None = None, code: str = "invalid", message: str | None = None
) -> ApiError:
    err: dict[str, Any] = {"resource": resource, "code": code}
    if field_ is not None:
        err["field"] = field_
    if message is not None:
        err["message"] = message
    return ApiError(422, "Validation Failed", errors=[err])


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class RestApi:
    """Handlers for the operations the double implements."""

    def __init__(self, state: State, render: Renderer) -> None:
        self.state = state
        self.r = render
        self.handlers: dict[str, Callable[[Ctx], Reply]] = {
            "apps/get-authenticated": self.get_app,
            "apps/list-installations": self.list_installations,
            "apps/get-installation": self.get_installation,
            "apps/create-installation-access-token": self.create_token,
            "apps/get-repo-installation": self.get_repo_installation,
            "apps/list-repos-accessible-to-installation": self.list_installation_repos,
            "repos/get": self.get_repo,
            "repos/get-collaborator-permission-level": self.get_permission,
            "issues/get": self.get_issue,
            "issues/update": self.update_issue,
            "issues/list-comments": self.list_comments,
            "issues/create-comment": self.create_comment,
            "issues/get-comment": self.get_comment,
            "issues/update-comment": self.update_comment,
            "issues/list-labels-on-issue": self.list_issue_labels,
            "issues/add-labels": self.add_labels,
            "issues/remove-label": self.remove_label,
            "reactions/create-for-issue": self.react_issue,
            "reactions/create-for-issue-comment": self.react_comment,
            "pulls/list": self.list_pulls,
            "pulls/create": self.create_pull,
            "pulls/get": self.get_pull,
            "pulls/update": self.update_pull,
            "checks/create": self.create_check,
            "checks/update": self.update_check,
            "checks/get": self.get_check,
            "checks/list-for-ref": self.list_checks_for_ref,
            "users/get-by-username": self.get_user,
        }

    # ----- helpers -----
    def _repo(self, ctx: Ctx, permission: str | None = None, level: str = "read") -> Repo:
        repo = self.state.repo(ctx.params["owner"], ctx.params["repo"])
        return require_repo(self.state, ctx.principal, repo, permission, level)

    def _issue(self, ctx: Ctx, level: str) -> Issue:
        """Issue or PR by number; PRs are reachable with either the issues or the pull_requests permission."""
        repo = self._repo(ctx)
        issue = self.state.issue(repo, int(ctx.params["issue_number"]))
        if issue is None:
            raise not_found()
        self._issue_permission(ctx, repo, issue, level)
        return issue

    def _issue_permission(self, ctx: Ctx, repo: Repo, issue: Issue, level: str) -> None:
        perms = ["issues"] + (["pull_requests"] if issue.pull is not None else [])
        last: ApiError | None = None
        for perm in perms:
            try:
                require_repo(self.state, ctx.principal, repo, perm, level)
                return
            except ApiError as exc:
                last = exc
        assert last is not None
        raise last

    def _actor(self, ctx: Ctx) -> tuple[User, bool]:
        """Who authored a write: the App's bot user for installation tokens."""
        if isinstance(ctx.principal, InstallationAuth):
            return self.state.app.bot, True
        raise ApiError(401, "Requires authentication")

    def _page(self, ctx: Ctx, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        per_page = min(int(ctx.query.get("per_page", "30")), 100)
        page = max(int(ctx.query.get("page", "1")), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = []
        base = f"{self.r.api}{ctx.path}"
        q = {k: v for k, v in ctx.query.items() if k != "page"}
        if page < last:
            links.append(f'<{base}?{urlencode({**q, "page": page + 1})}>; rel="next"')
            links.append(f'<{base}?{urlencode({**q, "page": last})}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?{urlencode({**q, "page": 1})}>; rel="first"')
            links.append(f'<{base}?{urlencode({**q, "page": page - 1})}>; rel="prev"')
        return chunk, ({"link": ", ".join(links)} if links else {})

    @staticmethod
    def _check_body(body: str | None, resource: str) -> None:
        if body is not None and len(body) > MAX_BODY:
            raise _validation_failed(resource, "body", "custom", f"body is too long (maximum is {MAX_BODY} characters)")

    # ----- apps -----
    def get_app(self, ctx: Ctx) -> Reply:
        return Reply(200, self.r.integration(self.state.app))

    def list_installations(self, ctx: Ctx) -> Reply:
        items = [self.r.installation(i) for i in sorted(self.state.installations.values(), key=lambda i: i.id)]
        chunk, headers = self._page(ctx, items)
        return Reply(200, chunk, headers)

    def get_installation(self, ctx: Ctx) -> Reply:
        inst = self.state.installations.get(int(ctx.params["installation_id"]))
        if inst is None:
            raise not_found()
        return Reply(200, self.r.installation(inst))

    def create_token(self, ctx: Ctx) -> Reply:
        inst = self.state.installations.get(int(ctx.params["installation_id"]))
        if inst is None:
            raise not_found()
        if inst.suspended:
            raise ApiError(403, "This installation has been suspended")
        body = ctx.body or {}
        repo_ids: set[int] | None = None
        inaccessible = ApiError(
            422, "There is at least one repository that does not exist or is not accessible to the parent installation."
        )
        if "repositories" in body:
            repo_ids = set()
            for name in body["repositories"]:
                repo = self.state.repo(inst.account.login, name)
                if repo is None or repo.id not in inst.repo_ids:
                    raise inaccessible
                repo_ids.add(repo.id)
        if "repository_ids" in body:
            repo_ids = repo_ids or set()
            for rid in body["repository_ids"]:
                if rid not in inst.repo_ids:
                    raise inaccessible
                repo_ids.add(rid)
        perms = dict(inst.permissions)
        if "permissions" in body:
            asked = body["permissions"]
            for name, level in asked.items():
                have = inst.permissions.get(name)
                if have is None or (have == "read" and level != "read"):
                    raise ApiError(422, "The permissions requested are not granted to this installation.")
            perms = dict(asked)
            perms.setdefault("metadata", "read")
        tok = self.state.mint_token(inst, None if repo_ids is None else frozenset(repo_ids), perms)
        return Reply(201, self.r.installation_token(tok, narrowed=repo_ids is not None))

    def get_repo_installation(self, ctx: Ctx) -> Reply:
        repo = self.state.repo(ctx.params["owner"], ctx.params["repo"])
        inst = None if repo is None else self.state.installation_for_repo(repo)
        if inst is None:
            raise not_found()
        return Reply(200, self.r.installation(inst))

    def list_installation_repos(self, ctx: Ctx) -> Reply:
        if isinstance(ctx.principal, Anonymous):
            raise ApiError(401, "Requires authentication")
        if not isinstance(ctx.principal, InstallationAuth):
            raise not_accessible()
        tok = ctx.principal.token
        repos = [r for r in (self.state.repo_by_id(i) for i in sorted(self.state.token_repo_ids(tok))) if r]
        chunk, headers = self._page(ctx, [self.r.repository(r) for r in repos])
        return Reply(
            200,
            {
                "total_count": len(repos),
                "repository_selection": tok.installation.repository_selection if tok.repo_ids is None else "selected",
                "repositories": chunk,
            },
            headers,
        )

    # ----- repositories and users -----
    def get_repo(self, ctx: Ctx) -> Reply:
        return Reply(200, self.r.full_repository(self._repo(ctx, "metadata")))

    def get_permission(self, ctx: Ctx) -> Reply:
        repo = self._repo(ctx, "metadata")
        user = self.state.user(ctx.params["username"])
        if user is None:
            raise not_found()
        return Reply(200, self.r.collaborator_permission(repo, user))

    def get_user(self, ctx: Ctx) -> Reply:
        user = self.state.user(ctx.params["username"])
        if user is None:
            raise not_found()
        return Reply(200, self.r.public_user(user))

    # ----- issues -----
    def get_issue(self, ctx: Ctx) -> Reply:
        return Reply(200, self.r.issue(self._issue(ctx, "read")))

    def update_issue(self, ctx: Ctx) -> Reply:
        issue = self._issue(ctx, "write")
        body = ctx.body or {}
        if body.get("title") is not None:
            issue.title = str(body["title"])
        if "body" in body:
            self._check_body(body["body"], "Issue")
            issue.body = body["body"]
        if "state" in body and body["state"] != issue.state:
            issue.state = body["state"]
            issue.closed_at = now() if issue.state == "closed" else None
        if "labels" in body and body["labels"] is not None:
            names = [x if isinstance(x, str) else x["name"] for x in body["labels"]]
            issue.labels = [self.state.label(issue.repo, n) for n in names]
        issue.updated_at = now()
        return Reply(200, self.r.issue(issue))

    def list_issue_labels(self, ctx: Ctx) -> Reply:
        issue = self._issue(ctx, "read")
        return Reply(200, [self.r.label(issue.repo, lab) for lab in issue.labels])

    def add_labels(self, ctx: Ctx) -> Reply:
        issue = self._issue(ctx, "write")
        raw = (ctx.body or {}).get("labels", [])
        for item in raw:
            name = item if isinstance(item, str) else item["name"]
            if all(lab.name.lower() != name.lower() for lab in issue.labels):
                issue.labels.append(self.state.label(issue.repo, name))
        issue.updated_at = now()
        return Reply(200, [self.r.label(issue.repo, lab) for lab in issue.labels])

    def remove_label(self, ctx: Ctx) -> Reply:
        issue = self._issue(ctx, "write")
        name = ctx.params["name"].lower()
        if all(lab.name.lower() != name for lab in issue.labels):
            raise ApiError(404, "Label does not exist")
        issue.labels = [lab for lab in issue.labels if lab.name.lower() != name]
        issue.updated_at = now()
        return Reply(200, [self.r.label(issue.repo, lab) for lab in issue.labels])

    # ----- comments -----
    def list_comments(self, ctx: Ctx) -> Reply:
        issue = self._issue(ctx, "read")
        comments = sorted((c for c in self.state.comments.values() if c.issue is issue), key=lambda c: c.id)
        if "since" in ctx.query:
            since = _parse_time(ctx.query["since"])
            comments = [c for c in comments if c.updated_at >= since]
        chunk, headers = self._page(ctx, [self.r.comment(c) for c in comments])
        return Reply(200, chunk, headers)

    def create_comment(self, ctx: Ctx) -> Reply:
        issue = self._issue(ctx, "write")
        text = ctx.body["body"]
        if not text.strip():
            raise _validation_failed("IssueComment", "body", "missing_field")
        self._check_body(text, "IssueComment")
        user, via_app = self._actor(ctx)
        c = Comment(id=self.state.next_id(), issue=issue, body=text, user=user, via_app=via_app)
        self.state.comments[c.id] = c
        issue.comment_count += 1
        issue.updated_at = c.created_at
        data = self.r.comment(c)
        return Reply(201, data, {"location": data["url"]})

    def _comment(self, ctx: Ctx, level: str) -> Comment:
        repo = self._repo(ctx)
        c = self.state.comments.get(int(ctx.params["comment_id"]))
        if c is None or c.issue.repo.id != repo.id:
            raise not_found()
        self._issue_permission(ctx, repo, c.issue, level)
        return c

    def get_comment(self, ctx: Ctx) -> Reply:
        return Reply(200, self.r.comment(self._comment(ctx, "read")))

    def update_comment(self, ctx: Ctx) -> Reply:
        c = self._comment(ctx, "write")
        text = ctx.body["body"]
        if not text.strip():
            raise _validation_failed("IssueComment", "body", "missing_field")
        self._check_body(text, "IssueComment")
        c.body = text
        c.updated_at = now()
        return Reply(200, self.r.comment(c))

    # ----- reactions -----
    def _react(self, ctx: Ctx, subject: Literal["issue", "comment"], subject_id: int) -> Reply:
        user, _ = self._actor(ctx)
        content = ctx.body["content"]
        for rx in self.state.reactions:
            if (rx.subject, rx.subject_id, rx.user.id, rx.content) == (subject, subject_id, user.id, content):
                return Reply(200, self.r.reaction(rx))
        rx = Reaction(
            id=self.state.next_id(),
            subject=subject,
            subject_id=subject_id,
            content=content,
            user=user,
        )
        self.state.reactions.append(rx)
        return Reply(201, self.r.reaction(rx))

    def react_issue(self, ctx: Ctx) -> Reply:
        issue = self._issue(ctx, "write")
        return self._react(ctx, "issue", issue.id)

    def react_comment(self, ctx: Ctx) -> Reply:
        c = self._comment(ctx, "write")
        return self._react(ctx, "comment", c.id)

    # ----- pull requests -----
    def _pulls(self, repo: Repo) -> list[PullRequest]:
        return [i.pull for i in self.state.issues.values() if i.repo.id == repo.id and i.pull is not None]

    def list_pulls(self, ctx: Ctx) -> Reply:
        repo = self._repo(ctx, "pull_requests")
        state = ctx.query.get("state", "open")
        pulls = [p for p in self._pulls(repo) if state == "all" or p.issue.state == state]
        head = ctx.query.get("head")
        # GitHub only filters on head in "owner:branch" form; a bare branch name is silently ignored.
        if head and ":" in head:
            owner, _, branch = head.partition(":")
            pulls = [p for p in pulls if p.repo.owner.login.lower() == owner.lower() and p.head_ref == branch]
        if "base" in ctx.query:
            pulls = [p for p in pulls if p.base_ref == ctx.query["base"]]
        sort = ctx.query.get("sort", "created")
        desc = ctx.query.get("direction", "desc" if sort == "created" else "asc") == "desc"
        key: Callable[[PullRequest], Any] = (
            (lambda p: p.issue.updated_at)
            if sort in ("updated", "long-running")
            else (lambda p: (p.issue.created_at, p.number))
        )
        pulls.sort(key=key, reverse=desc)
        chunk, headers = self._page(ctx, [self.r.pull_simple(p) for p in pulls])
        return Reply(200, chunk, headers)

    def create_pull(self, ctx: Ctx) -> Reply:
        repo = self._repo(ctx, "pull_requests", "write")
        body = ctx.body
        if "issue" in body:
            raise ApiError(501, "The GitHub double does not implement converting an issue (`issue`) to a PR")
        title = body.get("title")
        if not title:
            raise _validation_failed("PullRequest", "title", "missing_field")
        head = body["head"]
        if ":" in head:
            owner, _, head = head.partition(":")
            if owner.lower() != repo.owner.login.lower():
                raise _validation_failed("PullRequest", "head", "invalid")
        base = body["base"]
        self._check_body(body.get("body"), "PullRequest")
        head_sha = gitrepo.branch_sha(repo.path, head)
        if head_sha is None:
            raise _validation_failed("PullRequest", "head", "invalid")
        base_sha = gitrepo.branch_sha(repo.path, base)
        if base_sha is None:
            raise _validation_failed("PullRequest", "base", "invalid")
        if head == base or gitrepo.ahead_count(repo.path, base_sha, head_sha) == 0:
            raise _validation_failed("PullRequest", None, "custom", f"No commits between {base} and {head}")
        for p in self._pulls(repo):
            if p.issue.state == "open" and p.head_ref == head and p.base_ref == base:
                raise _validation_failed(
                    "PullRequest", None, "custom", f"A pull request already exists for {repo.owner.login}:{head}."
                )
        if body.get("draft") and not repo.drafts:
            raise ApiError(422, "Draft pull requests are not supported in this repository.")
        user, via_app = self._actor(ctx)
        issue = self.state.add_issue(repo, title, body.get("body"), user, [])
        issue.via_app = via_app
        pr = PullRequest(
            issue=issue,
            id=self.state.next_id(),
            head_ref=head,
            base_ref=base,
            head_sha=head_sha,
            base_sha=base_sha,
            draft=bool(body.get("draft", False)),
            maintainer_can_modify=bool(body.get("maintainer_can_modify", False)),
        )
        issue.pull = pr
        data = self.r.pull(pr)
        return Reply(201, data, {"location": data["url"]})

    def _pull(self, ctx: Ctx, level: str) -> PullRequest:
        repo = self._repo(ctx, "pull_requests", level)
        issue = self.state.issue(repo, int(ctx.params["pull_number"]))
        if issue is None or issue.pull is None:
            raise not_found()
        return issue.pull

    def get_pull(self, ctx: Ctx) -> Reply:
        p = self._pull(ctx, "read")
        m = _DIFF_ACCEPT.search(ctx.headers.get("accept", ""))
        if m:
            self.r._refresh_shas(p)
            if m.group(1) == "diff":
                text = gitrepo.diff(p.repo.path, p.base_sha, p.head_sha)
            else:
                text = gitrepo.format_patch(p.repo.path, p.base_sha, p.head_sha)
            return Reply(200, text, content_type=f"application/vnd.github.{m.group(1)}; charset=utf-8")
        return Reply(200, self.r.pull(p))

    def update_pull(self, ctx: Ctx) -> Reply:
        p = self._pull(ctx, "write")
        body = ctx.body or {}
        if "title" in body:
            p.issue.title = body["title"]
        if "body" in body:
            self._check_body(body["body"], "PullRequest")
            p.issue.body = body["body"]
        if "base" in body:
            if gitrepo.branch_sha(p.repo.path, body["base"]) is None:
                raise _validation_failed("PullRequest", "base", "invalid")
            p.base_ref = body["base"]
        if "maintainer_can_modify" in body:
            p.maintainer_can_modify = bool(body["maintainer_can_modify"])
        if "state" in body and body["state"] != p.issue.state:
            if body["state"] == "open" and gitrepo.branch_sha(p.repo.path, p.head_ref) is None:
                raise _validation_failed(
                    "PullRequest", "state", "invalid", "state cannot be changed. The head branch was deleted."
                )
            p.issue.state = body["state"]
            p.issue.closed_at = now() if p.issue.state == "closed" else None
        p.issue.updated_at = now()
        return Reply(200, self.r.pull(p))

    # ----- checks -----
    def _apply_check(self, c: CheckRun, body: dict[str, Any]) -> None:
        for key in ("name", "details_url", "external_id"):
            if key in body:
                setattr(c, key, body[key])
        if "started_at" in body:
            c.started_at = _parse_time(body["started_at"])
        if "status" in body:
            c.status = body["status"]
        if body.get("conclusion") is not None:
            c.conclusion = body["conclusion"]
            c.status = "completed"
        if "completed_at" in body:
            c.completed_at = _parse_time(body["completed_at"])
        if c.status == "completed":
            if c.conclusion is None:
                raise _validation_failed(
                    "CheckRun", "conclusion", "missing_field", "conclusion is required when status is completed"
                )
            c.completed_at = c.completed_at or now()
        if "output" in body:
            out = body["output"]
            c.output = {"title": out.get("title"), "summary": out.get("summary"), "text": out.get("text")}
            c.annotations_count += len(out.get("annotations", []))

    def create_check(self, ctx: Ctx) -> Reply:
        repo = self._repo(ctx, "checks", "write")
        body = ctx.body
        if not gitrepo.commit_exists(repo.path, body["head_sha"]):
            raise ApiError(422, f"No commit found for SHA: {body['head_sha']}")
        c = CheckRun(
            id=self.state.next_id(),
            repo=repo,
            name=body["name"],
            head_sha=body["head_sha"],
            check_suite_id=self.state.next_id(),
        )
        self._apply_check(c, body)
        self.state.checks[c.id] = c
        return Reply(201, self.r.check_run(c))

    def _check(self, ctx: Ctx, level: str) -> CheckRun:
        repo = self._repo(ctx, "checks", level)
        c = self.state.checks.get(int(ctx.params["check_run_id"]))
        if c is None or c.repo.id != repo.id:
            raise not_found()
        return c

    def get_check(self, ctx: Ctx) -> Reply:
        return Reply(200, self.r.check_run(self._check(ctx, "read")))

    def list_checks_for_ref(self, ctx: Ctx) -> Reply:
        """Check runs on a commit (a SHA or a branch name), newest first, filtered by `check_name`/`status`."""
        repo = self._repo(ctx, "checks", "read")
        ref = ctx.params["ref"]
        sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else gitrepo.branch_sha(repo.path, ref)
        if sha is None:
            raise ApiError(422, f"No commit found for SHA: {ref}")
        runs = sorted((c for c in self.state.checks.values() if c.repo.id == repo.id and c.head_sha == sha
                       and ctx.query.get("check_name", c.name) == c.name
                       and ctx.query.get("status", c.status) == c.status), key=lambda c: -c.id)
        chunk, headers = self._page(ctx, [self.r.check_run(c) for c in runs])
        return Reply(200, {"total_count": len(runs), "check_runs": chunk}, headers)

    def update_check(self, ctx: Ctx) -> Reply:
        c = self._check(ctx, "write")
        updated = replace(c, output=dict(c.output))
        self._apply_check(updated, ctx.body)  # raises before anything is stored
        c.__dict__.update(updated.__dict__)
        return Reply(200, self.r.check_run(c))


def is_app_route(operation_id: str | None) -> bool:
    return operation_id in APP_ROUTES


__all__ = ["APP_ROUTES", "AppJWT", "Ctx", "Reply", "RestApi", "is_app_route"]
