"""Is an Integration usable? One authenticated request to the source, turned into a Ready verdict.

Each source names its probe in the registry (Jira `GET /rest/api/3/myself`, GitHub `GET /user`);
they need valid credentials and nothing else, so they tell a wrong URL (NotFound), bad credentials
(AuthFailed) and an outage (Unreachable) apart. The local controller and the kopf operator both
call `check_integration` and write the result into the Integration's status. Messages may be
shown anywhere, so no credential value ever appears in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

import httpx

from quarry_core.egress import EgressRefused, check_destination
from quarry_core.reconcile import IntegrationView
from quarry_core.resources import (
    ConditionType,
    IntegrationSpec,
    IntegrationStatus,
    IntegrationType,
    get_condition,
    set_condition,
)
from quarry_core.sources import get_source
from quarry_core.sources.auth import MissingCredential, auth_headers
from quarry_core.states import IntegrationPhase


class CheckReason(StrEnum):
    VERIFIED = "Verified"
    AUTH_FAILED = "AuthFailed"
    UNREACHABLE = "Unreachable"
    NOT_FOUND = "NotFound"
    REFUSED = "EgressRefused"


@dataclass(frozen=True)
class CheckResult:
    ready: bool
    reason: str
    message: str


def status_after_check(
    old: IntegrationStatus, ready: bool, reason: str, message: str, generation: int, now: datetime
) -> IntegrationStatus:
    """The Integration's status once a check answered (the Ready condition keeps its transition time)."""
    conditions = set_condition(old.conditions, ConditionType.READY, ready, reason, message, now, generation)
    return old.model_copy(
        update={
            "phase": IntegrationPhase.READY if ready else IntegrationPhase.ERROR,
            "conditions": conditions,
            "last_check_time": now,
            "observed_generation": generation,
        }
    )


def view_of(name: str, type_: str, status: IntegrationStatus) -> IntegrationView | None:
    """What an EtlJob's reconcile needs to know of its Integration; None when the type is unknown."""
    try:
        kind = IntegrationType(type_)
    except ValueError:
        return None
    ready = get_condition(status.conditions, ConditionType.READY)
    if ready is None:
        return IntegrationView(name, kind, False, "NotChecked", "the integration has not been checked yet")
    return IntegrationView(name, kind, ready.status == "True", ready.reason, ready.message)


def probe_url(spec: IntegrationSpec) -> str:
    return spec.base_url.rstrip("/") + get_source(spec.type).probe_path


def _shown_url(url: str) -> str:
    """The URL without any user:password@ part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _scrub(text: str, credentials: dict[str, str]) -> str:
    for value in credentials.values():
        if len(value) >= 3:
            text = text.replace(value, "***")
    return text


def _installation_token(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "not accessible by integration" in str(body.get("message", "")).lower()


def _identity(spec: IntegrationSpec, response: httpx.Response) -> str | None:
    """Who the credentials belong to, from a successful answer; None if it is not the expected API."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("repositories"), list) and "total_count" in body:
        return f"an app installation with access to {body['total_count']} repositories"
    name = next((body[f] for f in get_source(spec.type).identity_fields if body.get(f)), None)
    return str(name) if name else None


def classify(spec: IntegrationSpec, response: httpx.Response) -> CheckResult:
    """The verdict for one answer of the probe endpoint (pure; tests feed it responses)."""
    url = _shown_url(str(response.request.url))
    status = response.status_code
    if status == 200:
        who = _identity(spec, response)
        if who is None:
            return CheckResult(False, CheckReason.NOT_FOUND, f"{url} did not answer like the {spec.type} API")
        return CheckResult(True, CheckReason.VERIFIED, f"authenticated to {spec.base_url} as {who}")
    if status == 429 or status >= 500:
        return CheckResult(False, CheckReason.UNREACHABLE, f"{url} answered HTTP {status}; will check again")
    if status == 403 and response.headers.get("x-ratelimit-remaining") == "0":
        message = f"{url} is rate limited (HTTP 403); will check again"
        return CheckResult(False, CheckReason.UNREACHABLE, message)
    if status in (401, 403):
        return CheckResult(
            False, CheckReason.AUTH_FAILED, f"{url} refused the credentials (HTTP {status}); check the Secret"
        )
    if status in (404, 410):
        message = f"{url} does not exist (HTTP {status}); check baseUrl"
        return CheckResult(False, CheckReason.NOT_FOUND, message)
    return CheckResult(False, CheckReason.UNREACHABLE, f"{url} answered an unexpected HTTP {status}")


def check_integration(
    spec: IntegrationSpec,
    credentials: dict[str, str],
    timeout: float = 10,
    transport: httpx.BaseTransport | None = None,
    *,
    allow_private: bool = False,
) -> CheckResult:
    """Probe the source once with the integration's credentials; never raises for network errors.

    Redirects are not followed (they could lead the credentials elsewhere): baseUrl must be the
    API's own URL.
    """
    try:
        auth = auth_headers(spec, credentials)
    except MissingCredential as exc:
        return CheckResult(False, CheckReason.AUTH_FAILED, str(exc))
    url = probe_url(spec)
    try:
        check_destination(url, allow_private=allow_private)
    except EgressRefused as exc:
        return CheckResult(False, CheckReason.REFUSED, str(exc))
    headers = {"Accept": "application/json", **get_source(spec.type).headers, **auth}
    headers["User-Agent"] = "quarry-check"
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
            response = client.get(url, headers=headers)
            alt = get_source(spec.type).installation_probe_path
            if alt and response.status_code == 403 and _installation_token(response):
                # An App installation token may not ask who it is; what it may read proves it.
                response = client.get(spec.base_url.rstrip("/") + alt, headers=headers)
    except httpx.TimeoutException:
        message = f"{_shown_url(url)} did not answer within {timeout:g}s"
        return CheckResult(False, CheckReason.UNREACHABLE, message)
    except httpx.HTTPError as exc:
        detail = _scrub(f"{type(exc).__name__}: {exc}", credentials)
        return CheckResult(False, CheckReason.UNREACHABLE, f"cannot reach {_shown_url(url)} ({detail})")
    result = classify(spec, response)
    return CheckResult(result.ready, result.reason, _scrub(result.message, credentials))
