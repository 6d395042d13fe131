"""`LLMDouble`: a scripted OpenAI/Anthropic endpoint served by uvicorn on a background thread.

litellm talks to it over real HTTP, so tests exercise litellm's own request building, response
parsing, streaming, error mapping and cost accounting, not a mock of them. One base URL serves both
kinds of model: pass `double.api_base` (`http://127.0.0.1:PORT`, no `/v1`) as `api_base` for
`openai/...` and `anthropic/...` alike.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any

import uvicorn

from . import wire
from .replies import ProviderKind, RecordedRequest, Reply, as_reply, redact_headers

Responder = Callable[[RecordedRequest], "Reply | str | None"]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_PROVIDER_PREFIXES: dict[str, ProviderKind] = {"openai/": "openai", "anthropic/": "anthropic"}


class _DeliberateDrop(Exception):
    """Raised inside the ASGI app to make uvicorn close the socket mid-response (a scripted failure)."""


class _QuietDrop(logging.Filter):
    """Keeps uvicorn from logging tracebacks the double causes on purpose.

    Those are connections dropped by a scripted `drop_after_chunks`, and delayed replies still
    sleeping when `stop()` cancels them (the client gave up long ago: that was the point of the delay).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DeliberateDrop | asyncio.CancelledError)


class LLMDouble:
    """A local provider endpoint whose answers are scripted by the test.

    Answer selection for each request, first match wins:
    1. the per-model queue for the request (`script(..., model=...)`),
    2. the shared FIFO queue (`script(...)` without a model),
    3. the responder (`respond_with(fn)`), if it returns a reply rather than None,
    4. otherwise: HTTP 500 in the provider's format, and the request is recorded in `unscripted`
       so the `llm_double` fixture fails the test at teardown.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.responder: Responder | None = None
        # Teardown strictness (see `problems`): tests that expect these set them to True.
        self.allow_unscripted = False
        self.allow_leftovers = False
        self._queue: deque[Reply] = deque()
        self._model_queues: dict[tuple[ProviderKind | None, str], deque[Reply]] = {}
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._log_filter = _QuietDrop()

    # ----- lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> LLMDouble:
        """Serve on a background thread; returns once the socket accepts connections."""
        if self._server is not None:
            raise RuntimeError("LLMDouble already started")
        config = uvicorn.Config(
            self._asgi,
            host=self.host,
            port=self.requested_port,
            http="h11",
            interface="asgi3",
            ws="none",
            lifespan="off",
            log_level="warning",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(self._log_filter)
        thread = threading.Thread(target=server.run, name="llm-double", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                self._server = self._thread = None
                raise RuntimeError(f"LLMDouble failed to start on {self.host}:{self.requested_port}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("LLMDouble did not start in time")
            time.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving. In-flight (delayed) responses are cancelled rather than waited for."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)
        logging.getLogger("uvicorn.error").removeFilter(self._log_filter)
        self._server = self._thread = None

    def __enter__(self) -> LLMDouble:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL of the server, e.g. `http://127.0.0.1:41234`."""
        if self.port is None:
            raise RuntimeError("LLMDouble is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The `api_base` for litellm, valid for both `openai/<m>` and `anthropic/<m>` (the root URL).

        litellm posts `<api_base>/chat/completions` (OpenAI) and `<api_base>/v1/messages` (Anthropic).
        """
        return self.url

    @property
    def openai_api_base(self) -> str:
        """`<url>/v1`, the conventional OPENAI_API_BASE spelling; also served. Not valid for Anthropic."""
        return self.url + "/v1"

    # ----- scripting -------------------------------------------------------------------------------

    def script(self, *replies: Reply | str, model: str | None = None) -> LLMDouble:
        """Queue replies, answered in order.

        With `model`, the replies only answer requests for that model: the exact name the provider
        receives (`gpt-4o`, `claude-sonnet-4-5`). A litellm-style `openai/...` or `anthropic/...`
        prefix is accepted and additionally restricts the queue to that provider kind.
        """
        with self._lock:
            if model is None:
                self._queue.extend(as_reply(r) for r in replies)
            else:
                key = self._model_key(model)
                self._model_queues.setdefault(key, deque()).extend(as_reply(r) for r in replies)
        return self

    def respond_with(self, responder: Responder | None) -> LLMDouble:
        """Answer requests no queue covers by calling `responder(request)` (it may return None)."""
        self.responder = responder
        return self

    @property
    def pending(self) -> list[Reply]:
        """Scripted replies not consumed yet (shared queue first, then per-model queues)."""
        with self._lock:
            left = list(self._queue)
            for queue in self._model_queues.values():
                left.extend(queue)
            return left

    @property
    def unscripted(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.unscripted]

    def reset(self) -> None:
        """Forget scripts, responder, records and errors (the server keeps running)."""
        with self._lock:
            self._queue.clear()
            self._model_queues.clear()
            self.requests.clear()
            self.errors.clear()
        self.responder = None

    def problems(self) -> list[str]:
        """Reasons a test using the double should fail (empty when all is well).

        Always: misrouted paths, non-JSON requests, a raising responder. Unless `allow_unscripted`:
        requests nothing was scripted for. Unless `allow_leftovers`: scripted replies never consumed.
        """
        with self._lock:
            found = list(self.errors)
            if not self.allow_unscripted:
                found += [
                    f"unscripted {r.kind} request #{r.index} (model {r.model!r}, stream={r.stream}, "
                    f"last user message {r.last_user[:80]!r})"
                    for r in self.requests
                    if r.unscripted
                ]
        if not self.allow_leftovers:
            found += [f"scripted reply never requested: {r!r}" for r in self.pending]
        return found

    def assert_clean(self) -> None:
        """Raise AssertionError listing `problems()`, if any."""
        found = self.problems()
        if found:
            raise AssertionError("LLM double:\n  " + "\n  ".join(found))

    @staticmethod
    def _model_key(model: str) -> tuple[ProviderKind | None, str]:
        for prefix, kind in _PROVIDER_PREFIXES.items():
            if model.startswith(prefix):
                return kind, model[len(prefix) :]
        return None, model

    def _select(self, record: RecordedRequest) -> Reply | None:
        """Pick the reply for a request (caller holds the lock for the queues)."""
        for key in ((record.kind, record.model), (None, record.model)):
            queue = self._model_queues.get(key)
            if queue:
                return queue.popleft()
        if self._queue:
            return self._queue.popleft()
        return None

    # ----- HTTP ------------------------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "GET" and path in ("/", "/health"):
            await _send_json(send, 200, {"status": "ok", "api_base": self.url})
            return
        kind = wire.kind_for_path(path) if method == "POST" else None
        if kind is None:
            message = (
                f"LLM double: no route for {method} {path}. Pass api_base={self.url} (no /v1) for both "
                f"openai/ and anthropic/ models; served: {sorted(wire.OPENAI_PATHS | wire.ANTHROPIC_PATHS)}"
            )
            with self._lock:
                self.errors.append(message)
            await _send_json(send, 404, {"error": {"message": message, "type": "invalid_request_error"}})
            return

        raw = await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("request body is not a JSON object")
        except ValueError as exc:
            message = f"LLM double: request to {path} is not a JSON object: {exc}"
            with self._lock:
                self.errors.append(message)
            await _send_json(send, 400, wire.error_body(kind, 400, message))
            return

        model = str(body.get("model", ""))
        record = RecordedRequest(
            index=0,
            path=path,
            kind=kind,
            model=model,
            messages=wire.parse_messages(kind, body),
            stream=bool(body.get("stream")),
            headers=redact_headers(headers),
            body=body,
        )
        with self._lock:
            record.index = len(self.requests)
            self.requests.append(record)
            reply = self._select(record)
        if reply is None and self.responder is not None:
            try:
                answer = self.responder(record)
            except Exception as exc:  # a broken responder must fail the test, not hang the client
                message = f"LLM double: responder raised {exc!r} for request #{record.index}"
                with self._lock:
                    self.errors.append(message)
                await _send_json(send, 500, wire.error_body(kind, 500, message))
                return
            reply = None if answer is None else as_reply(answer)
        if reply is None:
            record.unscripted = True
            message = (
                f"LLM double: no scripted reply for {kind} request #{record.index} "
                f"(model {model!r}, stream={record.stream}); script one with double.script(...)"
            )
            await _send_json(send, 500, wire.error_body(kind, 500, message))
            return
        record.reply = reply
        await self._answer(send, kind, record, reply)

    async def _answer(self, send: Send, kind: ProviderKind, record: RecordedRequest, reply: Reply) -> None:
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        extra = {**wire.request_id_header(kind), **{k.lower(): v for k, v in reply.headers.items()}}
        if reply.is_error:
            body = wire.error_body(kind, reply.status, reply.error_message or "error", reply.error_type)
            await _send_json(send, reply.status, body, extra)
            return
        model = reply.model or record.model
        response_id = wire.new_id(kind)
        if record.stream:
            include_usage = bool((record.body.get("stream_options") or {}).get("include_usage"))
            events = (
                wire.malformed_stream(kind)
                if reply.malformed
                else wire.stream_events(kind, reply, model, record.messages, response_id, include_usage)
            )
            await self._send_stream(send, events, extra, reply.drop_after_chunks)
            return
        if reply.malformed:
            await _send_raw(send, 200, wire.MALFORMED_BODY, "application/json", extra)
            return
        payload = json.dumps(wire.completion_body(kind, reply, model, record.messages, response_id)).encode()
        if reply.drop_after_chunks is not None:
            await _start(send, 200, "application/json", extra)
            await send({"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True})
            raise _DeliberateDrop("scripted drop mid-body")
        await _send_raw(send, 200, payload, "application/json", extra)

    async def _send_stream(
        self, send: Send, events: list[wire.SSEEvent], headers: dict[str, str], drop_after: int | None
    ) -> None:
        await _start(send, 200, "text/event-stream; charset=utf-8", {"cache-control": "no-cache", **headers})
        sent_content = 0
        for event in events:
            if drop_after is not None and not event.head and sent_content >= drop_after:
                raise _DeliberateDrop("scripted drop mid-stream")
            await send({"type": "http.response.body", "body": event.encode(), "more_body": True})
            sent_content += event.content
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _start(send: Send, status: int, content_type: str, headers: dict[str, str] | None = None) -> None:
    raw = [(b"content-type", content_type.encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def _send_raw(
    send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> None:
    await _start(send, status, content_type, {"content-length": str(len(body)), **(headers or {})})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    await _send_raw(send, status, json.dumps(body).encode(), "application/json", headers)
