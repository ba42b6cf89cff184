"""Imitation Jira Cloud (REST v3 + Agile 1.0) behaving as the shared API-NOTES.md describes.

Endpoints: ``GET|POST /rest/api/3/search/jql`` (token paging, no ``total``), the removed
``/rest/api/{2,3}/search`` (410), ``/rest/api/3/issue/{key}``, ``/rest/api/3/issue/{key}/changelog``,
``POST /rest/api/3/changelog/bulkfetch``, ``/rest/api/3/project/search``, ``/rest/api/3/project``,
``/rest/api/3/issuetype``, ``/rest/api/3/status``, ``/rest/api/3/field``, ``/rest/api/3/myself``,
``/rest/api/3/serverInfo``, ``/rest/agile/1.0/board``, ``/rest/agile/1.0/board/{id}``,
``/rest/agile/1.0/board/{id}/sprint``.  Paths also answer under the OAuth 2.0 (3LO) prefix
``/ex/jira/{cloudId}``.  Auth: Basic ``email:api_token`` or ``Bearer <token>``.

Search pages are snapshots: the first call fixes the ordered list of matching issue ids, and the
``nextPageToken`` names that snapshot and an offset, so a retried request gets the same page and
the same next token.  Issues deleted after the snapshot are left out of later pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from .faults import Fault, FaultConfig, FaultInjector, PenaltyBox, QuotaWindow
from .http import Request, Response, SandboxServer, dumps
from .jira_data import JiraDataset, JiraIssue
from .jql import JqlError, parse_jql

REMOVED_SEARCH_MESSAGE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED_MESSAGE = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
SEARCH_PATH = "/rest/api/3/search/jql"
_PREFIX = re.compile(r"^/ex/jira/[^/]+(?=/)")


@dataclass
class JiraConfig:
    email: str = "bot@quarry.dev"
    api_token: str = "jira-token"
    bearer_token: str = "jira-oauth-token"
    default_max_results: int = 50
    max_results_cap: int = 100
    id_only_cap: int = 5000
    heavy_cap: int = 50
    """Cap when many fields (``*all``/``*navigable``/>20 listed) are requested with ``expand=changelog``."""
    near_limit_fraction: float = 0.2
    faults: FaultConfig = field(default_factory=FaultConfig)


def jira_error(
    status: int, *messages: str, errors: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response.json({"errorMessages": list(messages), "errors": errors or {}}, status, headers)


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(token: str) -> Any:
    pad = "=" * (-len(token) % 4)
    return json.loads(base64.urlsafe_b64decode(token + pad))


def _int_arg(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class JiraServer(SandboxServer):
    def __init__(
        self,
        dataset: JiraDataset,
        config: JiraConfig | None = None,
        *,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.dataset = dataset
        self.config = config or JiraConfig()
        if faults is not None:
            self.config.faults = faults
        self.faults = FaultInjector(self.config.faults)
        fc = self.config.faults
        self.quota = QuotaWindow(fc.quota, fc.window_seconds) if fc.quota else None
        self.penalty = PenaltyBox()
        self._snapshots: OrderedDict[str, tuple[str, list[int]]] = OrderedDict()
        self._snap_lock = threading.Lock()
        self._snap_seq = 0
        self._page_cache: OrderedDict[tuple[Any, ...], tuple[bytes, tuple[str, ...]]] = OrderedDict()

    def start(self) -> JiraServer:
        super().start()
        self.dataset.base_url = self.base_url
        self.dataset._obj_cache.clear()
        return self

    # ------------------------------------------------------------------ plumbing

    def _authorized(self, req: Request) -> bool:
        auth = req.header("Authorization") or ""
        if auth.startswith("Basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.config.email}:{self.config.api_token}"
        if auth.startswith("Bearer "):
            return auth[7:].strip() == self.config.bearer_token
        return False

    def _rate_headers(self) -> dict[str, str]:
        if self.quota is None:
            return {}
        limit, remaining, _used, _reset = self.quota.snapshot()
        h = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}
        if remaining < limit * self.config.near_limit_fraction:
            h["X-RateLimit-NearLimit"] = "true"
        return h

    def _too_many(self, retry_after: int, reason: str) -> Response:
        reset = (
            datetime.fromtimestamp(time.time() + retry_after, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        )
        limit = self.quota.limit if self.quota else 1000
        headers = {
            "Retry-After": str(retry_after),
            "X-RateLimit-Reset": reset,
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "RateLimit-Reason": reason,
        }
        return jira_error(429, "Rate limit exceeded.", headers=headers)

    def dispatch(self, req: Request) -> Response:
        req.path = _PREFIX.sub("", req.path)
        if not self._authorized(req):
            return jira_error(
                401,
                "You are not authenticated. Authentication required to perform this operation.",
                headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
            )
        client = req.header("Authorization") or ""
        fc = self.config.faults
        if fc.penalize_early_retry:
            left = self.penalty.remaining(client)
            if left > 0:
                self.counters.event("early_retry")
                return self._too_many(max(1, math.ceil(left)), "jira-burst-based")
        if self.quota is not None and not self.quota.try_consume():
            wait = max(1, math.ceil(self.quota.snapshot()[3] - time.time()))
            return self._too_many(wait, "jira-quota-global-based")
        fault = self.faults.draw()
        if fault is Fault.RATE_LIMIT:
            if fc.penalize_early_retry:
                self.penalty.block(client, fc.retry_after)
            return self._too_many(fc.retry_after, "jira-burst-based")
        if fault is Fault.UNAVAILABLE:
            headers = {"Retry-After": str(fc.retry_after_503)} if self.faults.with_retry_after_503() else {}
            return jira_error(503, "Service Unavailable", headers=headers)
        resp = self._route(req)
        resp.headers.update(self._rate_headers())
        return resp

    def _route(self, req: Request) -> Response:
        p = req.path.rstrip("/")
        m = re.fullmatch(r"/rest/api/([23])/(.*)", p)
        if m:
            version, rest = m.groups()
            if rest == "search":
                return jira_error(410, REMOVED_SEARCH_MESSAGE)
            if rest == "search/jql" and version == "3":
                if req.method not in ("GET", "POST"):
                    return jira_error(405, "Method not allowed")
                return self.search(req)
            if rest == "changelog/bulkfetch" and req.method == "POST":
                return self.bulkfetch(req)
            if req.method != "GET":
                return jira_error(405, "Method not allowed")
            mi = re.fullmatch(r"issue/([^/]+)/changelog", rest)
            if mi:
                return self.issue_changelog(req, mi.group(1))
            mi = re.fullmatch(r"issue/([^/]+)", rest)
            if mi:
                return self.get_issue(req, mi.group(1))
            simple: dict[str, Callable[[Request], Response]] = {
                "project/search": self.project_search,
                "project": lambda r: Response.json(
                    [self.dataset.project_obj(pr, True) for pr in self.dataset.projects]
                ),
                "issuetype": lambda r: Response.json(self.dataset.issuetypes()),
                "status": lambda r: Response.json(self.dataset.statuses()),
                "field": lambda r: Response.json(self.dataset.fields()),
                "myself": lambda r: Response.json(self.dataset.myself()),
                "serverInfo": lambda r: Response.json(
                    {
                        "baseUrl": self.base_url,
                        "version": "1001.0.0-SNAPSHOT",
                        "versionNumbers": [1001, 0, 0],
                        "deploymentType": "Cloud",
                        "buildNumber": 100250,
                        "serverTitle": "Quarry sandbox Jira",
                    }
                ),
            }
            handler = simple.get(rest)
            if handler is not None:
                return handler(req)
        if req.method == "GET":
            if p == "/rest/agile/1.0/board":
                return self.boards(req)
            mb = re.fullmatch(r"/rest/agile/1.0/board/(\d+)(/sprint)?", p)
            if mb:
                return self.board(req, int(mb.group(1)), bool(mb.group(2)))
        return jira_error(404, "null for uri: " + req.path)

    # ------------------------------------------------------------------ search

    def _search_params(self, req: Request) -> dict[str, Any]:
        if req.method == "POST":
            try:
                body = req.json() or {}
            except json.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                raise JqlError("Invalid request payload. Refer to the REST API documentation and try again.")
            fields = body.get("fields")
            expand = body.get("expand")
            if isinstance(expand, list):
                expand = ",".join(expand)
            return {
                "jql": body.get("jql") or "",
                "token": body.get("nextPageToken"),
                "max": body.get("maxResults"),
                "fields": fields if isinstance(fields, list) else None,
                "expand": expand or "",
            }
        fields_arg = req.args("fields")
        fields_list = (
            [f.strip() for v in fields_arg for f in v.split(",") if f.strip()] if fields_arg else None
        )
        return {
            "jql": req.arg("jql") or "",
            "token": req.arg("nextPageToken"),
            "max": req.arg("maxResults"),
            "fields": fields_list,
            "expand": ",".join(req.args("expand")),
        }

    @staticmethod
    def _field_spec(fields: list[str] | None) -> frozenset[str] | str:
        if not fields:
            return frozenset({"id"})
        if "*all" in fields:
            return "*all"
        if "*navigable" in fields:
            return "*navigable"
        return frozenset(f for f in fields if not f.startswith("-"))

    def _snapshot(self, jql: str) -> tuple[str, list[int]]:
        ds = self.dataset
        query = parse_jql(jql, ds, ds.tz)
        if not query.bounded:
            raise JqlError(UNBOUNDED_MESSAGE)
        matching = [i for i in ds.issues if not i.deleted and query.matches(i)]
        matching.sort(key=query.sort_key())
        with self._snap_lock:
            self._snap_seq += 1
            sid = f"{self._snap_seq:x}"
            self._snapshots[sid] = (jql, [i.idx for i in matching])
            while len(self._snapshots) > 512:
                self._snapshots.popitem(last=False)
        return sid, self._snapshots[sid][1]

    def search(self, req: Request) -> Response:
        try:
            params = self._search_params(req)
        except JqlError as exc:
            return jira_error(400, str(exc))
        jql: str = params["jql"]
        spec = self._field_spec(params["fields"])
        expand_changelog = "changelog" in str(params["expand"]).split(",")
        requested = max(1, _int_arg(params["max"], self.config.default_max_results))
        heavy = spec in ("*all", "*navigable") or (isinstance(spec, frozenset) and len(spec) > 20)
        if spec in (frozenset({"id"}), frozenset({"key"}), frozenset({"id", "key"})) and not expand_changelog:
            cap = self.config.id_only_cap
        elif heavy and expand_changelog:
            cap = self.config.heavy_cap
        else:
            cap = self.config.max_results_cap
        n = min(requested, cap)
        token = params["token"]
        if token:
            try:
                tok = _unb64(token)
                sid, offset, jhash = str(tok["s"]), int(tok["o"]), str(tok["h"])
            except (ValueError, KeyError, TypeError, binascii.Error):
                return jira_error(400, "The provided next page token is invalid or expired.")
            with self._snap_lock:
                snap = self._snapshots.get(sid)
            if snap is None or jhash != hashlib.sha1(jql.encode()).hexdigest()[:12]:
                return jira_error(400, "The provided next page token is invalid or expired.")
            ids = snap[1]
        else:
            try:
                sid, ids = self._snapshot(jql)
            except JqlError as exc:
                return jira_error(400, str(exc))
            offset = 0
        cache_key = (sid, offset, n, spec, expand_changelog, self.dataset.version)
        with self._snap_lock:
            cached = self._page_cache.get(cache_key)
        if cached is not None:
            body, keys = cached
        else:
            page = [self.dataset.issues[i] for i in ids[offset : offset + n]]
            page = [rec for rec in page if not rec.deleted]
            items = [self.dataset.render_issue(rec, spec, expand_changelog) for rec in page]
            end = offset + n
            out: dict[str, Any] = {"issues": items}
            if end < len(ids):
                out["nextPageToken"] = _b64(
                    {"s": sid, "o": end, "h": hashlib.sha1(jql.encode()).hexdigest()[:12]}
                )
                out["isLast"] = False
            else:
                out["isLast"] = True
            body = dumps(out)
            keys = tuple(rec.key for rec in page)
            with self._snap_lock:
                self._page_cache[cache_key] = (body, keys)
                while len(self._page_cache) > 16:
                    self._page_cache.popitem(last=False)
        self.counters.record_page(SEARCH_PATH, keys)
        return Response.raw_json(body)

    # ------------------------------------------------------------------ issues and changelogs

    def _issue_or_404(self, key: str) -> JiraIssue | Response:
        rec = self.dataset.get_issue(key)
        if rec is None:
            return jira_error(404, "Issue does not exist or you do not have permission to see it.")
        return rec

    def get_issue(self, req: Request, key: str) -> Response:
        rec = self._issue_or_404(key)
        if isinstance(rec, Response):
            return rec
        fields_arg = req.args("fields")
        fields = [f for v in fields_arg for f in v.split(",") if f] if fields_arg else ["*all"]
        expand = "changelog" in ",".join(req.args("expand")).split(",")
        return Response.json(self.dataset.render_issue(rec, self._field_spec(fields), expand))

    def issue_changelog(self, req: Request, key: str) -> Response:
        rec = self._issue_or_404(key)
        if isinstance(rec, Response):
            return rec
        start = max(0, _int_arg(req.arg("startAt"), 0))
        n = min(max(1, _int_arg(req.arg("maxResults"), 100)), 100)
        full = self.dataset.changelog(rec)
        values = full[start : start + n]
        is_last = start + n >= len(full)
        url = f"{self.base_url}/rest/api/3/issue/{rec.key}/changelog"
        out: dict[str, Any] = {"self": f"{url}?{urlencode({'maxResults': n, 'startAt': start})}"}
        if not is_last:
            out["nextPage"] = f"{url}?{urlencode({'maxResults': n, 'startAt': start + n})}"
        out.update(
            {"maxResults": n, "startAt": start, "total": len(full), "isLast": is_last, "values": values}
        )
        self.counters.record_page(
            "/rest/api/3/issue/{key}/changelog", [f"{rec.key}#{h['id']}" for h in values]
        )
        return Response.json(out)

    def bulkfetch(self, req: Request) -> Response:
        try:
            body = req.json() or {}
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return jira_error(
                400, "Invalid request payload. Refer to the REST API documentation and try again."
            )
        refs = body.get("issueIdOrKeys")
        if not isinstance(refs, list) or not 1 <= len(refs) <= 1000:
            return jira_error(400, "issueIdOrKeys must contain between 1 and 1000 issue ids or keys.")
        field_ids = body.get("fieldIds") or None
        if field_ids is not None and (not isinstance(field_ids, list) or len(field_ids) > 10):
            return jira_error(400, "fieldIds must contain at most 10 field ids.")
        n = min(max(1, _int_arg(body.get("maxResults"), 1000)), 10000)
        req_hash = hashlib.sha1(json.dumps([refs, field_ids]).encode()).hexdigest()[:12]
        issue_pos, hist_pos = 0, 0
        token = body.get("nextPageToken")
        if token:
            try:
                tok = _unb64(str(token))
                issue_pos, hist_pos = int(tok["i"]), int(tok["o"])
                if tok["h"] != req_hash:
                    raise ValueError
            except (ValueError, KeyError, TypeError, binascii.Error):
                return jira_error(400, "The provided next page token is invalid or expired.")
        out: list[dict[str, Any]] = []
        budget = n
        keys: list[str] = []
        while issue_pos < len(refs) and budget > 0:
            rec = self.dataset.get_issue(str(refs[issue_pos]))
            if rec is None:
                issue_pos, hist_pos = issue_pos + 1, 0
                continue
            hist = self.dataset.changelog(rec)
            if field_ids:
                wanted = set(field_ids)
                hist = [
                    dict(
                        h,
                        items=[
                            it
                            for it in h["items"]
                            if it.get("fieldId") in wanted or it.get("field") in wanted
                        ],
                    )
                    for h in hist
                ]
                hist = [h for h in hist if h["items"]]
            chunk = hist[hist_pos : hist_pos + budget]
            if chunk:
                out.append({"issueId": str(rec.id), "changeHistories": chunk})
                keys.extend(f"{rec.key}#{h['id']}" for h in chunk)
            budget -= len(chunk)
            if hist_pos + len(chunk) >= len(hist):
                issue_pos, hist_pos = issue_pos + 1, 0
            else:
                hist_pos += len(chunk)
        resp: dict[str, Any] = {"issueChangeLogs": out}
        if issue_pos < len(refs):
            resp["nextPageToken"] = _b64({"i": issue_pos, "o": hist_pos, "h": req_hash})
        self.counters.record_page("/rest/api/3/changelog/bulkfetch", keys)
        return Response.json(resp)

    # ------------------------------------------------------------------ metadata

    def project_search(self, req: Request) -> Response:
        start = max(0, _int_arg(req.arg("startAt"), 0))
        n = min(max(1, _int_arg(req.arg("maxResults"), 50)), 100)
        projects = self.dataset.projects
        keys = {k.strip().lower() for v in req.args("keys") for k in v.split(",") if k.strip()}
        if keys:
            projects = [p for p in projects if p.key.lower() in keys or p.id in keys]
        q = (req.arg("query") or "").lower()
        if q:
            projects = [p for p in projects if q in p.key.lower() or q in p.name.lower()]
        page = projects[start : start + n]
        is_last = start + n >= len(projects)
        url = f"{self.base_url}/rest/api/3/project/search"
        out: dict[str, Any] = {"self": f"{url}?{urlencode({'maxResults': n, 'startAt': start})}"}
        if not is_last:
            out["nextPage"] = f"{url}?{urlencode({'maxResults': n, 'startAt': start + n})}"
        out.update(
            {
                "maxResults": n,
                "startAt": start,
                "total": len(projects),
                "isLast": is_last,
                "values": [self.dataset.project_obj(p, True) for p in page],
            }
        )
        self.counters.record_page("/rest/api/3/project/search", [p.key for p in page])
        return Response.json(out)

    def boards(self, req: Request) -> Response:
        start = max(0, _int_arg(req.arg("startAt"), 0))
        n = min(max(1, _int_arg(req.arg("maxResults"), 50)), 50)
        boards = self.dataset.boards
        pref = (req.arg("projectKeyOrId") or "").lower()
        if pref:
            boards = [
                b
                for b in boards
                if pref in (self.dataset.projects[b.project].key.lower(), self.dataset.projects[b.project].id)
            ]
        btype = req.arg("type")
        if btype:
            boards = [b for b in boards if b.type in btype.split(",")]
        page = boards[start : start + n]
        self.counters.record_page("/rest/agile/1.0/board", [str(b.id) for b in page])
        return Response.json(
            {
                "maxResults": n,
                "startAt": start,
                "total": len(boards),
                "isLast": start + n >= len(boards),
                "values": [self.dataset.board_obj(b) for b in page],
            }
        )

    def board(self, req: Request, board_id: int, sprints: bool) -> Response:
        board = next((b for b in self.dataset.boards if b.id == board_id), None)
        if board is None:
            return jira_error(404, "Board does not exist or you do not have permission to see it.")
        if not sprints:
            return Response.json(self.dataset.board_obj(board))
        if board.type != "scrum":
            return jira_error(400, "The board does not support sprints")
        start = max(0, _int_arg(req.arg("startAt"), 0))
        n = min(max(1, _int_arg(req.arg("maxResults"), 50)), 50)
        states = {s.strip() for v in req.args("state") for s in v.split(",") if s.strip()}
        sprint_list = [
            s
            for s in self.dataset.sprints
            if s.board_id == board_id
            and (not states or str(self.dataset.sprint_obj(s, True).get("state")) in states)
        ]
        page = sprint_list[start : start + n]
        self.counters.record_page("/rest/agile/1.0/board/{id}/sprint", [str(s.id) for s in page])
        return Response.json(
            {
                "maxResults": n,
                "startAt": start,
                "total": len(sprint_list),
                "isLast": start + n >= len(sprint_list),
                "values": [self.dataset.sprint_obj(s, True) for s in page],
            }
        )
