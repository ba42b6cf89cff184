"""Jira Cloud / Data Center (REST v3 + Agile 1.0) as streams.

Issues come from `search/jql` (token paging, `fields` listed explicitly, the embedded changelog
expanded; a full walk is split into `created` ranges, found by one search for the earliest issue,
each its own token walk so they proceed side by side); every issue whose embedded changelog is
truncated gets its complete history from `changelog/bulkfetch` (or `/issue/{key}/changelog`),
stored as `issue_changelogs` pages.
Incremental runs ask `updated >= <epoch ms>` minus an overlap window: a bare JQL datetime would be
read in the API user's timezone. An id-only sweep lets the transformer find deleted issues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from quarry_core.errors import FatalError
from quarry_extractor.http import ApiRequest, ApiResponse
from quarry_extractor.streams import (
    Connector,
    OffsetPaginator,
    PageResult,
    Paginator,
    SinglePage,
    Stream,
    TokenPaginator,
    WorkItem,
    cursor_key,
    max_cursor,
)

API = "/rest/api/3"
AGILE = "/rest/agile/1.0"
BASE_FIELDS = (
    "summary",
    "description",
    "issuetype",
    "project",
    "status",
    "priority",
    "assignee",
    "reporter",
    "created",
    "updated",
    "resolution",
    "resolutiondate",
    "statuscategorychangedate",
    "labels",
    "parent",
    "subtasks",
)
# Custom fields worth asking for, by their plugin type (ids differ per site).
CUSTOM_TYPES = (
    "com.pyxis.greenhopper.jira:gh-sprint",
    "com.pyxis.greenhopper.jira:gh-epic-link",
    "com.pyxis.greenhopper.jira:jsw-story-points",
)
STORY_POINT_NAMES = ("story points", "story point estimate")
MAX_LISTED_FIELDS = 20  # more makes Jira shorten search pages
BULK_CHANGELOG_IDS = 1000  # changelog/bulkfetch takes at most this many issue ids a call
METADATA_CURSOR = "jira:metadata"  # when issue types, statuses and fields were last fetched
# Closed sprints read again before the first one that was open: a deleted closed sprint shifts
# the positions after it down.
SPRINT_OVERLAP = 5

CreatedRange = tuple[int | None, int | None]  # [from, to) in epoch ms; None is open


def sprint_cursor(project: str, board_id: Any) -> str:
    """Where a board's sprint walk may start: before it, every sprint was closed at the last run."""
    return cursor_key(f"jira:{project}:board:{board_id}", "sprints")


def sprint_walk_start(
    cursor: Mapping[str, Any] | None, mode: str, now_ms: int, refresh_ms: int
) -> tuple[int, int]:
    """(startAt, fullAtMs) of a board's sprint walk. A board lists its sprints closed first, then
    active and future ones, and a closed sprint stays closed: an incremental run starts at the
    first sprint that was not closed at the last run, less SPRINT_OVERLAP (so it reads the active
    and future ones and those closed since), and once a day from the first sprint (closed sprints
    edited later)."""
    if mode != "incremental" or not cursor or cursor.get("fullAtMs") is None:
        return 0, now_ms
    if now_ms - int(cursor["fullAtMs"]) >= refresh_ms:
        return 0, now_ms
    return max(0, int(cursor.get("closedBefore", 0)) - SPRINT_OVERLAP), int(cursor["fullAtMs"])


def closed_before(
    prior: Mapping[str, Any] | None, start: int, states: list[str], full_at_ms: int
) -> dict[str, Any]:
    """The sprint cursor after one page (from `start`, in the board's order) of this run's walk:
    the position of the first sprint not closed, or past the last one while all were closed."""
    if prior and prior.get("open"):
        return dict(prior)  # an earlier page already found the first open sprint
    first_open = next((i for i, state in enumerate(states) if state != "closed"), None)
    if first_open is None:
        return {"closedBefore": start + len(states), "open": False, "fullAtMs": full_at_ms}
    return {"closedBefore": start + first_open, "open": True, "fullAtMs": full_at_ms}


