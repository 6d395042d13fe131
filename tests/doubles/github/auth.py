"""Credentials the way GitHub checks them: App JWTs, installation tokens, and per-repository permissions.

Why strict: the App's own auth code (JWT claims, token narrowing, which permission each call needs) is part of
what the tests must exercise; a lenient double would let a mis-scoped token pass locally and fail in production.
Messages and statuses follow GitHub's ("A JSON web token could not be decoded", "Bad credentials",
"Resource not accessible by integration").
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Any

import jwt

from .state import Repo, State, Token

JWT_MAX_LIFETIME = 600  # GitHub: exp no more than 10 minutes into the future
CLOCK_SKEW = 60


class ApiError(Exception):
    """An HTTP error answer; the server turns it into a GitHub-shaped error body."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def not_accessible() -> ApiError:
    return ApiError(403, "Resource not accessible by integration")


@dataclass(frozen=True)
class Anonymous:
    kind: str = "anonymous"


@dataclass(frozen=True)
class AppJWT:
    app_id: int
    kind: str = "app"


@dataclass(frozen=True)
class InstallationAuth:
    token: Token
    kind: str = "installation"


Principal = Anonymous | AppJWT | InstallationAuth


def _credential(headers: dict[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "").strip()
    if not value:
        return None
    scheme, _, cred = value.partition(" ")
    return scheme.lower(), cred.strip()


def _looks_like_jwt(cred: str) -> bool:
    return cred.count(".") == 2 and not cred.startswith(("ghs_", "ghp_", "gho_", "ghu_"))


def verify_jwt(state: State, cred: str, at: float | None = None) -> AppJWT:
    """Check an App JWT as GitHub does: RS256 signature, ``iss`` = app id or client id, sane ``iat``/``exp``."""
    t = time.time() if at is None else at
    app = state.app
    undecodable = ApiError(401, "A JSON web token could not be decoded")
    try:
        header = jwt.get_unverified_header(cred)
        if header.get("alg") != "RS256":
            raise undecodable
        claims = jwt.decode(
            cred,
            app.public_key_pem,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise undecodable from exc
    iss = claims.get("iss")
    if str(iss) not in (str(app.id), app.client_id):
        raise ApiError(401, "'Issuer' claim ('iss') must be an Integer")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise ApiError(
            401, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
        )
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= t:
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires",
        )
    if iat > t + CLOCK_SKEW:
        raise ApiError(
            401, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
        )
    if exp - iat > JWT_MAX_LIFETIME + CLOCK_SKEW or exp > t + JWT_MAX_LIFETIME + CLOCK_SKEW:
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    return AppJWT(app.id)


def authenticate(state: State, headers: dict[str, str], app_route: bool) -> Principal:
    """Identify the caller from ``Authorization``; raise 401 for anything GitHub would refuse."""
    cred = _credential(headers)
    if app_route:
        if cred is None or cred[0] != "bearer" or not _looks_like_jwt(cred[1]):
            raise ApiError(401, "A JSON web token could not be decoded")
        return verify_jwt(state, cred[1])
    if cred is None:
        return Anonymous()
    scheme, value = cred
    if scheme not in ("token", "bearer"):
        raise ApiError(401, "Bad credentials")
    if scheme == "bearer" and _looks_like_jwt(value):
        verify_jwt(state, value)
        # A valid App JWT only works on /app endpoints; everything repository-scoped needs an installation token.
        raise not_accessible()
    with state.lock:
        tok = state.tokens.get(value)
    if tok is None or tok.expires_at.timestamp() <= time.time():
        raise ApiError(401, "Bad credentials")
    return InstallationAuth(tok)


def require_repo(
    state: State, principal: Principal, repo: Repo | None, permission: str | None = None, level: str = "read"
) -> Repo:
    """Resolve a repository for ``principal`` and check ``permission`` (e.g. ``issues``) at ``level``.

    GitHub hides private repositories the caller cannot see (404) and refuses visible ones it may not change (403).
    """
    if repo is None:
        raise not_found()
    if isinstance(principal, InstallationAuth):
        tok = principal.token
        if repo.id in state.token_repo_ids(tok):
            if permission is None:
                return repo
            have = tok.permissions.get(permission)
            if have == "write" or (have == "read" and level == "read"):
                return repo
            raise not_accessible()
        if repo.private:
            raise not_found()
        if level == "read":
            return repo
        raise not_accessible()
    if repo.private:
        raise not_found()
    if level == "read":
        return repo
    # Anonymous writes: GitHub answers 401 "Requires authentication".
    raise ApiError(401, "Requires authentication")


def git_basic_token(state: State, headers: dict[str, str]) -> Token | None:
    """Token from ``Authorization: Basic base64(x-access-token:TOKEN)``, or None.

    Only the documented form is accepted (user ``x-access-token``), so the App cannot come to rely on variants.
    """
    cred = _credential(headers)
    if cred is None or cred[0] != "basic":
        return None
    try:
        user, _, value = base64.b64decode(cred[1], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if user != "x-access-token":
        return None
    with state.lock:
        tok = state.tokens.get(value)
    if tok is None or tok.expires_at.timestamp() <= time.time():
        return None
    return tok
