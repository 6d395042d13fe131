"""The HTTP server: request pipeline (faults, validation, auth, handlers, response validation) and the
``GitHubDouble`` object tests use to start, seed, inspect and stop it.

Why one pipeline for everything: each REST request goes through the same steps so that no endpoint can skip
OpenAPI validation or the violation bookkeeping; git smart-HTTP and ``/_double/*`` control paths are the only
(deliberate) exceptions since the REST description does not cover them.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

from . import git_http, gitrepo
from .api import Ctx, Reply, RestApi, is_app_route
from .auth import ApiError, authenticate
from .faults import Fault, Faults, make
from .openapi import Match, SpecValidator, load_spec
from .render import Renderer
from .state import ROLES, Installation, Issue, Repo, State, User

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class RequestRecord:
    """One entry of the request log."""

    method: str
    path: str
    status: int
    operation_id: str | None = None
    auth: str = "anonymous"
    seconds: float = 0.0  # time spent inside the double (validation included)


@dataclass(frozen=True)
class Violation:
    """Something GitHub's description forbids, seen on the wire (by the App or by the double itself)."""

    method: str
    path: str
    kind: Literal["request", "response", "unimplemented"]
    message: str


@dataclass
class RawRequest:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    received: float = field(default_factory=time.perf_counter)

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class Core:
    """Turns one ``RawRequest`` into a ``RawResponse``; blocking, called from worker threads."""

    def __init__(self, state: State, validator: SpecValidator, faults: Faults, render: Renderer) -> None:
        self.state = state
        self.validator = validator
        self.faults = faults
        self.render = render
        self.api = RestApi(state, render)
        self._log_lock = threading.Lock()
        self.log: list[RequestRecord] = []
        self.violations: list[Violation] = []
        self._rate_used = 0

    # ----- bookkeeping -----
    def violate(
        self, req: RawRequest, kind: Literal["request", "response", "unimplemented"], messages: Iterable[str]
    ) -> None:
        with self._log_lock:
            self.violations.extend(Violation(req.method, req.path, kind, m) for m in messages)

    def _record(self, req: RawRequest, status: int, op: str | None, auth: str) -> None:
        with self._log_lock:
            self.log.append(
                RequestRecord(req.method, req.path, status, op, auth, round(time.perf_counter() - req.received, 4))
            )

    def _api_headers(self, req: RawRequest) -> list[tuple[str, str]]:
        with self._log_lock:
            self._rate_used += 1
            used = self._rate_used
        return [
            ("x-github-request-id", secrets.token_hex(8).upper()),
            ("x-github-media-type", "github.v3; format=json"),
            ("x-github-api-version-selected", req.headers.get("x-github-api-version", "2022-11-28")),
            ("x-ratelimit-limit", "5000"),
            # Never 0 by itself: githubkit treats remaining == 0 on a 403 as a primary rate limit. Exhaustion is
            # modelled explicitly with the "primary" fault.
            ("x-ratelimit-remaining", str(max(5000 - used, 1))),
            ("x-ratelimit-used", str(used)),
            ("x-ratelimit-reset", str(int(time.time()) + 3600)),
            ("x-ratelimit-resource", "core"),
        ]

    # ----- entry point -----
    def handle(self, req: RawRequest, fault: Fault | None) -> RawResponse:
        if req.path.startswith("/_double/"):
            return self._control(req)
        if git_http.GIT_PATH.match(req.path):
            if fault is not None and fault.status is not None:
                resp = RawResponse(
                    fault.status, [("content-type", "text/plain"), *fault.headers.items()], fault.message.encode()
                )
            else:
                try:
                    g = git_http.handle(self.state, req.method, req.path, req.query_string, req.headers, req.body)
                    resp = RawResponse(g.status, g.headers, g.body)
                except Exception:
                    self.violate(req, "response", [f"double crashed: {traceback.format_exc()}"])
                    resp = RawResponse(500, [("content-type", "text/plain")], b"GitHub double crashed\n")
            self._record(req, resp.status, None, "git")
            return resp
        return self._rest(req, fault)

    def _rest(self, req: RawRequest, fault: Fault | None) -> RawResponse:
        match = self.validator.match(req.method, req.path)
        op = match.operation_id if match else None
        docs = match.docs_url if match else "https://docs.github.com/rest"
        auth_kind = "anonymous"
        reply: Reply
        if match is None or match.operation is None:
            problem = self.validator.validate_request(req.method, req.path)
            self.violate(req, "request", problem)
            resp = self._finish(req, Reply(404, Renderer.error(404, "Not Found", docs)), None)
            self._record(req, resp.status, None, auth_kind)
            return resp
        problems = self.validator.validate_request(req.method, req.path, req.query, req.headers, req.body)
        if problems:
            self.violate(req, "request", problems)
            if any("not JSON" in p for p in problems):
                reply = Reply(400, Renderer.error(400, "Problems parsing JSON", docs))
            else:
                reply = Reply(422, Renderer.error(422, "Invalid request.\n\n" + "\n".join(problems), docs))
        elif fault is not None and fault.status is not None:
            reply = Reply(fault.status, fault.body(Faults.docs_for(fault)), dict(fault.headers))
        else:
            reply, auth_kind = self._dispatch(req, match, docs)
        resp = self._finish(req, reply, match)
        self._record(req, resp.status, op, auth_kind)
        return resp

    def _dispatch(self, req: RawRequest, match: Match, docs: str) -> tuple[Reply, str]:
        op = match.operation_id
        handler = self.api.handlers.get(op or "")
        auth_kind = "anonymous"
        try:
            principal = authenticate(self.state, req.headers, is_app_route(op))
            auth_kind = principal.kind
            if handler is None:
                self.violate(
                    req,
                    "unimplemented",
                    [f"{op} ({req.method} {match.template}) is documented but the GitHub double does not implement it"],
                )
                return Reply(501, Renderer.error(501, f"{op} is not implemented by the GitHub double", docs)), auth_kind
            body = json.loads(req.body) if req.body else None
            ctx = Ctx(req.method, req.path, match.params, dict(req.query), req.headers, body, principal)
            with self.state.lock:
                reply = handler(ctx)
        except ApiError as exc:
            reply = Reply(exc.status, Renderer.error(exc.status, exc.message, docs, exc.errors), exc.headers)
        except Exception as exc:  # a bug in the double must fail the test, not just log a traceback
            reply = Reply(500, Renderer.error(500, f"The GitHub double crashed: {exc!r}", docs))
            self.violate(req, "response", [f"double crashed: {traceback.format_exc()}"])
        return reply, auth_kind

    def _finish(self, req: RawRequest, reply: Reply, match: Match | None) -> RawResponse:
        if isinstance(reply.body, str):
            body = reply.body.encode()
        else:
            body = _json_bytes(reply.body)
        if match is not None and match.operation is not None:
            problems = self.validator.validate_response(
                req.method, req.path, reply.status, reply.headers, body, reply.content_type
            )
            if problems:
                self.violate(req, "response", problems)
                reply = Reply(
                    500,
                    Renderer.error(
                        500,
                        "The GitHub double produced a response that violates the "
                        "OpenAPI description: " + "; ".join(problems)[:2000],
                        match.docs_url,
                    ),
                )
                body = _json_bytes(reply.body)
        merged = {"content-type": reply.content_type, **dict(self._api_headers(req))}
        merged.update({k.lower(): v for k, v in reply.headers.items()})  # e.g. a fault's x-ratelimit-remaining: 0
        return RawResponse(reply.status, list(merged.items()), body)

    # ----- /_double control endpoints -----
    def _control(self, req: RawRequest) -> RawResponse:
        def ok(data: Any, status: int = 200) -> RawResponse:
            return RawResponse(status, [("content-type", "application/json")], _json_bytes(data))

        route = (req.method, req.path.rstrip("/"))
        if route == ("GET", "/_double/info"):
            with self.state.lock:
                return ok(
                    {
                        "app_id": self.state.app.id,
                        "app_slug": self.state.app.slug,
                        "client_id": self.state.app.client_id,
                        "bot_login": self.state.app.bot.login,
                        "bot_id": self.state.app.bot.id,
                        "api_url": self.render.api,
                        "installations": {i.id: i.account.login for i in self.state.installations.values()},
                        "repositories": {r.full_name: self.render.git_url(r) for r in self.state.repos.values()},
                    }
                )
        if route == ("GET", "/_double/violations"):
            with self._log_lock:
                return ok([asdict(v) for v in self.violations])
        if route == ("GET", "/_double/requests"):
            with self._log_lock:
                return ok([asdict(r) for r in self.log])
        if route == ("POST", "/_double/faults"):
            try:
                fault = self.faults.add(Fault.from_dict(json.loads(req.body)))
            except (ValueError, TypeError) as exc:
                return ok({"message": f"bad fault: {exc}"}, 400)
            return ok(asdict(fault), 201)
        if route == ("DELETE", "/_double/faults"):
            self.faults.clear()
            return ok({}, 200)
        return ok({"message": "unknown control endpoint"}, 404)