def jira_ms(text: str | None) -> int | None:
    """Epoch ms of a Jira timestamp like 2020-06-17T13:04:03.848+0800."""
    if not text:
        return None
    try:  # the fast path (strptime costs ~30 times as much, once per issue of every page)
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        pass
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return int(datetime.strptime(text, fmt).timestamp() * 1000)
        except ValueError:
            continue
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def jql_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def issues_jql(project: str, since_ms: int | None, created: CreatedRange = (None, None)) -> str:
    """Bounded JQL in epoch milliseconds (timezone-free), ordered by a stable key."""
    clause = f"project = {jql_quote(project)}"
    if since_ms is not None:
        clause += f" AND updated >= {since_ms}"
    low, high = created
    if low is not None:
        clause += f" AND created >= {low}"
    if high is not None:
        clause += f" AND created < {high}"
    return clause + " ORDER BY id ASC"


def created_ranges(earliest_ms: int | None, end_ms: int, parts: int) -> list[CreatedRange]:
    """Half-open `created` ranges that split [earliest, end) evenly for concurrent walks. The
    first is open below and the last open above, so together they cover every instant: an issue
    created before the probe's earliest or after `end` (clock skew, a new issue) still falls in
    exactly one of them."""
    if earliest_ms is None or parts <= 1 or end_ms - earliest_ms < parts:
        return [(None, None)]
    step = (end_ms - earliest_ms) // parts
    cuts = [earliest_ms + step * k for k in range(1, parts)]
    return list(zip([None, *cuts], [*cuts, None], strict=True))


# A site this slow to answer a small page (a remote Jira Cloud, a loaded Data Center) gets its full
# walks split: measured at +150 ms a request, four ranges a project took 0.48x a plain sequential
# fetch's time instead of 0.53-0.55x, for 7 more requests (227 against 220). A nearby site gains
# nothing from the split and keeps the fewest requests.
SLOW_SITE_SECONDS = 0.1
AUTO_PARTITIONS = 4


def partitions(setting: int, round_trip: float | None) -> int:
    """How many `created` ranges a project's full walk takes: `setting` when one is set, else
    (0, automatic) AUTO_PARTITIONS on a site whose fields request took SLOW_SITE_SECONDS or more."""
    if setting > 0:
        return setting
    return AUTO_PARTITIONS if round_trip is not None and round_trip >= SLOW_SITE_SECONDS else 1


def since_ms(cursor: Mapping[str, Any] | None, overlap_ms: int) -> int | None:
    if not cursor or cursor.get("updatedMs") is None:
        return None
    return max(0, int(cursor["updatedMs"]) - overlap_ms)


def issue_fields(field_defs: list[Any]) -> list[str]:
    """The fields to ask search/jql for: the standard ones plus known custom ones, at most 20."""
    custom: list[str] = []
    for f in field_defs:
        if not isinstance(f, dict) or not f.get("custom"):
            continue
        schema = f.get("schema") or {}
        name = str(f.get("name", "")).lower()
        if schema.get("custom") in CUSTOM_TYPES or name in STORY_POINT_NAMES:
            custom.append(str(f["id"]))
    return [*BASE_FIELDS, *sorted(set(custom))][:MAX_LISTED_FIELDS]


def truncated(issue: Mapping[str, Any]) -> bool:
    log = issue.get("changelog")
    if not isinstance(log, dict):
        return False
    return int(log.get("total") or 0) > len(log.get("histories") or [])


@dataclass
class JiraOptions:
    projects: list[str]
    entities: set[str]
    mode: str
    cursors: dict[str, dict[str, Any]]
    now_ms: int
    page_size: int = 100
    overlap_ms: int = 300_000
    changelog_api: str = "bulk"
    sweep_ms: int = 86_400_000
    changelog_page_size: int = 5_000
    metadata_refresh_ms: int = 86_400_000
    fields_override: list[str] = field(default_factory=list)
    partitions: int = 0  # 0: automatic (see `partitions`)


class JiraStream(Stream):
    scoped: ClassVar[bool] = True

    def key(self, ctx: Mapping[str, Any]) -> str:
        return f"jira:{ctx['project']}:{self.name}" if self.scoped else f"jira:{self.name}"


