"""Git smart HTTP, served by the real ``git http-backend`` CGI.

Why the real backend: clone/fetch/push negotiation (protocol v2, side-band, gzip request bodies, hooks) is
exactly what the App's git code must survive; re-implementing it would test our re-implementation instead.

Auth mirrors github.com for an App: Basic ``x-access-token:<installation token>``; fetch needs ``contents: read``
(anonymous fetch works for public repositories), push needs ``contents: write``; ``.github/workflows`` changes
also need ``workflows: write`` (enforced by the repository's pre-receive hook).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from .auth import git_basic_token
from .state import State, now

GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git/(?P<rest>info/refs|git-upload-pack|git-receive-pack)$")


@dataclass
class GitReply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _text(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> GitReply:
    return GitReply(status, [("content-type", "text/plain; charset=utf-8"), *(extra or [])], (message + "\n").encode())


def _challenge() -> GitReply:
    return _text(
        401,
        "Invalid username or token. Password authentication is not supported for Git operations.",
        [("www-authenticate", 'Basic realm="GitHub"')],
    )


def handle(state: State, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> GitReply:
    """Authorise and run one smart-HTTP request through ``git http-backend``."""
    m = GIT_PATH.match(path)
    if m is None:
        return _text(404, "Not Found")
    rest = m.group("rest")
    service = (
        rest if rest != "info/refs" else dict(p.partition("=")[::2] for p in query.split("&") if p).get("service", "")
    )
    if service not in ("git-upload-pack", "git-receive-pack"):
        # Dumb-protocol discovery is not offered by GitHub either.
        return _text(403, "Please upgrade your git client.")
    write = service == "git-receive-pack"
    repo = state.repo(m.group("owner"), m.group("repo"))
    token = git_basic_token(state, headers)
    if repo is None:
        return _challenge() if token is None else _text(404, "Repository not found.")
    workflows = False
    if token is None:
        if repo.private or write:
            return _challenge()
    else:
        if repo.id not in state.token_repo_ids(token):
            if repo.private:
                return _text(404, "Repository not found.")
            if write:
                return _text(403, f"Permission to {repo.full_name}.git denied to {state.app.bot.login}.")
        else:
            level = token.permissions.get("contents")
            if level is None or (write and level != "write"):
                return _text(403, f"Permission to {repo.full_name}.git denied to {state.app.bot.login}.")
            workflows = token.permissions.get("workflows") == "write"

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_PROJECT_ROOT": str(state.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(state.root),
            "PATH_INFO": f"/{repo.owner.login.lower()}/{repo.name.lower()}.git/{rest}",
            "REQUEST_METHOD": method,
            "QUERY_STRING": query,
            "CONTENT_TYPE": headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_USER": "x-access-token" if token else "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "AI_FIX_DOUBLE_WORKFLOWS": "write" if workflows else "",
        }
    )
    if "content-encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]  # http-backend inflates gzip itself
    if "git-protocol" in headers:
        env["GIT_PROTOCOL"] = headers["git-protocol"]
    proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
    out = proc.stdout
    sep = out.find(b"\r\n\r\n")
    if sep >= 0:
        head, payload = out[:sep], out[sep + 4 :]
    else:
        head, _, payload = out.partition(b"\n\n")
    status = 200 if proc.returncode == 0 else 500
    reply_headers: list[tuple[str, str]] = []
    for line in head.decode("latin-1").splitlines():
        if not line.strip():
            continue
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            reply_headers.append((name.strip().lower(), value.strip()))
    if write and rest == "git-receive-pack" and status == 200:
        with state.lock:
            repo.pushed_at = now()
    return GitReply(status, reply_headers, payload)
