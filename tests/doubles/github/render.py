"""JSON representations of the double's state, shaped like GitHub's (``components/schemas`` of the spec).

Why complete objects: githubkit parses responses into strict pydantic models and the App may read any field, so
every object carries every required field with realistic values (URLs, node ids, timestamps, nested users). The
server validates each response against the spec, so a missing field here fails the test that exposed it.
"""

from __future__ import annotations

from typing import Any

from . import gitrepo
from .state import (
    LEGACY_PERMISSION,
    App,
    CheckRun,
    Comment,
    Installation,
    Issue,
    Label,
    PullRequest,
    Reaction,
    Repo,
    State,
    Token,
    User,
    iso,
    node_id,
)

REACTION_KEYS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")


class Renderer:
    """Builds GitHub JSON for one double; ``api`` and ``web`` are the base URLs (no trailing slash)."""

    def __init__(self, state: State, api: str, web: str) -> None:
        self.state = state
        self.api = api.rstrip("/")
        self.web = web.rstrip("/")

    # ----- users and apps -----
    def simple_user(self, u: User) -> dict[str, Any]:
        a = f"{self.api}/users/{u.login}"
        slug = u.login.removesuffix("[bot]")
        html = f"{self.web}/apps/{slug}" if u.type == "Bot" else f"{self.web}/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": node_id(u.node_prefix, u.id),
            "avatar_url": f"{self.web}/avatars/u/{u.id}?v=4",
            "gravatar_id": "",
            "url": a,
            "html_url": html,
            "followers_url": f"{a}/followers",
            "following_url": f"{a}/following{{/other_user}}",
            "gists_url": f"{a}/gists{{/gist_id}}",
            "starred_url": f"{a}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{a}/subscriptions",
            "organizations_url": f"{a}/orgs",
            "repos_url": f"{a}/repos",
            "events_url": f"{a}/events{{/privacy}}",
            "received_events_url": f"{a}/received_events",
            "type": u.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def public_user(self, u: User) -> dict[str, Any]:
        d = self.simple_user(u)
        d.update(
            {
                "name": u.name,
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "twitter_username": None,
                "public_repos": sum(1 for r in self.state.repos.values() if r.owner.id == u.id and not r.private),
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": iso(u.created_at),
                "updated_at": iso(u.created_at),
            }
        )
        return d

    def integration(self, app: App) -> dict[str, Any]:
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("A", app.id),
            "client_id": app.client_id,
            "owner": self.simple_user(app.owner),
            "name": app.name,
            "description": "Turns labelled issues into pull requests (test double)",
            "external_url": f"{self.web}/ai-fix",
            "html_url": f"{self.web}/apps/{app.slug}",
            "created_at": iso(app.created_at),
            "updated_at": iso(app.created_at),
            "permissions": dict(app.permissions),
            "events": list(app.events),
            "installations_count": len(self.state.installations),
        }

    def installation(self, inst: Installation) -> dict[str, Any]:
        app = self.state.app
        acct = inst.account
        settings = (
            f"{self.web}/organizations/{acct.login}/settings/installations/{inst.id}"
            if acct.type == "Organization"
            else f"{self.web}/settings/installations/{inst.id}"
        )
        return {
            "id": inst.id,
            "account": self.simple_user(acct),
            "repository_selection": inst.repository_selection,
            "access_tokens_url": f"{self.api}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.api}/installation/repositories",
            "html_url": settings,
            "app_id": app.id,
            "app_slug": app.slug,
            "client_id": app.client_id,
            "target_id": acct.id,
            "target_type": acct.type,
            "permissions": dict(inst.permissions),
            "events": list(inst.events),
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    def installation_token(self, tok: Token, narrowed: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "token": tok.token,
            "expires_at": iso(tok.expires_at),
            "permissions": dict(tok.permissions),
            "repository_selection": "selected" if narrowed else tok.installation.repository_selection,
        }
        if narrowed:
            repos = [self.state.repo_by_id(i) for i in sorted(self.state.token_repo_ids(tok))]
            d["repositories"] = [self.repository(r) for r in repos if r is not None]
        return d

    # ----- repositories -----
    def git_url(self, repo: Repo) -> str:
        return f"{self.web}/{repo.owner.login}/{repo.name}.git"

    def repository(self, r: Repo) -> dict[str, Any]:
        a = f"{self.api}/repos/{r.full_name}"
        host = self.web.split("://", 1)[-1]
        open_issues = sum(1 for i in self.state.issues.values() if i.repo.id == r.id and i.state == "open")
        return {
            "id": r.id,
            "node_id": node_id("R", r.id),
            "name": r.name,
            "full_name": r.full_name,
            "owner": self.simple_user(r.owner),
            "private": r.private,
            "html_url": f"{self.web}/{r.full_name}",
            "description": r.description,
            "fork": False,
            "url": a,
            "archive_url": f"{a}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{a}/assignees{{/user}}",
            "blobs_url": f"{a}/git/blobs{{/sha}}",
            "branches_url": f"{a}/branches{{/branch}}",
            "collaborators_url": f"{a}/collaborators{{/collaborator}}",
            "comments_url": f"{a}/comments{{/number}}",
            "commits_url": f"{a}/commits{{/sha}}",
            "compare_url": f"{a}/compare/{{base}}...{{head}}",
            "contents_url": f"{a}/contents/{{+path}}",
            "contributors_url": f"{a}/contributors",
            "deployments_url": f"{a}/deployments",
            "downloads_url": f"{a}/downloads",
            "events_url": f"{a}/events",
            "forks_url": f"{a}/forks",
            "git_commits_url": f"{a}/git/commits{{/sha}}",
            "git_refs_url": f"{a}/git/refs{{/sha}}",
            "git_tags_url": f"{a}/git/tags{{/sha}}",
            "git_url": f"git://{host}/{r.full_name}.git",
            "issue_comment_url": f"{a}/issues/comments{{/number}}",
            "issue_events_url": f"{a}/issues/events{{/number}}",
            "issues_url": f"{a}/issues{{/number}}",
            "keys_url": f"{a}/keys{{/key_id}}",
            "labels_url": f"{a}/labels{{/name}}",
            "languages_url": f"{a}/languages",
            "merges_url": f"{a}/merges",
            "milestones_url": f"{a}/milestones{{/number}}",
            "notifications_url": f"{a}/notifications{{?since,all,participating}}",
            "pulls_url": f"{a}/pulls{{/number}}",
            "releases_url": f"{a}/releases{{/id}}",
            "ssh_url": f"git@{host.split(':')[0]}:{r.full_name}.git",
            "stargazers_url": f"{a}/stargazers",
            "statuses_url": f"{a}/statuses/{{sha}}",
            "subscribers_url": f"{a}/subscribers",
            "subscription_url": f"{a}/subscription",
            "tags_url": f"{a}/tags",
            "teams_url": f"{a}/teams",
            "trees_url": f"{a}/git/trees{{/sha}}",
            "clone_url": self.git_url(r),
            "mirror_url": None,
            "hooks_url": f"{a}/hooks",
            "svn_url": f"{self.web}/{r.full_name}",
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": r.default_branch,
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if r.private else "public",
            "pushed_at": iso(r.pushed_at),
            "created_at": iso(r.created_at),
            "updated_at": iso(r.created_at),
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "license": None,
        }

    def full_repository(self, r: Repo) -> dict[str, Any]:
        d = self.repository(r)
        d.update(
            {
                "network_count": 0,
                "subscribers_count": 0,
                "temp_clone_token": None,
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_rebase_merge": True,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
                "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "merge_commit_title": "MERGE_MESSAGE",
                "merge_commit_message": "PR_TITLE",
            }
        )
        if r.owner.type == "Organization":
            d["organization"] = self.simple_user(r.owner)
        return d

    def collaborator_permission(self, r: Repo, u: User) -> dict[str, Any]:
        role = r.role_of(u.login)
        if role == "none" and not r.private:
            role = "read"  # anyone can read a public repository
        order = ["read", "triage", "write", "maintain", "admin"]
        rank = order.index(role) if role in order else -1
        user = self.simple_user(u)
        user.update(
            {
                "name": u.name,
                "email": None,
                "role_name": role,
                "permissions": {
                    "pull": rank >= 0,
                    "triage": rank >= 1,
                    "push": rank >= 2,
                    "maintain": rank >= 3,
                    "admin": rank >= 4,
                },
            }
        )
        return {"permission": LEGACY_PERMISSION[role], "role_name": role, "user": user}

    # ----- issues, comments, reactions -----
    def label(self, r: Repo, lab: Label) -> dict[str, Any]:
        return {
            "id": lab.id,
            "node_id": node_id("LA", lab.id),
            "url": f"{self.api}/repos/{r.full_name}/labels/{lab.name}",
            "name": lab.name,
            "description": lab.description,
            "color": lab.color,
            "default": False,
        }

    def association(self, r: Repo, u: User) -> str:
        if u.id == r.owner.id:
            return "OWNER"
        if u.type == "Bot":
            return "NONE"
        return "COLLABORATOR" if r.collaborators.get(u.login.lower(), "none") != "none" else "NONE"

    def reaction_rollup(self, url: str, subject: str, subject_id: int) -> dict[str, Any]:
        counts = {k: 0 for k in REACTION_KEYS}
        for rx in self.state.reactions:
            if rx.subject == subject and rx.subject_id == subject_id:
                counts[rx.content] += 1
        return {"url": url, "total_count": sum(counts.values()), **counts}

    def issue(self, i: Issue) -> dict[str, Any]:
        r = i.repo
        a = f"{self.api}/repos/{r.full_name}/issues/{i.number}"
        d: dict[str, Any] = {
            "id": i.id,
            "node_id": node_id("PR" if i.pull else "I", i.id),
            "url": a,
            "repository_url": f"{self.api}/repos/{r.full_name}",
            "labels_url": f"{a}/labels{{/name}}",
            "comments_url": f"{a}/comments",
            "events_url": f"{a}/events",
            "html_url": f"{self.web}/{r.full_name}/{'pull' if i.pull else 'issues'}/{i.number}",
            "number": i.number,
            "state": i.state,
            "state_reason": "completed" if i.state == "closed" else None,
            "title": i.title,
            "body": i.body,
            "user": self.simple_user(i.user),
            "labels": [self.label(r, lab) for lab in i.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": i.comment_count,
            "closed_at": iso(i.closed_at),
            "created_at": iso(i.created_at),
            "updated_at": iso(i.updated_at),
            "closed_by": None,
            "author_association": self.association(r, i.user),
            "reactions": self.reaction_rollup(f"{a}/reactions", "issue", i.id),
            "timeline_url": f"{a}/timeline",
            "performed_via_github_app": self.integration(self.state.app) if i.via_app else None,
        }
        if i.pull is not None:
            p = i.pull
            d["draft"] = p.draft
            d["pull_request"] = {
                "url": f"{self.api}/repos/{r.full_name}/pulls/{i.number}",
                "html_url": f"{self.web}/{r.full_name}/pull/{i.number}",
                "diff_url": f"{self.web}/{r.full_name}/pull/{i.number}.diff",
                "patch_url": f"{self.web}/{r.full_name}/pull/{i.number}.patch",
                "merged_at": iso(p.merged_at),
            }
        return d

    def comment(self, c: Comment) -> dict[str, Any]:
        r = c.issue.repo
        a = f"{self.api}/repos/{r.full_name}/issues/comments/{c.id}"
        kind = "pull" if c.issue.pull else "issues"
        return {
            "id": c.id,
            "node_id": node_id("IC", c.id),
            "url": a,
            "html_url": f"{self.web}/{r.full_name}/{kind}/{c.issue.number}#issuecomment-{c.id}",
            "body": c.body,
            "user": self.simple_user(c.user),
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
            "issue_url": f"{self.api}/repos/{r.full_name}/issues/{c.issue.number}",
            "author_association": self.association(r, c.user),
            "performed_via_github_app": self.integration(self.state.app) if c.via_app else None,
            "reactions": self.reaction_rollup(f"{a}/reactions", "comment", c.id),
        }

    def reaction(self, rx: Reaction) -> dict[str, Any]:
        return {
            "id": rx.id,
            "node_id": node_id("REA", rx.id),
            "user": self.simple_user(rx.user),
            "content": rx.content,
            "created_at": iso(rx.created_at),
        }

    # ----- pull requests -----
    def _refresh_shas(self, p: PullRequest) -> None:
        """GitHub tracks the live branch tips while a PR is open."""
        if p.issue.state != "open":
            return
        head = gitrepo.branch_sha(p.repo.path, p.head_ref)
        base = gitrepo.branch_sha(p.repo.path, p.base_ref)
        if head:
            p.head_sha = head
        if base:
            p.base_sha = base

    def _branch(self, p: PullRequest, ref: str, sha: str) -> dict[str, Any]:
        r = p.repo
        return {
            "label": f"{r.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.simple_user(r.owner),
            "repo": self.repository(r),
        }

    def _links(self, p: PullRequest) -> dict[str, Any]:
        r = p.repo
        a = f"{self.api}/repos/{r.full_name}"
        return {
            "self": {"href": f"{a}/pulls/{p.number}"},
            "html": {"href": f"{self.web}/{r.full_name}/pull/{p.number}"},
            "issue": {"href": f"{a}/issues/{p.number}"},
            "comments": {"href": f"{a}/issues/{p.number}/comments"},
            "review_comments": {"href": f"{a}/pulls/{p.number}/comments"},
            "review_comment": {"href": f"{a}/pulls/comments{{/number}}"},
            "commits": {"href": f"{a}/pulls/{p.number}/commits"},
            "statuses": {"href": f"{a}/statuses/{p.head_sha}"},
        }

    def pull_simple(self, p: PullRequest) -> dict[str, Any]:
        self._refresh_shas(p)
        i = p.issue
        r = p.repo
        a = f"{self.api}/repos/{r.full_name}"
        return {
            "url": f"{a}/pulls/{p.number}",
            "id": p.id,
            "node_id": node_id("PR", p.id),
            "html_url": f"{self.web}/{r.full_name}/pull/{p.number}",
            "diff_url": f"{self.web}/{r.full_name}/pull/{p.number}.diff",
            "patch_url": f"{self.web}/{r.full_name}/pull/{p.number}.patch",
            "issue_url": f"{a}/issues/{p.number}",
            "commits_url": f"{a}/pulls/{p.number}/commits",
            "review_comments_url": f"{a}/pulls/{p.number}/comments",
            "review_comment_url": f"{a}/pulls/comments{{/number}}",
            "comments_url": f"{a}/issues/{p.number}/comments",
            "statuses_url": f"{a}/statuses/{p.head_sha}",
            "number": p.number,
            "state": i.state,
            "locked": False,
            "title": i.title,
            "user": self.simple_user(i.user),
            "body": i.body,
            "labels": [self.label(r, lab) | {"description": lab.description or ""} for lab in i.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(i.created_at),
            "updated_at": iso(i.updated_at),
            "closed_at": iso(i.closed_at),
            "merged_at": iso(p.merged_at),
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self._branch(p, p.head_ref, p.head_sha),
            "base": self._branch(p, p.base_ref, p.base_sha),
            "_links": self._links(p),
            "author_association": self.association(r, i.user),
            "auto_merge": None,
            "draft": p.draft,
        }

    def pull(self, p: PullRequest) -> dict[str, Any]:
        d = self.pull_simple(p)
        d["labels"] = [self.label(p.repo, lab) for lab in p.issue.labels]
        path = p.repo.path
        adds, dels, files = gitrepo.diff_stats(path, p.base_sha, p.head_sha)
        clean = gitrepo.mergeable(path, p.base_sha, p.head_sha)
        d.update(
            {
                "merged": p.merged_at is not None,
                "mergeable": clean,
                "rebaseable": clean,
                "mergeable_state": ("draft" if p.draft else "clean") if clean else "dirty",
                "merged_by": None,
                "comments": p.issue.comment_count,
                "review_comments": 0,
                "maintainer_can_modify": p.maintainer_can_modify,
                "commits": gitrepo.ahead_count(path, p.base_sha, p.head_sha),
                "additions": adds,
                "deletions": dels,
                "changed_files": files,
            }
        )
        return d

    # ----- checks -----
    def check_run(self, c: CheckRun) -> dict[str, Any]:
        r = c.repo
        a = f"{self.api}/repos/{r.full_name}/check-runs/{c.id}"
        prs = [
            p.pull
            for p in self.state.issues.values()
            if p.repo.id == r.id and p.pull is not None and p.state == "open" and p.pull.head_sha == c.head_sha
        ]
        return {
            "id": c.id,
            "head_sha": c.head_sha,
            "node_id": node_id("CR", c.id),
            "external_id": c.external_id or "",
            "url": a,
            "html_url": f"{self.web}/{r.full_name}/runs/{c.id}",
            "details_url": c.details_url or self.integration(self.state.app)["external_url"],
            "status": c.status,
            "conclusion": c.conclusion,
            "started_at": iso(c.started_at),
            "completed_at": iso(c.completed_at),
            "output": {
                "title": c.output.get("title"),
                "summary": c.output.get("summary"),
                "text": c.output.get("text"),
                "annotations_count": c.annotations_count,
                "annotations_url": f"{a}/annotations",
            },
            "name": c.name,
            "check_suite": {"id": c.check_suite_id},
            "app": self.integration(self.state.app),
            "pull_requests": [
                {
                    "id": p.id,
                    "number": p.number,
                    "url": f"{self.api}/repos/{r.full_name}/pulls/{p.number}",
                    "head": {
                        "ref": p.head_ref,
                        "sha": p.head_sha,
                        "repo": {"id": r.id, "url": f"{self.api}/repos/{r.full_name}", "name": r.name},
                    },
                    "base": {
                        "ref": p.base_ref,
                        "sha": p.base_sha,
                        "repo": {"id": r.id, "url": f"{self.api}/repos/{r.full_name}", "name": r.name},
                    },
                }
                for p in prs
                if p is not None
            ],
        }

    # ----- errors -----
    @staticmethod
    def error(status: int, message: str, docs: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"message": message, "documentation_url": docs, "status": str(status)}
        if errors is not None:
            d["errors"] = errors
        return d
