"""The HTTP client of the connectors: auth, the request budget, retries, rate limits, fatal errors.

Decisions are pure functions (`classify`, `backoff_delay`, `parse_retry_after`); `HttpClient` only
carries them out. Every wait goes through `on_wait(reason, until)` so the run's status shows it,
and through the stop event so SIGTERM does not sit out a long rate-limit wait.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Protocol

import httpx

from quarry_core import jsontext
from quarry_core.egress import check_destination
from quarry_core.errors import FatalError, QuarryError, RetriableError
from quarry_core.sources import RateLimitStyle, Source

log = logging.getLogger(__name__)

WaitHook = Callable[[str | None, datetime | None], None]


class Interrupted(QuarryError):
    """The process was asked to stop (SIGTERM) while waiting; the checkpoint is intact."""


@dataclass(frozen=True)
class ApiRequest:
    """One request, serialisable into the run's checkpoint (it is the resume point of a stream)."""

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    allow_status: tuple[int, ...] = ()
    etag: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "url": self.url, "params": self.params}
        if self.json is not None:
            out["json"] = self.json
        if self.allow_status:
            out["allow_status"] = list(self.allow_status)
        if self.etag:
            out["etag"] = self.etag
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiRequest:
        return cls(
            method=data["method"],
            url=data["url"],
            params=dict(data.get("params") or {}),
            json=data.get("json"),
            allow_status=tuple(data.get("allow_status") or ()),
            etag=data.get("etag"),
        )


@dataclass
class ApiResponse:
    status: int
    url: str
    headers: dict[str, str]
    text: str
    body: Any
    seconds: float = 0.0  # from sending the request to its last byte

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Action(Enum):
    OK = "ok"
    LIMITED = "limited"  # the server said how long to wait
    BACKOFF = "backoff"  # passing fault: exponential backoff with jitter
    FATAL = "fatal"  # retrying cannot help
    ERROR = "error"  # another 4xx: the caller's allow_status decides


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str = ""
    wait: float | None = None


def server_message(body: Any) -> str:
    """Jira's errorMessages/errors or GitHub's message, in one line."""
    if isinstance(body, dict):
        parts = [str(m) for m in body.get("errorMessages") or []]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
        elif isinstance(errors, list):
            parts += [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
        if body.get("message"):
            parts.insert(0, str(body["message"]))
        return "; ".join(parts)[:500]
    return ""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def parse_reset_iso(value: str | None, now: float) -> float | None:
    """Seconds until Jira's X-RateLimit-Reset (an ISO timestamp)."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, at.timestamp() - now)


def github_reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    reset = headers.get("x-ratelimit-reset")
    try:
        return max(0.0, float(reset) - now) + 1.0 if reset else None
    except ValueError:
        return None


def backoff_delay(attempt: int, base: float, cap: float, rand: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so waits never collapse to 0."""
    ceiling = min(cap, base * float(2 ** max(0, attempt - 1)))
    return ceiling / 2 + rand * ceiling / 2


def graphql_rate_limited(body: Any) -> bool:
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors
    )


def classify(
    source: Source,
    status: int,
    headers: Mapping[str, str],
    body: Any,
    now: float,
    *,
    secondary_wait: float,
    unparsable: int = 0,
) -> Verdict:
    """What to do with one response. `headers` has lower-case names; `unparsable` counts the
    characters of a body that is not JSON."""
    name = source.title
    github_style = source.rate_limits is RateLimitStyle.GITHUB
    message = server_message(body)
    if status in (200, 201) and unparsable:
        # A connection cut mid-body (or a proxy's HTML page) looks like this; asking again helps.
        return Verdict(
            Action.BACKOFF, f"{name} answered {status} with {unparsable} characters that are not JSON"
        )
    if status in (200, 201, 204, 304):
        if github_style and graphql_rate_limited(body):
            return Verdict(
                Action.LIMITED, "rate limited by GitHub GraphQL", github_reset_wait(headers, now) or 60.0
            )
        return Verdict(Action.OK)
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if status == 401:
        return Verdict(
            Action.FATAL,
            f"{name} rejected the credentials (HTTP 401{': ' + message if message else ''}); "
            "check the token (and email) in the Integration's credentials secret",
        )
    if github_style and status in (403, 429):
        if headers.get("x-ratelimit-remaining") == "0":
            return Verdict(
                Action.LIMITED,
                f"GitHub primary rate limit ({status})",
                github_reset_wait(headers, now) or 60.0,
            )
        if "secondary rate limit" in message.lower():
            wait = retry_after if retry_after is not None else secondary_wait
            return Verdict(Action.LIMITED, f"GitHub secondary rate limit ({status})", wait)
        if status == 429:
            return Verdict(Action.LIMITED, "rate limited by GitHub (429)", retry_after)
    if status == 403:
        return Verdict(
            Action.FATAL,
            f"{name} refused access (HTTP 403{': ' + message if message else ''}); "
            "the credentials lack permission for this scope",
        )
    if status == 429:
        reset = parse_reset_iso(headers.get("x-ratelimit-reset"), now)
        told = retry_after if retry_after is not None else reset
        return Verdict(Action.LIMITED, f"rate limited by {name} (429)", told)
    if status == 503 and retry_after is not None:
        return Verdict(Action.LIMITED, f"{name} unavailable (503)", retry_after)
    if status >= 500 or status == 408:
        return Verdict(Action.BACKOFF, f"{name} answered {status}{': ' + message if message else ''}")
    if status == 410:
        return Verdict(Action.FATAL, f"{name} answered 410 Gone: {message}")
    return Verdict(Action.ERROR, f"{name} answered {status}{': ' + message if message else ''}")


