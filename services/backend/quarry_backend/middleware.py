"""Pure ASGI middleware: request body limits, security headers, latency by route template."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "quarry_api_request_duration_seconds",
    "HTTP API latency by route template",
    ["method", "route", "status"],
)

_API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_API_ONLY = [
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


class _TooLarge(Exception):
    pass


class ApiMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, templates: Callable[[], Iterable[str]]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.templates = templates
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}
        api = scope["path"].startswith("/api/")
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _reject(send, 413, b'{"detail":"request body too large"}')
            self._observe(scope, 413, started)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _TooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                extra = _API_HEADERS + (_API_ONLY if api else [])
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _TooLarge:
            if not status["sent"]:
                await _reject(send, 413, b'{"detail":"request body too large"}')
            status["code"] = 413
        finally:
            self._observe(scope, int(status["code"]), started)

    def _observe(self, scope: Scope, code: int, started: float) -> None:
        # The template, never the raw path: names and ids in paths would explode the label set.
        if self._patterns is None:
            self._patterns = [
                (re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(t)) + "$"), t)
                for t in self.templates()
            ]
        template = next((t for pattern, t in self._patterns if pattern.match(scope["path"])), "unmatched")
        REQUEST_SECONDS.labels(scope["method"], template, str(code)).observe(time.perf_counter() - started)


async def _reject(send: Send, code: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *_API_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