def make_asgi(core: Core) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Plain ASGI app: read the body, apply delay faults asynchronously, run the blocking core in a thread."""
    import anyio

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            headers[name] = f"{headers[name]}, {v.decode('latin-1')}" if name in headers else v.decode("latin-1")
        req = RawRequest(
            scope["method"].upper(), scope["path"], scope["query_string"].decode("latin-1"), headers, b"".join(chunks)
        )
        fault = None if req.path.startswith("/_double/") else core.faults.take(req.method, req.path)
        if fault is not None and fault.delay:
            await anyio.sleep(fault.delay)
        resp = await anyio.to_thread.run_sync(core.handle, req, fault)
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers],
            }
        )
        await send({"type": "http.response.body", "body": resp.body})

    return app


class GitHubDouble:
    """A local GitHub (REST + git hosting) for tests; start it, seed it, point the App at ``url``.

    Everything the App does goes over HTTP; the methods here are for the test itself (seeding and inspection).
    """

    def __init__(
        self, *, app_slug: str = "ai-fix-test", app_id: int | None = None, root: Path | None = None, port: int = 0
    ) -> None:
        """``app_id`` is random by default: githubkit caches JWTs and installation tokens process-wide, keyed by
        app id and installation id, so two doubles sharing an id would receive each other's stale credentials."""
        if app_id is None:
            app_id = 1_000_000 + secrets.randbelow(8_999_999)
        self._tmp: str | None = None
        if root is None:
            self._tmp = tempfile.mkdtemp(prefix="github-double-")
            root = Path(self._tmp)
        self.root = root
        self.state = State(root / "git", app_slug=app_slug, app_id=app_id)
        self.faults = Faults()
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._core: Core | None = None
        self.url = ""

    # ----- lifecycle -----
    def start(self) -> GitHubDouble:
        import uvicorn

        validator = SpecValidator(load_spec())
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._core = Core(self.state, validator, self.faults, Renderer(self.state, self.url, self.url))
        config = uvicorn.Config(
            make_asgi(self._core),
            log_level="warning",
            lifespan="off",
            ws="none",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="github-double", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("GitHub double failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> GitHubDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def core(self) -> Core:
        if self._core is None:
            raise RuntimeError("start() the GitHub double first")
        return self._core

    # ----- identity of the App under test -----
    @property
    def app_id(self) -> int:
        return self.state.app.id

    @property
    def app_slug(self) -> str:
        return self.state.app.slug

    @property
    def client_id(self) -> str:
        return self.state.app.client_id

    @property
    def private_key_pem(self) -> str:
        return self.state.app.private_key_pem

    @property
    def public_key_pem(self) -> str:
        return self.state.app.public_key_pem

    @property
    def bot_login(self) -> str:
        return self.state.app.bot.login

    @property
    def bot_id(self) -> int:
        return self.state.app.bot.id

    def write_private_key(self, path: Path) -> Path:
        path.write_text(self.private_key_pem)
        path.chmod(0o600)
        return path

    # ----- seeding -----
    def add_user(
        self, login: str, *, type: Literal["User", "Bot", "Organization"] = "User", name: str | None = None
    ) -> User:
        return self.state.add_user(login, type=type, name=name)

    def add_org(self, login: str) -> User:
        return self.state.add_user(login, type="Organization")

    def _repo(self, full_name: str) -> Repo:
        owner, _, name = full_name.partition("/")
        repo = self.state.repo(owner, name)
        if repo is None:
            raise KeyError(f"no repository {full_name}")
        return repo

    def _owner(self, login: str) -> User:
        return self.state.user(login) or self.state.add_user(login)

    def add_repo(
        self,
        full_name: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        source: Path | None = None,
        default_branch: str | None = None,
        private: bool = True,
        description: str | None = None,
        drafts: bool = True,
    ) -> Repo:
        """Create ``owner/name`` from ``files`` (one initial commit) or by mirroring local repo ``source``.

        The owner user is created if missing. Repositories are private by default, so every read needs a token.
        """
        owner_login, _, name = full_name.partition("/")
        owner = self._owner(owner_login)
        path = self.state.repo_dir(owner.login, name)
        if source is not None:
            branch = gitrepo.create_from_local(path, Path(source), default_branch)
        else:
            branch = default_branch or "main"
            gitrepo.create_from_files(path, files or {"README.md": f"# {name}\n"}, branch)
        repo = self.state.register_repo(owner, name, branch, private, description)
        repo.drafts = drafts
        return repo

    def set_role(self, full_name: str, login: str, role: str) -> None:
        """Give ``login`` a collaborator role on a repo: admin, maintain, write, triage, read or none."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        repo = self._repo(full_name)
        if self.state.user(login) is None:
            self.state.add_user(login)
        with self.state.lock:
            if role == "none":
                repo.collaborators.pop(login.lower(), None)
            else:
                repo.collaborators[login.lower()] = role

    def add_issue(
        self, full_name: str, title: str, body: str | None = "", *, user: str, labels: Sequence[str] = ()
    ) -> Issue:
        repo = self._repo(full_name)
        author = self.state.user(user) or self.state.add_user(user)
        return self.state.add_issue(repo, title, body, author, list(labels))

    def install(
        self,
        account: str,
        repos: Sequence[str] | None = None,
        *,
        permissions: Mapping[str, str] | None = None,
        id: int | None = None,
    ) -> Installation:
        """Install the App on ``account``: on the listed repos (``["owner/name"]``) or on all (``None``)."""
        acct = self._owner(account)
        chosen = None if repos is None else [self._repo(r) for r in repos]
        return self.state.add_installation(acct, chosen, dict(permissions) if permissions else None, id)

    def mint_token(
        self,
        installation_id: int,
        *,
        repositories: Sequence[str] | None = None,
        permissions: Mapping[str, str] | None = None,
    ) -> str:
        """An installation token without going through HTTP (for test set-up, e.g. a git push)."""
        inst = self.state.installations[installation_id]
        ids = (
            None
            if repositories is None
            else frozenset(self._repo(f"{inst.account.login}/{r}").id for r in repositories)
        )
        return self.state.mint_token(inst, ids, dict(permissions or inst.permissions)).token

    def git_url(self, full_name: str) -> str:
        return self.core.render.git_url(self._repo(full_name))

    @staticmethod
    def git_auth_env(token: str) -> dict[str, str]:
        """Environment that makes git send the token as GitHub expects, without writing it anywhere."""
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }

    # ----- faults -----
    def inject_fault(
        self,
        kind: str = "error",
        *,
        method: str = "*",
        path: str = ".*",
        count: int = 1,
        status: int | None = None,
        retry_after: int = 1,
        reset_in: int = 1,
        delay: float = 0.0,
    ) -> Fault:
        """Make the next ``count`` requests matching ``method`` and ``path`` (regex) fail or wait.

        kinds: error (500 or ``status``), bad_gateway (502), secondary (403 + retry-after), too_many (429 +
        retry-after), primary (403 with x-ratelimit-remaining 0 and x-ratelimit-reset), delay (``delay`` s).
        """
        return self.faults.add(
            make(
                kind,
                method=method,
                path=path,
                count=count,
                retry_after=retry_after,
                reset_in=reset_in,
                delay=delay,
                status=status,
            )
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    # ----- inspection (rendered exactly as the API would return them) -----
    def issue(self, full_name: str, number: int) -> dict[str, Any]:
        repo = self._repo(full_name)
        with self.state.lock:
            issue = self.state.issue(repo, number)
            if issue is None:
                raise KeyError(f"no issue {full_name}#{number}")
            return self.core.render.issue(issue)

    def comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        repo = self._repo(full_name)
        with self.state.lock:
            return [
                self.core.render.comment(c)
                for c in sorted(self.state.comments.values(), key=lambda c: c.id)
                if c.issue.repo.id == repo.id and c.issue.number == number
            ]

    def reactions(
        self, full_name: str, *, issue: int | None = None, comment_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Reactions on an issue/PR (``issue=N``) or on an issue comment (``comment_id=ID``)."""
        repo = self._repo(full_name)
        with self.state.lock:
            if comment_id is not None:
                subject, sid = "comment", comment_id
            else:
                found = self.state.issue(repo, issue or 0)
                if found is None:
                    raise KeyError(f"no issue {full_name}#{issue}")
                subject, sid = "issue", found.id
            return [
                self.core.render.reaction(r)
                for r in self.state.reactions
                if r.subject == subject and r.subject_id == sid
            ]

    def pulls(self, full_name: str) -> list[dict[str, Any]]:
        repo = self._repo(full_name)
        with self.state.lock:
            return [
                self.core.render.pull(i.pull)
                for i in sorted(self.state.issues.values(), key=lambda i: i.number)
                if i.repo.id == repo.id and i.pull is not None
            ]

    def pull_diff(self, full_name: str, number: int) -> str:
        """``git diff base...head`` of a PR, from the bare repository."""
        repo = self._repo(full_name)
        with self.state.lock:
            issue = self.state.issue(repo, number)
            if issue is None or issue.pull is None:
                raise KeyError(f"no pull request {full_name}#{number}")
            self.core.render._refresh_shas(issue.pull)
            return gitrepo.diff(repo.path, issue.pull.base_sha, issue.pull.head_sha)

    def check_runs(self, full_name: str) -> list[dict[str, Any]]:
        repo = self._repo(full_name)
        with self.state.lock:
            return [
                self.core.render.check_run(c)
                for c in sorted(self.state.checks.values(), key=lambda c: c.id)
                if c.repo.id == repo.id
            ]

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        return gitrepo.branch_sha(self._repo(full_name).path, branch)

    def read_file(self, full_name: str, ref: str, path: str) -> bytes | None:
        return gitrepo.read_file(self._repo(full_name).path, ref, path)

    def repo_path(self, full_name: str) -> Path:
        return self._repo(full_name).path

    @property
    def requests(self) -> list[RequestRecord]:
        with self.core._log_lock:
            return list(self.core.log)

    @property
    def violations(self) -> list[Violation]:
        with self.core._log_lock:
            return list(self.core.violations)

    def clear_violations(self) -> None:
        with self.core._log_lock:
            self.core.violations.clear()