class Budget(Protocol):
    def reserve(self) -> float:
        """Take one request from the budget; 0 when granted, else seconds until one may be."""
        ...

    @property
    def limit(self) -> int: ...


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    max_rate_limit_waits: int = 100
    max_wait_seconds: float = 3900.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    secondary_wait: float = 60.0
    timeout: float = 30.0
    max_response_bytes: int = 64 << 20
    max_redirects: int = 5


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL: where its credentials may go."""
    parts = httpx.URL(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return parts.scheme, parts.host.lower(), port


def foreign_host(base_url: str, url: str) -> str | None:
    """The host of `url` when it is not the Integration's own origin (credentials stay home)."""
    if origin(url) == origin(base_url):
        return None
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{':' + str(parts.port) if parts.port else ''}"


class HttpClient:
    """Sends `ApiRequest`s until they succeed, fail for good, or the attempt must end."""

    def __init__(
        self,
        source: Source,
        base_url: str,
        auth: Mapping[str, str],
        policy: RetryPolicy,
        *,
        budget: Budget | None = None,
        on_wait: WaitHook | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        allow_private: bool = False,
    ) -> None:
        # Every request stays on this origin (see `url`), so checking it once guards them all.
        check_destination(base_url, allow_private=allow_private)
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.budget = budget
        self.on_wait = on_wait or (lambda reason, until: None)
        self.stop = stop or threading.Event()
        self.rng = rng or random.Random()
        self.requests = 0
        self._lock = threading.Lock()
        self._local = threading.local()  # whether this thread's request is waiting
        # Set by a rate-limited response: requests sent ahead on other threads hold off until then
        # instead of earning the same (or, from Jira, a longer) wait.
        self._not_before = 0.0
        self._halt = threading.Event()
        headers = {"Accept": "application/json", **source.headers, "User-Agent": "quarry-extractor", **auth}
        # Redirects are followed by `send`, and only within the Integration's origin.
        self._client = httpx.Client(headers=headers, timeout=policy.timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def abort(self) -> None:
        """End the requests other threads still have in flight (at their next wait or retry)."""
        self._halt.set()

    @property
    def waiting(self) -> bool:
        return bool(getattr(self._local, "waiting", False))

    def url(self, req: ApiRequest) -> str:
        url = req.url if req.url.startswith(("http://", "https://")) else self.base_url + req.url
        self._same_origin(url, "a next-page link")
        return url

    def _same_origin(self, url: str, what: str) -> None:
        host = foreign_host(self.base_url, url)
        if host is not None:
            raise FatalError(
                f"{what} points to {host}, not to the Integration's {self.base_url}: "
                "its credentials are sent only there"
            )

    def _sleep(self, seconds: float, reason: str | None) -> None:
        if seconds > self.policy.max_wait_seconds:
            until = datetime.fromtimestamp(time.time() + seconds, UTC)
            # Left on the run, so the controller knows when a retry can make progress.
            self.on_wait(reason, until)
            raise RetriableError(f"{reason}: the wait until {until.isoformat()} is longer than allowed")
        if reason is not None:
            self._local.waiting = True
            self.on_wait(reason, datetime.fromtimestamp(time.time() + seconds, UTC))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            # Short slices: abort() has no event of its own to wake this thread.
            if self.stop.wait(min(left, 0.25)) or self._halt.is_set():
                raise Interrupted("stopped while waiting")

    def _clear_wait(self) -> None:
        if self.waiting:
            self._local.waiting = False
            self.on_wait(None, None)

    def _take_budget(self) -> None:
        if self.budget is None:
            return
        while (wait := self.budget.reserve()) > 0:
            self._sleep(wait, f"request budget of {self.budget.limit} requests/hour used up")

    def _hold_off(self) -> None:
        with self._lock:
            wait = self._not_before - time.monotonic()
        if wait > 0:
            self._sleep(wait, None)

    def send(self, req: ApiRequest) -> ApiResponse:
        url = self.url(req)
        failures = limited = 0
        while True:
            if self.stop.is_set() or self._halt.is_set():
                raise Interrupted("stopped before a request")
            self._take_budget()
            # Right before sending (the budget may have taken a database round trip): a limit
            # another thread met meanwhile holds this request off too.
            self._hold_off()
            headers = {"If-None-Match": req.etag} if req.etag else None
            with self._lock:
                self.requests += 1
            try:
                resp = self._exchange(req, url, headers)
            except httpx.TransportError as exc:
                failures += 1
                if failures >= self.policy.max_attempts:
                    raise RetriableError(
                        f"{self.source.title} unreachable after {failures} tries: {exc!r}"
                    ) from exc
                delay = backoff_delay(
                    failures, self.policy.backoff_base, self.policy.backoff_cap, self.rng.random()
                )
                log.warning("request to %s failed (%r); retrying in %.1fs", url, exc, delay)
                self._sleep(delay, None)
                continue
            verdict = classify(
                self.source,
                resp.status,
                resp.headers,
                resp.body,
                time.time(),
                secondary_wait=self.policy.secondary_wait,
                unparsable=len(resp.text) if resp.text and resp.body is None else 0,
            )
            if verdict.action is Action.OK:
                self._clear_wait()
                return resp
            if verdict.action is Action.FATAL:
                raise FatalError(verdict.reason)
            if verdict.action is Action.ERROR:
                if resp.status in req.allow_status:
                    self._clear_wait()
                    return resp
                raise FatalError(f"{req.method} {url}: {verdict.reason}")
            if verdict.action is Action.LIMITED and verdict.wait is not None:
                limited += 1
                if limited > self.policy.max_rate_limit_waits:
                    raise RetriableError(f"{verdict.reason}: still limited after {limited} waits")
                # A small margin: Jira answers a retry that comes early with a longer wait.
                wait = verdict.wait + 0.05 + self.rng.random() * 0.1
                with self._lock:
                    self._not_before = max(self._not_before, time.monotonic() + wait)
                self._sleep(wait, verdict.reason)
                continue
            failures += 1
            if failures >= self.policy.max_attempts:
                raise RetriableError(f"{verdict.reason} ({failures} tries)")
            delay = backoff_delay(
                failures, self.policy.backoff_base, self.policy.backoff_cap, self.rng.random()
            )
            self._sleep(delay, verdict.reason if delay >= 5 else None)


    def _exchange(self, req: ApiRequest, url: str, headers: Mapping[str, str] | None) -> ApiResponse:
        """One request, following redirects within the Integration's origin, the body size capped."""
        request = self._client.build_request(
            req.method, url, params=req.params or None, json=req.json, headers=headers
        )
        for _ in range(self.policy.max_redirects + 1):
            started = time.monotonic()
            raw = self._client.send(request, stream=True)
            try:
                if raw.status_code not in (301, 302, 303, 307, 308) or "location" not in raw.headers:
                    content = read_capped(raw, self.policy.max_response_bytes)
                    return _response(raw, content, time.monotonic() - started)
                location = str(raw.url.join(raw.headers["location"]))
            finally:
                raw.close()
            self._same_origin(location, f"a redirect from {raw.url}")
            request = self._client.build_request(
                req.method if raw.status_code in (307, 308) else "GET", location, headers=headers,
                json=req.json if raw.status_code in (307, 308) else None,
            )
        raise FatalError(f"{url}: more than {self.policy.max_redirects} redirects")


def read_capped(raw: httpx.Response, cap: int) -> bytes:
    """The body, or FatalError once it passes `cap` bytes (a page that large is not an API page)."""
    declared = raw.headers.get("content-length", "")
    too_big = FatalError(
        f"{raw.request.method} {raw.url}: the response is larger than {cap} bytes "
        "(QUARRY_EXTRACT_MAX_RESPONSE_BYTES)"
    )
    if declared.isdigit() and int(declared) > cap:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_bytes():
        size += len(chunk)
        if size > cap:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _response(raw: httpx.Response, content: bytes, seconds: float) -> ApiResponse:
    text = content.decode(raw.encoding or "utf-8", "replace") if raw.status_code != 304 else ""
    body: Any = None
    if text:
        try:
            body = jsontext.loads(text)
        except ValueError:
            body = None
    return ApiResponse(
        status=raw.status_code,
        url=str(raw.url),
        headers={k.lower(): v for k, v in raw.headers.items()},
        text=text,
        body=body,
        seconds=seconds,
    )
