"""Imitation GitHub REST + GraphQL API behaving as the shared API-NOTES.md describes.

REST (``Authorization: token <t>`` or ``Bearer <t>``; ``/repos/{o}/{r}`` and ``/repositories/{id}``
forms both work, and ``Link`` headers use the ``/repositories/{id}`` form as GitHub does, so
clients must follow them rather than build URLs)::

    GET /user                         GET /rate_limit (free)
    GET /installation/repositories    (installation tokens only; they get 403 on /user)
    GET /orgs/{org}/repos             GET /repos/{o}/{r}
    GET /repos/{o}/{r}/pulls?state=open|closed|all&sort=created|updated&direction&per_page&page
    GET /repos/{o}/{r}/pulls/{n}      (full shape: merged, merged_by, additions, deletions, ...)
    GET /repos/{o}/{r}/pulls/{n}/reviews
    GET /repos/{o}/{r}/pulls/{n}/commits   (at most 250 commits are ever listed)
    GET /repos/{o}/{r}/commits?since=&until=&per_page&page   (409 on an empty repository)

Every response carries ``x-ratelimit-limit/-remaining/-used/-reset/-resource``; GET 200s carry an
``ETag`` and answer ``If-None-Match`` with 304 (free).  Primary limit: 403 (configurable 429) with
remaining 0 until reset; secondary limit: 403 "secondary rate limit" with ``retry-after``.

GraphQL: ``POST /graphql`` with ``{"query": ..., "variables": {...}}``.  This is not a GraphQL
engine: the server reads the arguments it needs from the query text or, preferably, variables,
and always answers with the full shape below, whatever the selection set says.  Supported::

    query($owner: String!, $name: String!, $first: Int!, $after: String) {
      rateLimit { cost remaining resetAt limit used nodeCount }
      repository(owner: $owner, name: $name) {
        pullRequests(first: $first, after: $after, states: [OPEN, CLOSED, MERGED],
                     orderBy: {field: UPDATED_AT, direction: DESC}) {
          totalCount pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
          nodes { ...PR }
        }
        pullRequest(number: $number) { ...PR }      # single PR; reviews/commits accept after:
      }
      viewer { login }
    }

``first`` (1..100) is required on ``pullRequests``; ``reviews(first: N)`` and ``commits(first: N)``
are read from the text (default 100, also 1..100).  A ``PR`` node is::

    {"id", "databaseId", "number", "title", "body", "url", "state": "OPEN|CLOSED|MERGED",
     "isDraft", "locked", "createdAt", "updatedAt", "closedAt", "mergedAt",
     "additions", "deletions", "changedFiles", "headRefName", "baseRefName", "headRefOid",
     "mergeCommit": {"oid"} | null,
     "author": {"__typename": "User|Bot", "login", "url", "databaseId"} | null,
     "mergedBy": {...same...} | null,
     "labels": {"nodes": [{"name"}]},
     "reviews": {"totalCount", "pageInfo": {"hasNextPage", "endCursor"},
                 "nodes": [{"id", "databaseId", "state", "body", "url", "submittedAt" (null when PENDING),
                            "createdAt", "author": {...} | null, "commit": {"oid"}}]},
     "commits": {"totalCount" (<= 250), "pageInfo": {"hasNextPage", "endCursor"},
                 "nodes": [{"commit": {"oid", "message", "messageHeadline", "committedDate",
                            "authoredDate", "additions", "deletions", "url",
                            "author": {"name", "email", "date", "user": {"login", "databaseId"} | null},
                            "committer": {...same...}}}]}}

``data.rateLimit`` (``cost``, ``remaining``, ``resetAt``, ``limit``, ``used``, ``nodeCount``) is always
present.  Errors come back with HTTP 200 and ``errors[]`` (``type`` ``RATE_LIMITED``,
``EXCESSIVE_PAGINATION``, ``MISSING_PAGINATION_BOUNDARIES``, ``NOT_FOUND``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .faults import Fault, FaultConfig, FaultInjector, PenaltyBox, QuotaWindow
from .github_data import PR_COMMITS_LIMIT, GhPull, GhRepo, GithubDataset, decode_cursor, iso, parse_iso
from .http import Request, Response, SandboxServer, dumps

DOCS = "https://docs.github.com/rest"
PRIMARY_MESSAGE = (
    "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
    "please include the request ID."
)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)
_REPO_PATH = re.compile(
    r"^/(?:repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|repositories/(?P<rid>\d+))(?P<rest>/.*)?$"
)


@dataclass
class GithubConfig:
    tokens: tuple[str, ...] = ("gh-token",)
    # GitHub App installation tokens: every repository of the dataset, but no GET /user (403
    # "Resource not accessible by integration", as GitHub answers them).
    installation_tokens: tuple[str, ...] = ()
    rest_limit: int = 5000
    graphql_limit: int = 5000
    window_seconds: float = 3600.0
    primary_status: int = 403
    secondary_status: int = 403
    p_secondary_retry_after: float = 0.7
    faults: FaultConfig = field(default_factory=FaultConfig)


def gh_error(status: int, message: str, doc: str = DOCS, headers: dict[str, str] | None = None) -> Response:
    return Response.json(
        {"message": message, "documentation_url": doc, "status": str(status)}, status, headers
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


class GraphQLError(Exception):
    def __init__(self, type_: str, message: str, path: list[str] | None = None) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.path = path


def _call_args(query: str, name: str, start: int = 0) -> tuple[str | None, int]:
    """The text inside ``name( ... )`` (balanced) at or after ``start``, and where it ends."""
    m = re.compile(rf"\b{name}\s*\(").search(query, start)
    if not m:
        return None, -1
    depth, i = 1, m.end()
    while i < len(query) and depth:
        depth += {"(": 1, ")": -1}.get(query[i], 0)
        i += 1
    return query[m.end() : i - 1], i


def _arg(inner: str | None, key: str, variables: dict[str, Any]) -> Any:
    if not inner:
        return None
    m = re.search(rf"\b{key}\s*:\s*(\$\w+|\"(?:[^\"\\]|\\.)*\"|-?\d+|\{{[^}}]*\}}|\[[^\]]*\]|\w+)", inner)
    if not m:
        return None
    raw = m.group(1)
    if raw.startswith("$"):
        return variables.get(raw[1:])
    if raw.startswith('"'):
        return json.loads(raw)
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if raw.startswith("{"):
        return dict(re.findall(r"(\w+)\s*:\s*\$?(\w+)", raw))
    if raw.startswith("["):
        return re.findall(r"\w+", raw)
    return {"null": None, "true": True, "false": False}.get(raw, raw)


def _first(inner: str | None, variables: dict[str, Any], conn: str, default: int | None) -> int:
    first = _arg(inner, "first", variables)
    if first is None:
        first = _arg(inner, "last", variables)
    if first is None:
        if default is None:
            raise GraphQLError(
                "MISSING_PAGINATION_BOUNDARIES",
                f"You must provide a `first` or `last` value to properly paginate the `{conn}` connection.",
            )
        return default
    if not isinstance(first, int) or first < 1 or first > 100:
        raise GraphQLError(
            "EXCESSIVE_PAGINATION",
            f"Requesting {first} records on the `{conn}` connection exceeds the `first` limit of 100 records."
            if isinstance(first, int) and first > 100
            else f"`first` on the `{conn}` connection must be between 1 and 100, got {first!r}.",
        )
    return first


def _pr_cursor(val: int, number: int) -> str:
    return base64.b64encode(f"cursor:v2:{json.dumps([val, number])}".encode()).decode()


class GithubServer(SandboxServer):
    def __init__(
        self,
        dataset: GithubDataset,
        config: GithubConfig | None = None,
        *,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.dataset = dataset
        self.config = config or GithubConfig()
        if faults is not None:
            self.config.faults = faults
        c = self.config
        self.faults = FaultInjector(c.faults)
        self.windows = {
            "core": QuotaWindow(c.rest_limit, c.window_seconds),
            "graphql": QuotaWindow(c.graphql_limit, c.window_seconds),
        }
        self.penalty = PenaltyBox()

    # ------------------------------------------------------------------ plumbing

    def _token(self, req: Request) -> str | None:
        auth = req.header("Authorization") or ""
        for prefix in ("token ", "Bearer ", "bearer "):
            if auth.startswith(prefix):
                return auth[len(prefix) :].strip()
        return None

    def _rate_headers(self, resource: str) -> dict[str, str]:
        limit, remaining, used, reset = self.windows[resource].snapshot()
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(math.ceil(reset)),
            "x-ratelimit-resource": resource,
            "x-github-api-version-selected": "2022-11-28",
        }

    def _primary(self, resource: str) -> Response:
        if resource == "graphql":
            return Response.json(
                {
                    "errors": [
                        {
                            "type": "RATE_LIMITED",
                            "code": "graphql_rate_limit",
                            "message": "API rate limit already exceeded for user ID 1.",
                        }
                    ]
                }
            )
        return gh_error(
            self.config.primary_status, PRIMARY_MESSAGE, f"{DOCS}/overview/rate-limits-for-the-rest-api"
        )

    def _secondary(self, retry_after: int | None) -> Response:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        return gh_error(
            self.config.secondary_status,
            SECONDARY_MESSAGE,
            f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            headers,
        )

    def dispatch(self, req: Request) -> Response:
        resource = "graphql" if req.path.rstrip("/") == "/graphql" else "core"
        token = self._token(req)
        if token is None:
            resp = gh_error(401, "Requires authentication", f"{DOCS}/overview/authenticating-to-the-rest-api")
        elif token not in self.config.tokens and token not in self.config.installation_tokens:
            resp = gh_error(401, "Bad credentials", DOCS)
        else:
            resp = self._limited(req, resource, token)
        resp.headers.update(self._rate_headers(resource))
        resp.headers.setdefault(
            "x-github-request-id", hashlib.md5(f"{time.time_ns()}".encode()).hexdigest()[:16]
        )
        return resp

    def _limited(self, req: Request, resource: str, token: str) -> Response:
        if req.path == "/rate_limit":
            return self.rate_limit()
        fc = self.config.faults
        window = self.windows[resource]
        left = self.penalty.remaining(token)
        if left > 0:
            self.counters.event("early_retry")
            return self._secondary(max(1, math.ceil(left)))
        if window.remaining <= 0:
            return self._primary(resource)
        fault = self.faults.draw()
        if fault is Fault.RATE_LIMIT:
            window.exhaust(fc.retry_after)
            return self._primary(resource)
        if fault is Fault.SECONDARY:
            self.penalty.block(token, fc.retry_after)
            with self.faults._lock:
                with_header = self.faults._rng.random() < self.config.p_secondary_retry_after
            return self._secondary(fc.retry_after if with_header else None)
        if fault is Fault.UNAVAILABLE:
            headers = {"Retry-After": str(fc.retry_after_503)} if self.faults.with_retry_after_503() else {}
            return gh_error(503, "Service Unavailable", DOCS, headers)
        if resource == "graphql":
            return self.graphql(req)
        resp = self._route(req)
        if resp.status == 200 and req.method == "GET":
            etag = 'W/"' + hashlib.sha256(resp.body).hexdigest()[:40] + '"'
            resp.headers["ETag"] = etag
            inm = req.header("If-None-Match")
            if inm and etag.removeprefix("W/") in {t.strip().removeprefix("W/") for t in inm.split(",")}:
                self.counters.event("not_modified")
                return Response(304, b"", {"ETag": etag}, None)
        if not window.try_consume():
            return self._primary(resource)
        return resp

    def _route(self, req: Request) -> Response:
        if req.method != "GET":
            return gh_error(404, "Not Found")
        p = req.path.rstrip("/")
        installation = self._token(req) in self.config.installation_tokens
        if p == "/user":
            if installation:
                return gh_error(403, "Resource not accessible by integration", f"{DOCS}/users/users")
            return Response.json(self.dataset.viewer_obj())
        if p == "/installation/repositories":
            if not installation:
                return gh_error(403, "You must authenticate with an installation access token", DOCS)
            return self.installation_repos(req)
        m = re.fullmatch(r"/(?:orgs|users)/([^/]+)/repos", p)
        if m:
            return self.org_repos(req, m.group(1))
        m = _REPO_PATH.match(p)
        if not m:
            return gh_error(404, "Not Found")
        repo = (
            self.dataset.repo_by_id(int(m.group("rid")))
            if m.group("rid")
            else self.dataset.repo(m.group("owner"), m.group("name"))
        )
        if repo is None:
            return gh_error(404, "Not Found", f"{DOCS}/repos/repos#get-a-repository")
        rest = m.group("rest") or ""
        if rest == "":
            return Response.json(self.dataset.repo_obj(repo))
        if rest == "/pulls":
            return self.pulls(req, repo)
        if rest == "/commits":
            return self.commits(req, repo)
        mp = re.fullmatch(r"/pulls/(\d+)(/reviews|/commits)?", rest)
        if mp:
            pull = self.dataset.pull(repo, int(mp.group(1)))
            if pull is None:
                return gh_error(404, "Not Found", f"{DOCS}/pulls/pulls#get-a-pull-request")
            if mp.group(2) == "/reviews":
                return self.reviews(req, repo, pull)
            if mp.group(2) == "/commits":
                return self.pull_commits(req, repo, pull)
            return Response.json(self.dataset.pull_full(repo, pull))
        return gh_error(404, "Not Found")

    def _page(
        self,
        req: Request,
        link_path: str,
        items: list[Any],
        render: Callable[[Any], Any],
        record: str,
        key: Callable[[Any], str],
        max_items: int | None = None,
    ) -> Response:
        per_page = min(max(1, _int(req.arg("per_page"), 30)), 100)
        page = max(1, _int(req.arg("page"), 1))
        if max_items is not None:
            items = items[:max_items]
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, math.ceil(len(items) / per_page))
        headers: dict[str, str] = {}
        if last > 1:
            params = {k: v[-1] for k, v in req.query.items() if k != "page"}

            def url(n: int) -> str:
                return f"{self.base_url}{link_path}?{urlencode({**params, 'page': n})}"

            rels = []
            if page > 1:
                rels.append(f'<{url(min(page - 1, last))}>; rel="prev"')
            if page < last:
                rels.append(f'<{url(page + 1)}>; rel="next"')
                rels.append(f'<{url(last)}>; rel="last"')
            if page > 1:
                rels.append(f'<{url(1)}>; rel="first"')
            headers["Link"] = ", ".join(rels)
        self.counters.record_page(record, [key(i) for i in chunk])
        return Response.json([render(i) for i in chunk], headers=headers)

    # ------------------------------------------------------------------ REST endpoints

    def rate_limit(self) -> Response:
        def res(name: str) -> dict[str, int]:
            limit, remaining, used, reset = self.windows[name].snapshot()
            return {"limit": limit, "used": used, "remaining": remaining, "reset": math.ceil(reset)}

        core = res("core")
        return Response.json(
            {
                "resources": {
                    "core": core,
                    "graphql": res("graphql"),
                    "search": {"limit": 30, "used": 0, "remaining": 30, "reset": core["reset"]},
                },
                "rate": core,
            }
        )

    def installation_repos(self, req: Request) -> Response:
        repos = self.dataset.repos
        per_page = min(max(1, _int(req.arg("per_page"), 30)), 100)
        page = max(1, _int(req.arg("page"), 1))
        chunk = repos[(page - 1) * per_page : page * per_page]
        listed = [self.dataset.repo_obj(r) for r in chunk]
        return Response.json({"total_count": len(repos), "repositories": listed})

    def org_repos(self, req: Request, org: str) -> Response:
        repos = [r for r in self.dataset.repos if r.owner.lower() == org.lower()]
        if not repos and org.lower() != self.dataset.org.lower():
            return gh_error(404, "Not Found", f"{DOCS}/repos/repos#list-organization-repositories")
        return self._page(
            req, req.path, repos, self.dataset.repo_obj, "/orgs/{org}/repos", lambda r: r.full_name
        )

    def pulls(self, req: Request, repo: GhRepo) -> Response:
        state = req.arg("state") or "open"
        sort = req.arg("sort") or "created"
        direction = req.arg("direction") or ("desc" if sort == "created" else "asc")
        items = [p for p in repo.pulls if state == "all" or p.state == state]
        keyf: Callable[[GhPull], tuple[int, int]] = (
            (lambda p: (p.updated_ms, p.number))
            if sort == "updated"
            else (lambda p: (p.created_ms, p.number))
        )
        items.sort(key=keyf, reverse=direction == "desc")
        return self._page(
            req,
            f"/repositories/{repo.id}/pulls",
            items,
            lambda p: self.dataset.pull_simple(repo, p),
            "/repos/{o}/{r}/pulls",
            lambda p: f"{repo.full_name}#{p.number}",
        )

    def reviews(self, req: Request, repo: GhRepo, pull: GhPull) -> Response:
        return self._page(
            req,
            f"/repositories/{repo.id}/pulls/{pull.number}/reviews",
            pull.reviews,
            lambda rv: self.dataset.review_obj(repo, pull, rv),
            "/repos/{o}/{r}/pulls/{n}/reviews",
            lambda rv: str(rv.id),
        )

    def pull_commits(self, req: Request, repo: GhRepo, pull: GhPull) -> Response:
        return self._page(
            req,
            f"/repositories/{repo.id}/pulls/{pull.number}/commits",
            pull.commits,
            lambda c: self.dataset.commit_obj(repo, c),
            "/repos/{o}/{r}/pulls/{n}/commits",
            lambda c: c.sha,
            max_items=PR_COMMITS_LIMIT,
        )

    def commits(self, req: Request, repo: GhRepo) -> Response:
        if not repo.commits:
            return gh_error(409, "Git Repository is empty.", f"{DOCS}/commits/commits#list-commits")
        try:
            since = parse_iso(req.arg("since"))
            until = parse_iso(req.arg("until"))
        except ValueError:
            return Response.json(
                {
                    "message": "Invalid request.\n\nInvalid property since: not a valid ISO 8601 timestamp.",
                    "documentation_url": f"{DOCS}/commits/commits#list-commits",
                    "status": "422",
                },
                422,
            )
        items = [
            c
            for c in reversed(repo.commits)
            if (since is None or c.committed_ms >= since) and (until is None or c.committed_ms <= until)
        ]
        return self._page(
            req,
            f"/repositories/{repo.id}/commits",
            items,
            lambda c: self.dataset.commit_obj(repo, c),
            "/repos/{o}/{r}/commits",
            lambda c: c.sha,
        )

    # ------------------------------------------------------------------ GraphQL

    def graphql(self, req: Request) -> Response:
        if req.method != "POST":
            return gh_error(404, "Not Found")
        try:
            body = req.json()
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return Response.json(
                {"errors": [{"message": "A query attribute must be specified and must be a string."}]}, 400
            )
        query: str = body["query"]
        variables = body.get("variables") or {}
        window = self.windows["graphql"]
        data: dict[str, Any] = {}
        try:
            cost, node_count, fill = self._plan(query, variables)
        except GraphQLError as exc:
            err: dict[str, Any] = {"type": exc.type, "message": exc.message}
            if exc.path:
                err["path"] = exc.path
            return Response.json({"data": None, "errors": [err]})
        if not window.try_consume(cost):
            return self._primary("graphql")
        errors: list[dict[str, Any]] = []
        keys = fill(data, errors)
        limit, remaining, used, reset = window.snapshot()
        data["rateLimit"] = {
            "cost": cost,
            "remaining": remaining,
            "resetAt": iso(int(reset * 1000)),
            "limit": limit,
            "used": used,
            "nodeCount": node_count,
        }
        self.counters.record_page("/graphql", keys)
        out: dict[str, Any] = {"data": data}
        if errors:
            out["errors"] = errors
        return Response(200, dumps(out))

    def _plan(
        self, query: str, variables: dict[str, Any]
    ) -> tuple[int, int, Callable[[dict[str, Any], list[dict[str, Any]]], list[str]]]:
        """Validate the query, work out its cost, and return a function that fills ``data``."""
        repo_args, _ = _call_args(query, "repository")
        prs_args, prs_end = _call_args(query, "pullRequests")
        pr_args, pr_end = _call_args(query, "pullRequest")
        # Nested connections are looked for after the pull request call, not in fragments before it.
        nested_from = min(x for x in (prs_end, pr_end, len(query)) if x >= 0)
        rv_args, _ = _call_args(query, "reviews", nested_from)
        cm_args, _ = _call_args(query, "commits", nested_from)
        reviews_first = _first(rv_args, variables, "reviews", 100)
        commits_first = _first(cm_args, variables, "commits", 100)
        reviews_after = _arg(rv_args, "after", variables)
        commits_after = _arg(cm_args, "after", variables)
        wants_viewer = re.search(r"\bviewer\s*\{", query) is not None
        first = 0
        if prs_args is not None:
            first = _first(prs_args, variables, "pullRequests", None)
        nodes = first if prs_args is not None else (1 if pr_args is not None else 0)
        node_count = nodes * (1 + reviews_first + commits_first) if nodes else 1
        cost = max(1, round((1 + nodes * 2) / 100)) if nodes else 1

        def fill(data: dict[str, Any], errors: list[dict[str, Any]]) -> list[str]:
            keys: list[str] = []
            if wants_viewer:
                data["viewer"] = {"login": self.dataset.viewer.login, "databaseId": self.dataset.viewer.id}
            if repo_args is None:
                return keys
            owner = _arg(repo_args, "owner", variables)
            name = _arg(repo_args, "name", variables)
            repo = self.dataset.repo(str(owner), str(name)) if owner and name else None
            if repo is None:
                data["repository"] = None
                errors.append(
                    {
                        "type": "NOT_FOUND",
                        "path": ["repository"],
                        "message": f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                    }
                )
                return keys
            rdata: dict[str, Any] = {
                "id": f"R_{repo.id}",
                "databaseId": repo.id,
                "nameWithOwner": repo.full_name,
            }
            data["repository"] = rdata
            if prs_args is not None:
                rdata["pullRequests"] = self._pull_connection(
                    repo, prs_args, variables, first, reviews_first, commits_first, keys
                )
            if pr_args is not None:
                number = _arg(pr_args, "number", variables)
                pull = self.dataset.pull(repo, int(number)) if isinstance(number, int) else None
                if pull is None:
                    rdata["pullRequest"] = None
                    errors.append(
                        {
                            "type": "NOT_FOUND",
                            "path": ["repository", "pullRequest"],
                            "message": f"Could not resolve to a PullRequest with the number of {number}.",
                        }
                    )
                else:
                    r_off = decode_cursor(reviews_after) if isinstance(reviews_after, str) else 0
                    c_off = decode_cursor(commits_after) if isinstance(commits_after, str) else 0
                    rdata["pullRequest"] = self.dataset.pull_node(
                        repo, pull, reviews_first, commits_first, r_off, c_off
                    )
                    keys.append(f"{repo.full_name}#{pull.number}")
            return keys

        return cost, node_count, fill

    def _pull_connection(
        self,
        repo: GhRepo,
        args: str,
        variables: dict[str, Any],
        first: int,
        reviews_first: int,
        commits_first: int,
        keys: list[str],
    ) -> dict[str, Any]:
        order = _arg(args, "orderBy", variables) or {}
        field_name = str(order.get("field", "CREATED_AT")).upper()
        desc = str(order.get("direction", "ASC")).upper() == "DESC"
        states = _arg(args, "states", variables)
        wanted = {s.upper() for s in states} if isinstance(states, list) and states else None

        def state_of(p: GhPull) -> str:
            return "MERGED" if p.merged else p.state.upper()

        def sort_val(p: GhPull) -> int:
            return p.updated_ms if field_name == "UPDATED_AT" else p.created_ms

        pulls = [p for p in repo.pulls if wanted is None or state_of(p) in wanted]
        pulls.sort(key=lambda p: (sort_val(p), p.number), reverse=desc)
        after = _arg(args, "after", variables)
        start = 0
        if isinstance(after, str) and after:
            try:
                raw = base64.b64decode(after.encode()).decode()
                val, num = json.loads(raw.removeprefix("cursor:v2:"))
            except (ValueError, binascii.Error, TypeError):
                raise GraphQLError(
                    "INVALID_CURSOR_ARGUMENTS",
                    f"`{after}` does not appear to be a valid cursor.",
                    ["repository", "pullRequests"],
                ) from None
            pos = (int(val), int(num))
            start = next(
                (
                    i
                    for i, p in enumerate(pulls)
                    if ((sort_val(p), p.number) < pos if desc else (sort_val(p), p.number) > pos)
                ),
                len(pulls),
            )
        page = pulls[start : start + first]
        keys.extend(f"{repo.full_name}#{p.number}" for p in page)
        return {
            "totalCount": len(pulls),
            "pageInfo": {
                "hasNextPage": start + first < len(pulls),
                "hasPreviousPage": start > 0,
                "startCursor": _pr_cursor(sort_val(page[0]), page[0].number) if page else None,
                "endCursor": _pr_cursor(sort_val(page[-1]), page[-1].number) if page else None,
            },
            "nodes": [self.dataset.pull_node(repo, p, reviews_first, commits_first) for p in page],
        }
