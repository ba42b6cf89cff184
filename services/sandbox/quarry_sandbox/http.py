"""Shared threaded HTTP server base for the imitation Jira and GitHub servers.

A subclass implements :meth:`SandboxServer.dispatch`, turning a :class:`Request` into a
:class:`Response`.  The base starts on ``127.0.0.1`` (port 0 picks a free port), exposes
``base_url``, keeps thread-safe :class:`Counters` the tests read, and stops cleanly.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    raw_target: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON. orjson writes the same bytes as `json` ten times faster (a search page of
    100 issues: 1 ms against 12): in a benchmark these servers share the machine with the platform
    they stand in for, and a real Jira's encoding costs that machine nothing."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # an int beyond 64 bits: the slow way
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json;charset=UTF-8"

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, dumps(obj), dict(headers or {}))

    @classmethod
    def raw_json(cls, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, body, dict(headers or {}))


@dataclass(frozen=True, slots=True)
class RequestRecord:
    at: float
    method: str
    path: str
    query: str
    status: int


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One served page: the endpoint and the item keys it carried, in order."""

    path: str
    keys: tuple[str, ...]


class Counters:
    """Thread-safe request accounting the tests read after a run."""

    def __init__(self, log_size: int = 200_000) -> None:
        self._lock = threading.Lock()
        self.by_path: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.by_path_status: Counter[tuple[str, int]] = Counter()
        self.pages: list[PageRecord] = []
        self.log: deque[RequestRecord] = deque(maxlen=log_size)
        self.events: Counter[str] = Counter()

    def record(self, method: str, path: str, query: str, status: int) -> None:
        with self._lock:
            self.by_path[path] += 1
            self.by_status[status] += 1
            self.by_path_status[(path, status)] += 1
            self.log.append(RequestRecord(time.time(), method, path, query, status))

    def record_page(self, path: str, keys: Iterable[str]) -> None:
        with self._lock:
            self.pages.append(PageRecord(path, tuple(keys)))

    def event(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.events[name] += n

    def served_keys(self, path: str | None = None) -> list[str]:
        """Every item key served on successful pages (optionally of one path), in order."""
        with self._lock:
            return [k for p in self.pages if path is None or p.path == path for k in p.keys]

    def total(self) -> int:
        with self._lock:
            return sum(self.by_path.values())

    def reset(self) -> None:
        with self._lock:
            self.by_path.clear()
            self.by_status.clear()
            self.by_path_status.clear()
            self.pages.clear()
            self.log.clear()
            self.events.clear()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, which matters for benchmark throughput.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one buffered write with Nagle off; otherwise delayed ACKs add ~40 ms
    # to every keep-alive response.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server_version = "quarry-sandbox"
    sys_version = ""

    def _serve(self) -> None:
        app: SandboxServer = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        req = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            raw_target=self.path,
        )
        try:
            resp = app.dispatch(req)
        except Exception as exc:
            resp = Response.json({"message": f"internal sandbox error: {exc!r}"}, status=500)
        app.counters.record(req.method, req.path, parts.query, resp.status)
        self.send_response(resp.status)
        if resp.content_type and resp.status != 304:
            self.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        payload = b"" if resp.status == 304 or req.method == "HEAD" else resp.body
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve
    do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128


class SandboxServer:
    """Base of the imitation servers: start/stop, base_url, counters."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.counters = Counters()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def dispatch(self, req: Request) -> Response:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self.port), _Handler)
        httpd.app = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Block until :meth:`stop` is called from another thread or a signal handler."""
        self.start()
        assert self._thread is not None
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
