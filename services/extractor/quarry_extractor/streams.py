"""The connector interface: streams that know their endpoint, pagination, cursor and parent.

A source is one module: a `Connector` that plans the first `WorkItem`s of a run and a few
`Stream` subclasses. The runner knows nothing of Jira or GitHub: it sends a work item's request,
stores the page, and replaces the item by the next page's request and the children the page
spawned. Work items are plain JSON, so the list of them *is* the run's checkpoint.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from quarry_extractor.http import ApiRequest, ApiResponse

# --- pagination styles (pure: the request that was sent + its response -> the next request) -------


class Paginator(abc.ABC):
    @abc.abstractmethod
    def items(self, body: Any) -> list[Any]: ...

    @abc.abstractmethod
    def next(self, request: ApiRequest, response: ApiResponse) -> ApiRequest | None: ...


class SinglePage(Paginator):
    """A bare JSON array (Jira /status, /issuetype, /field) or one object (GitHub /repos/o/r)."""

    def items(self, body: Any) -> list[Any]:
        if isinstance(body, list):
            return body
        return [] if body is None else [body]

    def next(self, request: ApiRequest, response: ApiResponse) -> ApiRequest | None:
        return None


@dataclass(frozen=True)
class TokenPaginator(Paginator):
    """Jira search/jql: `nextPageToken` + `isLast`, no total; pages may be shorter than asked."""

    items_key: str = "issues"

    def items(self, body: Any) -> list[Any]:
        return list(body.get(self.items_key) or []) if isinstance(body, dict) else []

    def next(self, request: ApiRequest, response: ApiResponse) -> ApiRequest | None:
        body = response.body if isinstance(response.body, dict) else {}
        token = body.get("nextPageToken")
        if not token or body.get("isLast") is True:
            return None
        if request.json is not None:
            return replace(request, json={**request.json, "nextPageToken": token})
        return replace(request, params={**request.params, "nextPageToken": token})


@dataclass(frozen=True)
class OffsetPaginator(Paginator):
    """startAt/maxResults with `isLast`/`total` (Jira projects, boards, sprints, issue changelog).

    The next offset counts the items received, not the page size asked for.
    """

    items_key: str = "values"

    def items(self, body: Any) -> list[Any]:
        return list(body.get(self.items_key) or []) if isinstance(body, dict) else []

    def next(self, request: ApiRequest, response: ApiResponse) -> ApiRequest | None:
        body = response.body if isinstance(response.body, dict) else {}
        got = len(self.items(body))
        start = int(body.get("startAt", request.params.get("startAt", 0)) or 0) + got
        total = body.get("total")
        if got == 0 or body.get("isLast") is True or (isinstance(total, int) and start >= total):
            return None
        return replace(request, params={**request.params, "startAt": start})


_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^";]+)"?')


def link_next(header: str | None) -> str | None:
    """The rel="next" URL of a GitHub Link header."""
    for url, rels in _LINK.findall(header or ""):
        if "next" in str(rels).split():
            return str(url)
    return None


class LinkPaginator(Paginator):
    """GitHub REST lists: follow the Link header's next URL (it carries every parameter)."""

    def items(self, body: Any) -> list[Any]:
        return body if isinstance(body, list) else []

    def next(self, request: ApiRequest, response: ApiResponse) -> ApiRequest | None:
        url = link_next(response.header("link"))
        return None if url is None else ApiRequest("GET", url, allow_status=request.allow_status)


@dataclass(frozen=True)
class GraphQLPaginator(Paginator):
    """A GraphQL connection at `path` under data; the next page passes `after = endCursor`."""

    path: tuple[str, ...]

    def connection(self, body: Any) -> dict[str, Any]:
        node: Any = body.get("data") if isinstance(body, dict) else None
        for key in self.path:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def items(self, body: Any) -> list[Any]:
        return list(self.connection(body).get("nodes") or [])

    def next(self, request: ApiRequest, response: ApiResponse) -> ApiRequest | None:
        info = self.connection(response.body).get("pageInfo") or {}
        if not info.get("hasNextPage") or not info.get("endCursor"):
            return None
        payload = dict(request.json or {})
        payload["variables"] = {**payload.get("variables", {}), "after": info["endCursor"]}
        return replace(request, json=payload)


# --- streams and work ----------------------------------------------------------------------


