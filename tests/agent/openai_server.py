"""A real OpenAI-compatible HTTP server on loopback whose answers follow a test's script.

`ScriptedOpenAI(script)` serves `POST /v1/chat/completions`: each request body goes to
`script(body, n)` (n counts requests from 1), whose `Reply` says what to answer: a
completion with given content and token usage, an HTTP error, a delay. Every request
body is kept in `requests`, so tests can read what the agent sent, and
`wait_for_request` blocks until a request arrives: a test acts on that event, never on
a guess of how long the agent takes. A delayed reply is held on a thread of its own and
let go when the server closes.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    prompt_tokens: int = 1000
    completion_tokens: int = 200
    delay_s: float = 0.0
    """Hold the reply this long (or until the server closes) before sending it."""
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted error"


Script = Callable[[dict, int], Reply]


class ScriptedOpenAI:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict] = []
        self._arrived = threading.Condition()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server._arrived:
                    server.requests.append(body)
                    number = len(server.requests)
                    server._arrived.notify_all()
                reply = server.script(body, number)
                if reply.delay_s and server._closing.wait(reply.delay_s):
                    return  # closing: the client is gone or about to be
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": reply.error, "type": "scripted"}}, reply.headers)
                    return
                self._send(200, {
                    "id": f"chatcmpl-{number}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "scripted"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content}, "finish_reason": "stop"}],
                    "usage": {
                        "prompt_tokens": reply.prompt_tokens,
                        "completion_tokens": reply.completion_tokens,
                        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                    },
                }, reply.headers)

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_for_request(self, match: Callable[[dict], bool], *, still_waiting: Callable[[], bool], guard_s: float = 900.0) -> int:
        """The number (from 1) of the first request `match` accepts, once it has arrived.

        Waits while `still_waiting()` (the agent process has not ended, say) holds; the
        guard only turns a hang into a failure."""
        deadline = time.monotonic() + guard_s
        with self._arrived:
            while True:
                found = next((n for n, body in enumerate(self.requests, 1) if match(body)), None)
                if found is not None:
                    return found
                assert still_waiting(), "stopped waiting: the awaited request never came"
                assert time.monotonic() < deadline, f"no such request within {guard_s:.0f} s"
                self._arrived.wait(timeout=1.0)  # wakes on each request; the timeout only rechecks still_waiting

    def user_messages(self, number: int) -> list[str]:
        """The user messages of the `number`-th request (from 1)."""
        return [m["content"] for m in self.requests[number - 1]["messages"] if m["role"] == "user"]