class Projects(JiraStream):
    name = entity = "projects"
    paginator = OffsetPaginator("values")
    scoped = False

    def first(self, projects: list[str]) -> ApiRequest:
        return ApiRequest(
            "GET", f"{API}/project/search", {"keys": ",".join(projects), "startAt": 0, "maxResults": 50}
        )

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        result = super().parse(item, response, candidate)
        if result.next is None and int(item.request.params.get("startAt", 0)) == 0:
            found = {str(p.get("key", "")).upper() for p in result.items if isinstance(p, dict)}
            missing = [p for p in item.ctx["projects"] if p.upper() not in found]
            if missing:
                raise FatalError(
                    f"Jira project(s) {', '.join(missing)} not found or not visible to the API user"
                )
        return result

    def context_params(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        return {}


class Metadata(JiraStream):
    paginator = SinglePage()
    scoped = False
    path: ClassVar[str]

    def first(self) -> ApiRequest:
        return ApiRequest("GET", f"{API}/{self.path}")


class IssueTypes(Metadata):
    name = entity = "issue_types"
    path = "issuetype"


class Statuses(Metadata):
    name = entity = "statuses"
    path = "status"


class Fields(Metadata):
    """Parent of the issue streams: the custom field ids to ask for are read from it."""

    name = entity = "fields"
    path = "field"

    def __init__(self, connector: JiraConnector) -> None:
        self.connector = connector

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        result = super().parse(item, response, candidate)
        # This small page's round trip tells a nearby site from a remote one (see `partitions`).
        result.children = self.connector.issue_work(issue_fields(result.items), response.seconds)
        return result

    def cursors(
        self, item: WorkItem, items: list[Any], candidate: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        # Issue types, statuses and fields change rarely: incremental runs reuse them for a day.
        return {METADATA_CURSOR: {"fetchedAtMs": self.connector.o.now_ms, "fields": issue_fields(items)}}


class Boards(JiraStream):
    name = entity = "boards"
    paginator = OffsetPaginator("values")

    def __init__(self, with_sprints: bool, options: JiraOptions | None = None) -> None:
        self.with_sprints = with_sprints
        self.options = options

    def first(self, project: str) -> ApiRequest:
        return ApiRequest(
            "GET", f"{AGILE}/board", {"projectKeyOrId": project, "startAt": 0, "maxResults": 50}
        )

    def children(self, item: WorkItem, items: list[Any]) -> list[WorkItem]:
        if not self.with_sprints:
            return []
        out = []
        for board in items:
            # Kanban boards answer 400 "does not support sprints"; do not ask.
            if isinstance(board, dict) and board.get("type", "scrum") == "scrum":
                start, full_at = self._sprint_start(item.ctx["project"], board["id"])
                req = ApiRequest(
                    "GET",
                    f"{AGILE}/board/{board['id']}/sprint",
                    {"state": "active,closed,future", "startAt": start, "maxResults": 50},
                    allow_status=(400,),
                )
                ctx = {"project": item.ctx["project"], "board_id": board["id"], "full_at_ms": full_at}
                out.append(WorkItem("sprints", ctx, req))
        return out

    def _sprint_start(self, project: str, board_id: Any) -> tuple[int, int]:
        o = self.options
        if o is None:
            return 0, 0
        cursor = o.cursors.get(sprint_cursor(project, board_id))
        return sprint_walk_start(cursor, o.mode, o.now_ms, o.metadata_refresh_ms)


class Sprints(JiraStream):
    name = entity = "sprints"
    paginator = OffsetPaginator("values")
    parent = "boards"

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        if response.status == 400:  # a board that does not support sprints after all
            return PageResult(items=[], next=None, store=False)
        return super().parse(item, response, candidate)

    def context_params(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        return super().context_params({k: v for k, v in ctx.items() if k != "full_at_ms"})

    def cursors(
        self, item: WorkItem, items: list[Any], candidate: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        key = sprint_cursor(item.ctx["project"], item.ctx["board_id"])
        states = [str(s.get("state", "")).lower() for s in items if isinstance(s, dict)]
        start = int(item.request.params.get("startAt", 0))
        full_at = int(item.ctx.get("full_at_ms") or 0)
        return {key: closed_before(candidate.get(key), start, states, full_at)}


class Issues(JiraStream):
    name = entity = "issues"
    paginator = TokenPaginator("issues")
    cursor_field = "updated"
    parent = "fields"

    def __init__(self, changelog_api: str, changelog_page_size: int = 5_000) -> None:
        self.changelog_api = changelog_api
        self.changelog_page_size = changelog_page_size

    def children(self, item: WorkItem, items: list[Any]) -> list[WorkItem]:
        incomplete = [i for i in items if isinstance(i, dict) and truncated(i)]
        if not incomplete:
            return []
        project = item.ctx["project"]
        if self.changelog_api == "bulk":
            # Held: the ids of many search pages share one bulkfetch (up to 1000 a call).
            ids = [str(i["id"]) for i in incomplete]
            body = {"issueIdOrKeys": ids, "maxResults": self.changelog_page_size}
            req = ApiRequest("POST", f"{API}/changelog/bulkfetch", json=body)
            return [WorkItem("changelog_bulk", {"project": project}, req, held=True)]
        return [
            WorkItem(
                "changelog",
                {"project": project, "issue_key": i.get("key"), "issue_id": str(i["id"])},
                ApiRequest(
                    "GET",
                    f"{API}/issue/{i.get('key') or i['id']}/changelog",
                    {"startAt": 0, "maxResults": 100},
                ),
            )
            for i in incomplete
        ]

    def cursors(
        self, item: WorkItem, items: list[Any], candidate: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        values = [jira_ms((i.get("fields") or {}).get("updated")) for i in items if isinstance(i, dict)]
        project = item.ctx["project"]
        out = max_cursor(candidate, cursor_key(f"jira:{project}", "issues"), "updatedMs", values)
        if item.ctx.get("all") and "swept_at_ms" in item.ctx:
            # An unbounded walk lists every living issue: it is this run's deletion sweep too.
            out[cursor_key(f"jira:{project}", "issue_sweep")] = {"sweptAtMs": item.ctx["swept_at_ms"]}
        return out

    def context_params(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in super().context_params(ctx).items() if k != "_swept_at_ms"}


class IssueSpan(JiraStream):
    """One search for the earliest created issue of a project, before a full walk: its answer
    splits the walk into `created` ranges (`created_ranges`) walked side by side. Not stored."""

    name = "issue_span"
    entity = "issues"
    paginator = TokenPaginator("issues")

    def __init__(self, connector: JiraConnector) -> None:
        self.connector = connector

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        found = self.paginator.items(response.body)
        first = found[0] if found and isinstance(found[0], dict) else {}
        earliest = jira_ms((first.get("fields") or {}).get("created"))
        # A checkpoint from before `parts` was kept: the setting, else the automatic number.
        parts = item.ctx.get("parts") or self.connector.o.partitions or AUTO_PARTITIONS
        ranges = created_ranges(earliest, self.connector.o.now_ms, parts)
        walks = [self.connector.issue_walk(item.ctx["project"], item.ctx["fields"], r) for r in ranges]
        return PageResult(items=[], next=None, children=walks, store=False)


class ChangelogBulk(JiraStream):
    name = "changelog_bulk"
    entity = "issue_changelogs"
    paginator: ClassVar[Paginator] = TokenPaginator("issueChangeLogs")
    parent = "issues"

    def key(self, ctx: Mapping[str, Any]) -> str:
        return f"jira:{ctx['project']}:issue_changelogs"

    def absorb(self, pending: WorkItem, new: WorkItem) -> WorkItem | None:
        body, more = dict(pending.request.json or {}), (new.request.json or {}).get("issueIdOrKeys") or []
        ids = list(body.get("issueIdOrKeys") or [])
        ids += [i for i in more if i not in set(ids)]
        if len(ids) > BULK_CHANGELOG_IDS or "nextPageToken" in body:
            return None
        return replace(pending, request=replace(pending.request, json={**body, "issueIdOrKeys": ids}))

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        result = super().parse(item, response, candidate)
        result.items = [h for log in result.items for h in (log.get("changeHistories") or [])]
        return result


class IssueChangelog(ChangelogBulk):
    name = "changelog"
    paginator = OffsetPaginator("values")

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        return Stream.parse(self, item, response, candidate)


class IssueSweep(JiraStream):
    """Every live issue id of a project, so the transformer can mark the missing ones deleted."""

    name = "issue_sweep"
    # Their own entity: id-only pages are no issues to count or transform, only a list of the living.
    entity = "issue_ids"
    paginator = TokenPaginator("issues")

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def context_params(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().context_params(ctx), "_sweep": True, "_project": ctx["project"]}

    def cursors(
        self, item: WorkItem, items: list[Any], candidate: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        return {cursor_key(f"jira:{item.ctx['project']}", "issue_sweep"): {"sweptAtMs": self.now_ms}}


class JiraConnector(Connector):
    def __init__(self, options: JiraOptions) -> None:
        self.o = options
        self.streams: dict[str, Stream] = {
            s.name: s
            for s in (
                Projects(),
                IssueTypes(),
                Statuses(),
                Fields(self),
                Boards(with_sprints="sprints" in options.entities, options=options),
                Sprints(),
                Issues(options.changelog_api, options.changelog_page_size),
                ChangelogBulk(),
                IssueChangelog(),
                IssueSweep(options.now_ms),
                IssueSpan(self),
            )
        }

    def wants(self, *entities: str) -> bool:
        return any(e in self.o.entities for e in entities)

    def plan(self) -> list[WorkItem]:
        o = self.o
        work = [WorkItem("projects", {"projects": o.projects}, Projects().first(o.projects))]
        cached = self.cached_fields()
        for name in ("issue_types", "statuses", "fields"):
            if self.wants(name, "issues") and cached is None:
                stream = self.streams[name]
                assert isinstance(stream, Metadata)
                work.append(WorkItem(name, {}, stream.first()))
        if cached is not None:
            work += self.issue_work(cached)
        if self.wants("boards", "sprints"):
            boards = self.streams["boards"]
            assert isinstance(boards, Boards)
            work += [WorkItem("boards", {"project": p}, boards.first(p)) for p in o.projects]
        if self.wants("issues"):
            for p in o.projects:
                if self.since(p) is None:
                    continue  # the walk itself lists every living issue (see Issues.cursors)
                swept = (o.cursors.get(cursor_key(f"jira:{p}", "issue_sweep")) or {}).get("sweptAtMs")
                if swept is None or o.now_ms - int(swept) >= o.sweep_ms:
                    req = ApiRequest(
                        "GET",
                        f"{API}/search/jql",
                        {"jql": issues_jql(p, None), "fields": "id", "maxResults": 5000},
                    )
                    work.append(WorkItem("issue_sweep", {"project": p}, req))
        return work

    def issue_work(self, fields: list[str], round_trip: float | None = None) -> list[WorkItem]:
        """The issue walks; `round_trip` is the seconds of the fields request (None: not asked)."""
        if not self.wants("issues"):
            return []
        o = self.o
        listed = ",".join(o.fields_override or fields)
        parts = partitions(o.partitions, round_trip)
        out = []
        for p in o.projects:
            if self.since(p) is not None or parts <= 1:
                # Incremental walks are short: one walk from the cursor, no probe.
                out.append(self.issue_walk(p, listed))
                continue
            first = f"project = {jql_quote(p)} ORDER BY created ASC"
            probe = {"jql": first, "fields": "created", "maxResults": 1}
            req = ApiRequest("GET", f"{API}/search/jql", probe)
            out.append(WorkItem("issue_span", {"project": p, "fields": listed, "parts": parts}, req))
        return out

    def issue_walk(self, project: str, fields: str, created: CreatedRange = (None, None)) -> WorkItem:
        """The search walk of a project's issues (updated since its cursor), within `created`."""
        o = self.o
        since = self.since(project)
        params = {
            "jql": issues_jql(project, since, created),
            "fields": fields,
            "expand": "changelog",
            "maxResults": o.page_size,
        }
        ctx: dict[str, Any] = {"project": project}
        if since is None:
            # Every page of every range carries `_all`: their union lists every living issue.
            ctx.update(all=True, swept_at_ms=o.now_ms)
        return WorkItem("issues", ctx, ApiRequest("GET", f"{API}/search/jql", params))

    def cached_fields(self) -> list[str] | None:
        """The search fields of the last metadata fetch, when an incremental run may reuse it (it is
        younger than a day): then issue types, statuses and fields are not asked for again."""
        o = self.o
        meta = o.cursors.get(METADATA_CURSOR) or {}
        fetched, fields = meta.get("fetchedAtMs"), meta.get("fields")
        if o.mode != "incremental" or fetched is None or not isinstance(fields, list) or not fields:
            return None
        if o.now_ms - int(fetched) >= o.metadata_refresh_ms:
            return None
        return [str(f) for f in fields]

    def since(self, project: str) -> int | None:
        """Where the issue walk of a project starts (epoch ms), None for every issue."""
        o = self.o
        cursor = o.cursors.get(cursor_key(f"jira:{project}", "issues")) if o.mode == "incremental" else None
        return since_ms(cursor, o.overlap_ms)
