"""OpenAPI validation of the double's traffic against GitHub's published description.

Why: a double that answers what the App *expects* rather than what GitHub *documents* lets bugs through. Every
request the App sends and every response the double produces is checked against
``api.github.com.json`` (OpenAPI 3.0.3, non-dereferenced). Problems are returned as human-readable strings; the
server records them as violations and the pytest fixture fails the test.

Design notes:
- The 13 MB spec is parsed once per process (``load_spec`` is cached); nothing happens at import time.
- openapi-core's own path finder scans all ~800 templates with a regex per request and prefers any template that is
  a plain *suffix* of the URL. We match paths ourselves (literal segments beat parameters, as GitHub's router does)
  and hand openapi-core the matched template, so its lookup is a dictionary access.
- openapi-core only knows the spec's server, ``https://api.github.com``; requests are presented to it with that host.
- Statuses an operation does not document (401 for bad credentials, 429/5xx from fault injection, ...) can be
  returned by GitHub on any endpoint; for those the body must still be GitHub's ``basic-error`` shape.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_SERVER = "https://api.github.com"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_DIFF_MEDIA = re.compile(r"^application/vnd\.github(\.[\w-]+)?\.(diff|patch)$")


def spec_path() -> Path:
    """Where the spec lives: ``$AI_FIX_SHARED_DIR`` or the suite's copy in tests/data/shared (gzipped there)."""
    shared = os.environ.get("AI_FIX_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "data" / "shared"
    return base / "data" / "github-openapi" / "api.github.com.json"


def read_json(path: Path) -> Any:
    """`path`, or `path.gz` when only the compressed copy is there (the suite keeps the 13 MB spec gzipped)."""
    if path.exists():
        return json.loads(path.read_bytes())
    with gzip.open(path.with_name(path.name + ".gz"), "rb") as fh:
        return json.load(fh)


@dataclass(frozen=True)
class Route:
    """One documented path template, compiled for matching."""

    template: str
    regex: re.Pattern[str]
    param_names: tuple[str, ...]
    sort_key: tuple[Any, ...]


@dataclass
class Match:
    """Result of matching a concrete path against the spec."""

    template: str
    params: dict[str, str]
    operation: dict[str, Any] | None  # None: the path exists but not with this method
    methods: tuple[str, ...] = ()

    @property
    def operation_id(self) -> str | None:
        return None if self.operation is None else str(self.operation.get("operationId"))

    @property
    def docs_url(self) -> str:
        if self.operation is None:
            return "https://docs.github.com/rest"
        return str(self.operation.get("externalDocs", {}).get("url", "https://docs.github.com/rest"))


def _compile(template: str) -> Route:
    names: list[str] = []
    parts: list[str] = []
    key: list[tuple[int, str]] = []
    for seg in template.strip("/").split("/"):
        pieces = re.split(r"(\{[^}]+\})", seg)
        rx = ""
        for piece in pieces:
            if piece.startswith("{") and piece.endswith("}"):
                names.append(piece[1:-1])
                rx += f"(?P<p{len(names) - 1}>[^/]+?)"
            else:
                rx += re.escape(piece)
        parts.append(rx)
        # Literal segments sort before templated ones so /issues/comments beats /issues/{issue_number}.
        key.append((1, "") if "{" in seg else (0, seg))
    regex = re.compile("^/" + "/".join(parts) + "$")
    return Route(template, regex, tuple(names), (len(key), tuple(key)))


@dataclass
class Spec:
    """The parsed description plus the openapi-core machinery built on it."""

    raw: dict[str, Any]
    routes: list[Route]
    _openapi: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def match(self, method: str, path: str) -> Match | None:
        """Find the documented template for ``path`` (``None`` if the path is undocumented)."""
        path = path.rstrip("/") or "/"
        for route in self.routes:
            m = route.regex.match(path)
            if not m:
                continue
            params = {name: m.group(f"p{i}") for i, name in enumerate(route.param_names)}
            item = self.raw["paths"][route.template]
            methods = tuple(k for k in item if k in _METHODS)
            return Match(route.template, params, item.get(method.lower()), methods)
        return None

    @property
    def openapi(self) -> Any:
        """openapi-core ``OpenAPI`` object, built lazily with our exact-template path finder."""
        with self._lock:
            if self._openapi is None:
                self._openapi = _build_openapi(self.raw)
            return self._openapi


@functools.lru_cache(maxsize=4)
def load_spec(path: str | None = None) -> Spec:
    """Parse the spec once per process (about 0.3 s for JSON, openapi-core objects are lazy)."""
    raw = read_json(Path(path) if path else spec_path())
    _allow_null_in_nullable_enums(raw)
    routes = sorted((_compile(t) for t in raw["paths"]), key=lambda r: r.sort_key)
    spec = Spec(raw, routes)
    _ = spec.openapi
    return spec


def _allow_null_in_nullable_enums(node: Any) -> int:
    """Add ``None`` to every ``enum`` of a ``nullable: true`` schema; returns how many were changed.

    Why: OpenAPI 3.0.3 (the "Clarify nullable" proposal) says a nullable enum only admits null if ``null`` is listed
    in the enum, and openapi-schema-validator enforces that. GitHub's description never lists it, yet GitHub
    returns null there (``check-run.conclusion`` of a queued run is required *and* null; ``issue.state_reason`` of an
    open issue), and githubkit's models type these fields as ``None | Literal[...]``. Without this, real GitHub
    answers would be "violations". Only nullable schemas change; every other enum stays exact.
    """
    changed = 0
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            enum = cur.get("enum")
            if cur.get("nullable") is True and isinstance(enum, list) and None not in enum:
                enum.append(None)
                changed += 1
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return changed


def _build_openapi(raw: dict[str, Any]) -> Any:
    from openapi_core import Config, OpenAPI
    from openapi_core.templating.datatypes import TemplateResult
    from openapi_core.templating.paths.datatypes import Path as OCPath
    from openapi_core.templating.paths.exceptions import PathNotFound
    from openapi_core.templating.paths.finders import APICallPathFinder

    class ExactPathsIterator:
        """Yields the one path item whose template we already matched (passed as ``path_pattern``)."""

        def __call__(self, name: str, spec: Any, base_url: str | None = None) -> Iterator[Any]:
            template = name[len(SPEC_SERVER) :] if name.startswith(SPEC_SERVER) else name
            paths = spec / "paths"
            if template not in paths:
                raise PathNotFound(name)
            yield OCPath(paths / template, TemplateResult(template, {}))

    class ExactPathFinder(APICallPathFinder):
        paths_iterator = ExactPathsIterator()

    # spec_validator_cls=None: validating the 13 MB description itself takes ~45 s and proves nothing new.
    config = Config(spec_validator_cls=None, path_finder_cls=ExactPathFinder)
    return OpenAPI.from_dict(raw, config=config)


class _OCRequest:
    """Minimal request object in the shape openapi-core expects (incl. ``path_pattern``)."""

    def __init__(
        self,
        method: str,
        match: Match,
        query: Iterable[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = SPEC_SERVER
        self.method = method.lower()
        self.path = match.template
        self.path_pattern = match.template
        self.body = body or None
        # GitHub parses bodies as JSON whatever Content-Type says; validate them as such.
        self.content_type = "application/json"
        self.parameters = RequestParameters(
            path=dict(match.params),
            query=ImmutableMultiDict(list(query)),
            header=Headers(list(headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _OCResponse:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, content_type: str) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = status
        self.headers = Headers(list(headers.items()))
        self.data = body
        self.content_type = content_type


def _describe(exc: BaseException) -> str:
    """Flatten openapi-core's nested exceptions into one short line per schema error."""
    schema_errors: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        for err in getattr(cur, "schema_errors", None) or ():
            where = "/".join(str(p) for p in getattr(err, "absolute_path", ())) or "<root>"
            schema_errors.append(f"at {where}: {getattr(err, 'message', err)}"[:300])
        cur = cur.__cause__ or cur.__context__
    if schema_errors:
        return f"{type(exc).__name__}: " + "; ".join(schema_errors)
    return f"{type(exc).__name__}: {str(exc)[:500]}"


_GENERIC_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "documentation_url": {"type": "string"},
        "status": {"type": "string"},
    },
}


class SpecValidator:
    """Validates requests and responses; thread-safe (validation is serialised, ~10 ms each)."""

    def __init__(self, spec: Spec | None = None) -> None:
        self.spec = spec or load_spec()
        self._lock = threading.Lock()

    def match(self, method: str, path: str) -> Match | None:
        return self.spec.match(method, path)

    def validate_request(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> list[str]:
        """Return the problems with a request (empty list: valid)."""
        match = self.spec.match(method, path)
        if match is None:
            return [f"undocumented path: {method.upper()} {path}"]
        if match.operation is None:
            return [f"undocumented method: {method.upper()} {match.template} (documented: {match.methods})"]
        if body:
            try:
                json.loads(body)
            except ValueError as exc:
                return [f"request body is not JSON: {exc}"]
        req = _OCRequest(method, match, query, headers or {}, body)
        with self._lock:
            errors = list(self.spec.openapi.iter_request_errors(req))
        return [f"request {method.upper()} {match.template}: {_describe(e)}" for e in errors]

    def validate_response(
        self,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> list[str]:
        """Return the problems with a response the double produced for ``method path``."""
        match = self.spec.match(method, path)
        if match is None or match.operation is None:
            return [f"response for undocumented operation {method.upper()} {path}"]
        where = f"response {status} to {method.upper()} {match.template}"
        media = content_type.split(";")[0].strip().lower()
        responses = match.operation.get("responses", {})
        documented = str(status) in responses or f"{str(status)[0]}XX" in responses or "default" in responses
        if not documented:
            if status < 400:
                return [f"{where}: status not documented for this operation"]
            return self._generic_error(where, media, body)
        if _DIFF_MEDIA.match(media):
            # Diff/patch media types are documented in prose ("custom media types"), not in the schema.
            return [] if status == 200 and isinstance(body, bytes) else [f"{where}: bad diff response"]
        req = _OCRequest(method, match, (), {}, b"")
        resp = _OCResponse(status, headers or {}, body, media)
        with self._lock:
            errors = list(self.spec.openapi.iter_response_errors(req, resp))
        return [f"{where}: {_describe(e)}" for e in errors]

    def _generic_error(self, where: str, media: str, body: bytes) -> list[str]:
        from openapi_schema_validator import OAS30Validator

        if media != "application/json":
            return [f"{where}: error body must be application/json, got {media!r}"]
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{where}: error body is not JSON"]
        return [f"{where}: {e.message}" for e in OAS30Validator(_GENERIC_ERROR_SCHEMA).iter_errors(data)]
