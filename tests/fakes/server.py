"""A loopback HTTP server that routes requests to a handler object and records them.

Shared by the fake Hub and the fake GitHub: each request is recorded (method, path with
query, body) in `requests` and appended to `log_lines` as a server log would, so tests
can assert on what a client sent, and that a token never appears in a URL or body.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    authorization: str | None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Route = Callable[[Request], tuple[int, Any]]


class LoopbackServer:
    def __init__(self, route: Route) -> None:
        self.requests: list[Request] = []
        self.log_lines: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", 0) or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                request = Request(self.command, url.path, parse_qs(url.query), body, self.headers.get("Authorization"))
                with owner._lock:
                    owner.requests.append(request)
                    owner.log_lines.append(f"{self.command} {self.path} {body[:2000].decode(errors='replace')}")
                    status, payload = route(request)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]


class FakeService:
    """A fake remote: a `_route` method served on loopback, used as a context manager."""

    def __init__(self) -> None:
        self.server = LoopbackServer(self._route)
        self.url = ""

    def _route(self, request: Request) -> tuple[int, Any]:
        raise NotImplementedError

    def __enter__(self):
        self.server.__enter__()
        self.url = self.server.url
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    @property
    def requests(self) -> list[Request]:
        return self.server.requests