@dataclass
class WorkItem:
    """One stream instance still to fetch: which stream, its context, and its next request.

    A `held` item is a batch still filling up (e.g. the issue ids whose changelogs one bulk call
    completes): it stays at the end of the work, is not sent, and absorbs more of its kind until
    its stream says it is full or nothing else is left to fetch. It is part of the checkpoint,
    so a resumed run finds the ids of the stored pages still waiting.
    """

    stream: str
    ctx: dict[str, Any]
    request: ApiRequest
    held: bool = False

    def to_json(self) -> dict[str, Any]:
        out = {"stream": self.stream, "ctx": self.ctx, "request": self.request.to_json()}
        return {**out, "held": True} if self.held else out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkItem:
        return cls(
            data["stream"], dict(data["ctx"]), ApiRequest.from_json(data["request"]), bool(data.get("held"))
        )


@dataclass
class PageResult:
    items: list[Any]
    next: ApiRequest | None
    children: list[WorkItem] = field(default_factory=list)
    cursors: dict[str, dict[str, Any]] = field(default_factory=dict)
    store: bool = True
    next_ctx: dict[str, Any] | None = None  # the context of the next page, when it differs


class Stream(abc.ABC):
    """One kind of page. Subclasses set the class attributes and build the first request."""

    name: ClassVar[str]
    entity: ClassVar[str]
    paginator: ClassVar[Paginator]
    cursor_field: ClassVar[str | None] = None
    parent: ClassVar[str | None] = None

    @abc.abstractmethod
    def key(self, ctx: Mapping[str, Any]) -> str:
        """The raw `stream` column: with page_seq, the resume key of a page."""

    def work(self, ctx: dict[str, Any], request: ApiRequest) -> WorkItem:
        return WorkItem(self.name, ctx, request)

    def context_params(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """The `_`-prefixed keys stored with a page for the transformer."""
        return {f"_{k}": v for k, v in ctx.items() if not k.startswith("_")}

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        items = self.paginator.items(response.body)
        return PageResult(
            items=items,
            next=self.paginator.next(item.request, response),
            children=self.children(item, items),
            cursors=self.cursors(item, items, candidate),
        )

    def children(self, item: WorkItem, items: list[Any]) -> list[WorkItem]:
        return []

    def absorb(self, pending: WorkItem, new: WorkItem) -> WorkItem | None:
        """The held `pending` batch grown by `new` (both of this stream), or None: it is full, or
        they do not go together (then `pending` is sent and `new` is held in its place)."""
        return None

    def cursors(
        self, item: WorkItem, items: list[Any], candidate: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        return {}


class Connector(abc.ABC):
    streams: dict[str, Stream]

    @abc.abstractmethod
    def plan(self) -> list[WorkItem]:
        """The first work items of a run (the top-level streams the job's entities need)."""

    def stream(self, name: str) -> Stream:
        return self.streams[name]


def cursor_key(scope: str, entity: str) -> str:
    """A cursor's flat key "<scope>:<entity>", e.g. "jira:ENG:issues" (stored nested, see below)."""
    return f"{scope}:{entity}"


def split_cursor_key(key: str) -> tuple[str, str]:
    """The (sync_cursors.scope, sync_cursors.entity) a candidate cursor key commits to."""
    scope, _, entity = key.rpartition(":")
    return scope, entity


def nest_cursors(flat: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The stored shape of `etl_runs.candidate_cursors`: {scope: {entity: value}} (what the
    workers commit, one `sync_cursors` row per pair)."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        scope, entity = split_cursor_key(key)
        out.setdefault(scope, {})[entity] = value
    return out


def flatten_cursors(nested: Mapping[str, Any]) -> dict[str, Any]:
    return {
        cursor_key(scope, entity): value
        for scope, per_entity in nested.items()
        if isinstance(per_entity, dict)
        for entity, value in per_entity.items()
    }


def max_cursor(
    candidate: Mapping[str, Any], key: str, field_name: str, values: list[Any], **extra: Any
) -> dict[str, dict[str, Any]]:
    """The candidate cursor `key` moved to the largest of `values` (never backwards)."""
    present = [v for v in values if v is not None]
    old = candidate.get(key) or {}
    if not present and not extra:
        return {}
    best = max([*present, *([old[field_name]] if field_name in old else [])], default=None)
    value = dict(old, **extra)
    if best is not None:
        value[field_name] = best
    return {key: value} if value != old else {}
