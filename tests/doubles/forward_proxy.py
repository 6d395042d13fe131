"""A forward HTTP proxy that delivers every request to one local server: a remote-looking address for a double.

The App prices a call by the address it is sent to (a local server's models cost nothing), so a test of
a model on a *remote* provider needs a remote address that still reaches the local LLM double. With
`HTTP_PROXY` pointing here, a client asked for `http://llm-provider.example/v1/...` sends the request
to this proxy (absolute-form target, RFC 9112 section 3.2.2), which passes it on to the double unchanged but
for the host. Plain HTTP only (no CONNECT), one request per connection; enough for litellm's calls.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length"}


class ForwardProxy:
    """Serves on 127.0.0.1; `url` is the value for `HTTP_PROXY`; `targets` the URLs it was asked for."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.targets: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                proxy.forward(self)

            def do_GET(self) -> None:
                proxy.forward(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="forward-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def forward(self, request: BaseHTTPRequestHandler) -> None:
        self.targets.append(request.path)
        target = urlsplit(request.path)
        path = target.path + (f"?{target.query}" if target.query else "")
        body = request.rfile.read(int(request.headers.get("content-length") or 0))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            upstream.request(request.command, path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            request.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    request.send_header(key, value)
        finally:
            upstream.close()
        request.send_header("content-length", str(len(payload)))
        request.send_header("connection", "close")
        request.end_headers()
        request.wfile.write(payload)
        request.close_connection = True

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
