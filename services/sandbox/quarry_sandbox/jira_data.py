"""Jira datasets for the imitation server: synthetic (any size, from a seed) or devlake fixtures.

Issues are stored as compact :class:`JiraIssue` records; their JSON (fields, changelog) is built
on demand and deterministically from the seed, so a 50 000-issue dataset builds in well under a
second.  Changelogs are consistent with the issue: the status chain starts at "To Do" and ends
at the current status, the assignee chain ends at the current assignee, and the last history
entry is stamped with the issue's ``updated`` time.

Truth accessors (:meth:`JiraDataset.truth`, :meth:`JiraDataset.changelog`, ...) let tests compare
what a pipeline loaded with what the imitation served; mutations (:meth:`JiraDataset.transition`,
:meth:`JiraDataset.delete_issue`, :meth:`JiraDataset.create_issue`) model changes between runs.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

FIXTURES_DIR_ENV = "QUARRY_FIXTURES_DIR"
DAY_MS = 86_400_000
EMBEDDED_CHANGELOG_LIMIT = 40

# (id, name, statusCategory id, key, category name, colour)
STATUSES: list[tuple[str, str, int, str, str, str]] = [
    ("10000", "To Do", 2, "new", "To Do", "blue-gray"),
    ("3", "In Progress", 4, "indeterminate", "In Progress", "yellow"),
    ("10001", "In Review", 4, "indeterminate", "In Progress", "yellow"),
    ("10002", "Done", 3, "done", "Done", "green"),
    ("10003", "Won't Do", 3, "done", "Done", "green"),
]
TODO, IN_PROGRESS, IN_REVIEW, DONE, WONT_DO = range(5)
# (id, name, hierarchyLevel, subtask, description)
ISSUE_TYPES: list[tuple[str, str, int, bool, str]] = [
    ("10000", "Epic", 1, False, "A big user story that needs to be broken down."),
    ("10001", "Story", 0, False, "Functionality or a feature expressed as a user goal."),
    ("10002", "Task", 0, False, "A small, distinct piece of work."),
    ("10003", "Bug", 0, False, "A problem or error."),
    ("10004", "Subtask", -1, True, "A small piece of work that's part of a larger task."),
]
EPIC, STORY, TASK, BUG, SUBTASK = range(5)
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
PROJECT_KEYS = ["ENG", "OPS", "WEB", "API", "DATA", "MOB", "SEC", "INFRA", "QA", "DOCS"]
PROJECT_NAMES = [
    "Engineering",
    "Operations",
    "Web App",
    "Public API",
    "Data Platform",
    "Mobile",
    "Security",
    "Infrastructure",
    "Quality",
    "Documentation",
]
FIRST = [
    "Ada",
    "Linus",
    "Grace",
    "Ken",
    "Barbara",
    "Dennis",
    "Margaret",
    "Guido",
    "Frances",
    "Yukihiro",
    "Radia",
    "Bjarne",
    "Lin",
    "Wei",
    "Sofia",
    "Mateo",
    "Amara",
    "Ivan",
    "Chen",
    "Priya",
]
LAST = [
    "Lovelace",
    "Torvalds",
    "Hopper",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Hamilton",
    "van Rossum",
    "Allen",
    "Matsumoto",
    "Perlman",
    "Stroustrup",
    "Zhang",
    "Li",
    "García",
    "Okafor",
    "Petrov",
    "Chen",
]
WORDS = [
    "cache",
    "login",
    "export",
    "dashboard",
    "latency",
    "retry",
    "webhook",
    "billing",
    "search",
    "index",
    "migration",
    "timeout",
    "permissions",
    "report",
    "sync",
    "upload",
    "alerting",
    "token",
    "onboarding",
    "pagination",
    "schema",
    "queue",
    "backfill",
    "audit",
    "quota",
    "SSO",
    "crash",
]
VERBS = ["Fix", "Add", "Improve", "Refactor", "Investigate", "Remove", "Support", "Document", "Speed up"]

# System and custom fields the synthetic issues carry: (id, name, custom, navigable, schema)
FIELDS: list[tuple[str, str, bool, bool, dict[str, Any]]] = [
    ("summary", "Summary", False, True, {"type": "string", "system": "summary"}),
    ("description", "Description", False, True, {"type": "string", "system": "description"}),
    ("issuetype", "Issue Type", False, True, {"type": "issuetype", "system": "issuetype"}),
    ("project", "Project", False, True, {"type": "project", "system": "project"}),
    ("status", "Status", False, True, {"type": "status", "system": "status"}),
    ("priority", "Priority", False, True, {"type": "priority", "system": "priority"}),
    ("assignee", "Assignee", False, True, {"type": "user", "system": "assignee"}),
    ("reporter", "Reporter", False, True, {"type": "user", "system": "reporter"}),
    ("creator", "Creator", False, True, {"type": "user", "system": "creator"}),
    ("created", "Created", False, True, {"type": "datetime", "system": "created"}),
    ("updated", "Updated", False, True, {"type": "datetime", "system": "updated"}),
    ("resolution", "Resolution", False, True, {"type": "resolution", "system": "resolution"}),
    ("resolutiondate", "Resolved", False, True, {"type": "datetime", "system": "resolutiondate"}),
    (
        "statuscategorychangedate",
        "Status Category Changed",
        False,
        True,
        {"type": "datetime", "system": "statuscategorychangedate"},
    ),
    ("labels", "Labels", False, True, {"type": "array", "items": "string", "system": "labels"}),
    (
        "components",
        "Components",
        False,
        True,
        {"type": "array", "items": "component", "system": "components"},
    ),
    (
        "fixVersions",
        "Fix versions",
        False,
        True,
        {"type": "array", "items": "version", "system": "fixVersions"},
    ),
    ("parent", "Parent", False, True, {"type": "issuelink", "system": "parent"}),
    ("subtasks", "Sub-tasks", False, True, {"type": "array", "items": "issuelinks", "system": "subtasks"}),
    (
        "issuelinks",
        "Linked Issues",
        False,
        True,
        {"type": "array", "items": "issuelinks", "system": "issuelinks"},
    ),
    ("duedate", "Due date", False, True, {"type": "date", "system": "duedate"}),
    (
        "timeoriginalestimate",
        "Original estimate",
        False,
        True,
        {"type": "number", "system": "timeoriginalestimate"},
    ),
    ("timespent", "Time Spent", False, True, {"type": "number", "system": "timespent"}),
    ("comment", "Comment", False, False, {"type": "comments-page", "system": "comment"}),
    ("worklog", "Log Work", False, False, {"type": "array", "items": "worklog", "system": "worklog"}),
    (
        "customfield_10014",
        "Epic Link",
        True,
        True,
        {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link", "customId": 10014},
    ),
    (
        "customfield_10016",
        "Story point estimate",
        True,
        True,
        {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points", "customId": 10016},
    ),
    (
        "customfield_10019",
        "Rank",
        True,
        True,
        {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-lexo-rank", "customId": 10019},
    ),
    (
        "customfield_10020",
        "Sprint",
        True,
        True,
        {
            "type": "array",
            "items": "json",
            "custom": "com.pyxis.greenhopper.jira:gh-sprint",
            "customId": 10020,
        },
    ),
]
NON_NAVIGABLE = frozenset(f[0] for f in FIELDS if not f[3])


_OFFSETS: dict[tuple[str, int], tuple[int, str]] = {}


def format_ts(ms: int, tz: ZoneInfo) -> str:
    """Jira's timestamp shape: ``2020-06-17T13:04:03.848+0800`` (offset without a colon)."""
    # Offsets are cached per hour because strftime with a ZoneInfo dominates page rendering.
    hour = ms // 3_600_000
    cached = _OFFSETS.get((tz.key, hour))
    if cached is None:
        delta = datetime.fromtimestamp(hour * 3600, tz).utcoffset()
        secs = int(delta.total_seconds()) if delta is not None else 0
        sign = "-" if secs < 0 else "+"
        cached = (secs, f"{sign}{abs(secs) // 3600:02d}{abs(secs) % 3600 // 60:02d}")
        _OFFSETS[(tz.key, hour)] = cached
    t = time.gmtime(ms // 1000 + cached[0])
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f".{ms % 1000:03d}{cached[1]}"
    )


def format_utc(ms: int) -> str:
    """Agile timestamps (sprints) are UTC with ``Z``: ``2020-06-12T00:38:51.882Z``."""
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_ts(text: str) -> int:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+0000"
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return int(datetime.strptime(text, fmt).timestamp() * 1000)
        except ValueError:
            continue
    raise ValueError(f"unparseable Jira timestamp {text!r}")


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@dataclass(slots=True)
class JiraUser:
    account_id: str
    display_name: str
    email: str
    time_zone: str
    account_type: str = "atlassian"
    active: bool = True


@dataclass(slots=True)
class JiraProject:
    idx: int
    id: str
    key: str
    name: str
    lead: int
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class JiraBoard:
    id: int
    name: str
    type: str  # scrum | kanban
    project: int


@dataclass(slots=True)
class JiraSprint:
    id: int
    board_id: int
    name: str
    state: str  # closed | active | future
    start_ms: int | None
    end_ms: int | None
    complete_ms: int | None
    goal: str = ""
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class JiraIssue:
    """Compact issue record; also the ``IssueView`` the JQL predicates read."""

    idx: int
    id: int
    key: str
    project: JiraProject
    number: int
    type_idx: int
    status_idx: int
    created_ms: int
    updated_ms: int
    n_gen: int
    assignee: int | None
    reporter: int
    priority: int
    points: float | None = None
    parent: int | None = None
    sprint: int | None = None
    extra: list[dict[str, Any]] | None = None
    deleted: bool = False
    raw: dict[str, Any] | None = None
    status_override: dict[str, Any] | None = None
    resolution_ms: int | None = None
    status_change_ms: int | None = None
    summary_text: str | None = None
    # The seed-derived history, kept once a transition changed what it is derived from.
    pinned: list[dict[str, Any]] | None = None

    def _status(self) -> dict[str, Any] | None:
        if self.status_override is not None:
            return self.status_override
        if self.raw is not None:
            st: dict[str, Any] = self.raw["fields"]["status"]
            return st
        return None

    @property
    def status_id(self) -> str:
        st = self._status()
        return STATUSES[self.status_idx][0] if st is None else str(st["id"])

    @property
    def status_name(self) -> str:
        st = self._status()
        return STATUSES[self.status_idx][1] if st is None else str(st["name"])

    @property
    def status_category(self) -> tuple[int, str, str]:
        st = self._status()
        if st is None:
            s = STATUSES[self.status_idx]
            return s[2], s[3], s[4]
        cat = st["statusCategory"]
        return int(cat["id"]), str(cat["key"]), str(cat["name"])

    @property
    def type_id(self) -> str:
        return (
            ISSUE_TYPES[self.type_idx][0] if self.raw is None else str(self.raw["fields"]["issuetype"]["id"])
        )

    @property
    def type_name(self) -> str:
        return (
            ISSUE_TYPES[self.type_idx][1]
            if self.raw is None
            else str(self.raw["fields"]["issuetype"]["name"])
        )

    @property
    def project_key(self) -> str:
        return self.project.key

    @property
    def project_id(self) -> str:
        return self.project.id

    @property
    def project_name(self) -> str:
        return self.project.name


class JiraDataset:
    """Projects, boards, sprints, users and issues, plus truth accessors and mutations."""

    def __init__(
        self,
        *,
        seed: int = 0,
        user_timezone: str = "America/Los_Angeles",
        anchor_ms: int | None = None,
        api_user_email: str = "bot@quarry.dev",
    ) -> None:
        self.seed = seed
        self.tz = ZoneInfo(user_timezone)
        self.user_timezone = user_timezone
        self.anchor_ms = anchor_ms if anchor_ms is not None else (int(time.time()) // 86_400) * DAY_MS
        self.api_user_email = api_user_email
        self.base_url = "http://127.0.0.1"
        self.users: list[JiraUser] = []
        self.projects: list[JiraProject] = []
        self.boards: list[JiraBoard] = []
        self.sprints: list[JiraSprint] = []
        self.issues: list[JiraIssue] = []
        self.children: dict[int, list[int]] = {}
        self.statuses_raw: list[dict[str, Any]] | None = None
        self.issuetypes_raw: list[dict[str, Any]] | None = None
        self.fields_raw: list[dict[str, Any]] | None = None
        self.fixture = False
        self._by_key: dict[str, JiraIssue] = {}
        self._by_id: dict[int, JiraIssue] = {}
        self._project_refs: dict[str, JiraProject] = {}
        self._lock = threading.RLock()
        self._next_history_id = 900_000_000
        self._gen_cache: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._obj_cache: dict[tuple[str, int], dict[str, Any]] = {}
        self.version = 0
        """Bumped on every mutation; servers key their page caches on it."""

    # ------------------------------------------------------------------ building

    @classmethod
    def synthetic(
        cls,
        issues: int = 1000,
        *,
        projects: int = 3,
        seed: int = 0,
        sprints_per_board: int = 6,
        kanban_every: int = 3,
        users: int = 25,
        span_days: int = 365,
        long_changelog_rate: float = 0.02,
        user_timezone: str = "America/Los_Angeles",
        anchor_ms: int | None = None,
        api_user_email: str = "bot@quarry.dev",
    ) -> JiraDataset:
        """Build a deterministic dataset; every ``kanban_every``-th project gets a kanban board."""
        ds = cls(seed=seed, user_timezone=user_timezone, anchor_ms=anchor_ms, api_user_email=api_user_email)
        rng = random.Random(seed)
        ds._build_users(rng, users)
        for p in range(projects):
            key = PROJECT_KEYS[p] if p < len(PROJECT_KEYS) else f"P{p}"
            name = PROJECT_NAMES[p] if p < len(PROJECT_NAMES) else f"Project {p}"
            ds.projects.append(JiraProject(p, str(10000 + p), key, name, lead=rng.randrange(len(ds.users))))
        start = ds.anchor_ms - span_days * DAY_MS
        sprint_len = 14 * DAY_MS
        for proj in ds.projects:
            kanban = kanban_every > 0 and (proj.idx + 1) % kanban_every == 0
            board = JiraBoard(
                len(ds.boards) + 1, f"{proj.key} board", "kanban" if kanban else "scrum", proj.idx
            )
            ds.boards.append(board)
            if kanban:
                continue
            for s in range(sprints_per_board):
                # The last sprint is future, the one before it active, the rest closed.
                begin = ds.anchor_ms - (sprints_per_board - 1 - s) * sprint_len - sprint_len // 2
                state = (
                    "closed"
                    if s < sprints_per_board - 2
                    else ("active" if s == sprints_per_board - 2 else "future")
                )
                ds.sprints.append(
                    JiraSprint(
                        id=len(ds.sprints) + 1,
                        board_id=board.id,
                        name=f"{proj.key} Sprint {s + 1}",
                        state=state,
                        start_ms=None if state == "future" else begin,
                        end_ms=None if state == "future" else begin + sprint_len,
                        complete_ms=begin + sprint_len - 3_600_000 if state == "closed" else None,
                        goal=f"Ship {rng.choice(WORDS)} improvements",
                    )
                )
        board_sprints: dict[int, list[int]] = {}
        for si, sp in enumerate(ds.sprints):
            board_sprints.setdefault(ds.boards[sp.board_id - 1].project, []).append(si)

        created = sorted(rng.randrange(start, ds.anchor_ms - DAY_MS) for _ in range(issues))
        counters = [0] * projects
        last_epic: list[int | None] = [None] * projects
        last_parentable: list[int | None] = [None] * projects
        n_users = len(ds.users)
        for i, c_ms in enumerate(created):
            p = rng.randrange(projects) if projects else 0
            counters[p] += 1
            r = rng.random()
            t = (
                EPIC
                if r < 0.04
                else SUBTASK
                if r < 0.18
                else BUG
                if r < 0.35
                else TASK
                if r < 0.55
                else STORY
            )
            parent: int | None = None
            if t == SUBTASK:
                parent = last_parentable[p]
                if parent is None:
                    t = TASK
            elif t in (STORY, TASK, BUG) and last_epic[p] is not None and rng.random() < 0.5:
                parent = last_epic[p]
            s_r = rng.random()
            age = ds.anchor_ms - c_ms
            status = (
                DONE
                if s_r < 0.55 + 0.3 * age / (span_days * DAY_MS)
                else IN_PROGRESS
                if s_r < 0.85
                else IN_REVIEW
                if s_r < 0.92
                else TODO
                if s_r < 0.98
                else WONT_DO
            )
            min_hist = {TODO: 0, IN_PROGRESS: 1, IN_REVIEW: 2, DONE: 3, WONT_DO: 1}[status]
            if rng.random() < long_changelog_rate:
                n_gen = rng.randint(EMBEDDED_CHANGELOG_LIMIT + 1, 120)
            else:
                n_gen = min_hist + rng.randint(0 if status == TODO else 1, 8)
            u_ms = c_ms + int(age * rng.random() ** 2) if n_gen else c_ms
            u_ms = max(u_ms, c_ms + n_gen * 1000)
            sprint: int | None = None
            proj_sprints = board_sprints.get(p)
            if proj_sprints and t != EPIC and rng.random() < 0.8:
                sprint = rng.choice(proj_sprints)
            rec = JiraIssue(
                idx=i,
                id=10000 + i,
                key=f"{ds.projects[p].key}-{counters[p]}",
                project=ds.projects[p],
                number=counters[p],
                type_idx=t,
                status_idx=status,
                created_ms=c_ms,
                updated_ms=u_ms,
                n_gen=n_gen,
                assignee=None if (status == TODO and rng.random() < 0.5) else rng.randrange(n_users),
                reporter=rng.randrange(n_users),
                priority=rng.choice((1, 2, 2, 2, 3, 3)),
                points=rng.choice((1.0, 2.0, 3.0, 5.0, 8.0, 13.0))
                if t in (STORY, TASK) and rng.random() < 0.7
                else None,
                parent=parent,
                sprint=sprint,
            )
            ds.issues.append(rec)
            if t == EPIC:
                last_epic[p] = i
            elif t != SUBTASK:
                last_parentable[p] = i
            if parent is not None and t == SUBTASK:
                ds.children.setdefault(parent, []).append(i)
        ds._index()
        return ds

    def _build_users(self, rng: random.Random, n: int) -> None:
        zones = ["America/Los_Angeles", "Europe/Berlin", "Asia/Shanghai", "America/New_York", "UTC"]
        bot = JiraUser(f"{rng.getrandbits(96):024x}", "Quarry Bot", self.api_user_email, self.user_timezone)
        self.users.append(bot)
        for k in range(max(1, n) - 1):
            first, last = FIRST[k % len(FIRST)], LAST[(k * 7 + 3) % len(LAST)]
            self.users.append(
                JiraUser(
                    f"{rng.getrandbits(96):024x}",
                    f"{first} {last}",
                    f"{first.lower()}.{last.lower().replace(' ', '')}@example.com",
                    zones[k % len(zones)],
                    active=k % 11 != 10,
                )
            )

    def _index(self) -> None:
        self._by_key = {i.key.upper(): i for i in self.issues}
        self._by_id = {i.id: i for i in self.issues}
        self._project_refs = {}
        for p in self.projects:
            self._project_refs[p.key.lower()] = p
            self._project_refs[p.id] = p
            self._project_refs[p.name.lower()] = p

    # ------------------------------------------------------------------ lookups

    def has_project(self, ref: str) -> bool:
        return ref.lower() in self._project_refs

    def has_issue_key(self, key: str) -> bool:
        return self.get_issue(key) is not None

    def get_issue(self, key_or_id: str) -> JiraIssue | None:
        rec = self._by_key.get(key_or_id.upper())
        if rec is None and key_or_id.isdigit():
            rec = self._by_id.get(int(key_or_id))
        if rec is None or rec.deleted:
            return None
        return rec

    def live_issues(self) -> Iterator[JiraIssue]:
        return (i for i in self.issues if not i.deleted)

    def status_tuple(self, rec: JiraIssue) -> tuple[str, str, int, str, str, str]:
        if rec.raw is None and rec.status_override is None:
            return STATUSES[rec.status_idx]
        cid, ckey, cname = rec.status_category
        return (rec.status_id, rec.status_name, cid, ckey, cname, "")

    # ------------------------------------------------------------------ rendering helpers

    def user_obj(self, u: int | None) -> dict[str, Any] | None:
        if u is None:
            return None
        cached = self._obj_cache.get(("user", u))
        if cached is not None:
            return cached
        user = self.users[u]
        b = self.base_url
        initials = "".join(w[0] for w in user.display_name.split()[:2]).upper()
        av = f"https://avatar-management.example/initials/{initials}-{u % 6}.png"
        obj = {
            "self": f"{b}/rest/api/3/user?accountId={user.account_id}",
            "accountId": user.account_id,
            "emailAddress": user.email,
            "avatarUrls": {"48x48": av, "24x24": av, "16x16": av, "32x32": av},
            "displayName": user.display_name,
            "active": user.active,
            "timeZone": user.time_zone,
            "accountType": user.account_type,
        }
        self._obj_cache[("user", u)] = obj
        return obj

    def status_obj(self, idx: int) -> dict[str, Any]:
        cached = self._obj_cache.get(("status", idx))
        if cached is not None:
            return cached
        sid, name, cid, ckey, cname, color = STATUSES[idx]
        b = self.base_url
        obj = {
            "self": f"{b}/rest/api/3/status/{sid}",
            "description": "",
            "iconUrl": f"{b}/images/icons/status.png",
            "name": name,
            "id": sid,
            "statusCategory": {
                "self": f"{b}/rest/api/3/statuscategory/{cid}",
                "id": cid,
                "key": ckey,
                "colorName": color,
                "name": cname,
            },
        }
        self._obj_cache[("status", idx)] = obj
        return obj

    def issuetype_obj(self, idx: int) -> dict[str, Any]:
        cached = self._obj_cache.get(("type", idx))
        if cached is not None:
            return cached
        tid, name, level, subtask, desc = ISSUE_TYPES[idx]
        b = self.base_url
        obj = {
            "self": f"{b}/rest/api/3/issuetype/{tid}",
            "id": tid,
            "description": desc,
            "iconUrl": f"{b}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{10300 + idx}"
            "?size=medium",
            "name": name,
            "untranslatedName": name,
            "subtask": subtask,
            "avatarId": 10300 + idx,
            "hierarchyLevel": level,
        }
        self._obj_cache[("type", idx)] = obj
        return obj

    def project_obj(self, p: JiraProject, full: bool = False) -> dict[str, Any]:
        if p.raw is not None:
            return p.raw
        b = self.base_url
        av = f"{b}/rest/api/3/universal_avatar/view/type/project/avatar/{10400 + p.idx}"
        obj: dict[str, Any] = {
            "self": f"{b}/rest/api/3/project/{p.id}",
            "id": p.id,
            "key": p.key,
            "name": p.name,
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": {
                "48x48": av,
                "24x24": av + "?size=small",
                "16x16": av + "?size=xsmall",
                "32x32": av + "?size=medium",
            },
        }
        if full:
            obj.update(
                {
                    "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                    "style": "classic",
                    "isPrivate": False,
                    "properties": {},
                    "projectCategory": {
                        "self": f"{b}/rest/api/3/projectCategory/10000",
                        "id": "10000",
                        "name": "Product",
                        "description": "",
                    },
                }
            )
        return obj

    def priority_obj(self, idx: int) -> dict[str, Any]:
        pid, name = PRIORITIES[idx]
        return {
            "self": f"{self.base_url}/rest/api/3/priority/{pid}",
            "iconUrl": f"{self.base_url}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": pid,
        }

    def sprint_obj(self, sp: JiraSprint, agile: bool = False) -> dict[str, Any]:
        if sp.raw is not None:
            return sp.raw
        obj: dict[str, Any] = {"id": sp.id}
        if agile:
            obj["self"] = f"{self.base_url}/rest/agile/1.0/sprint/{sp.id}"
        obj.update({"state": sp.state, "name": sp.name})
        if sp.start_ms is not None:
            obj["startDate"] = format_utc(sp.start_ms)
        if sp.end_ms is not None:
            obj["endDate"] = format_utc(sp.end_ms)
        if sp.complete_ms is not None:
            obj["completeDate"] = format_utc(sp.complete_ms)
        if sp.start_ms is not None:
            obj["createdDate"] = format_utc(sp.start_ms - DAY_MS)
        obj["originBoardId" if agile else "boardId"] = sp.board_id
        obj["goal"] = sp.goal
        return obj

    def board_obj(self, board: JiraBoard) -> dict[str, Any]:
        p = self.projects[board.project]
        return {
            "id": board.id,
            "self": f"{self.base_url}/rest/agile/1.0/board/{board.id}",
            "name": board.name,
            "type": board.type,
            "location": {
                "projectId": int(p.id) if p.id.isdigit() else p.id,
                "displayName": f"{p.name} ({p.key})",
                "projectName": p.name,
                "projectKey": p.key,
                "projectTypeKey": "software",
                "name": f"{p.name} ({p.key})",
            },
        }

    # ------------------------------------------------------------------ changelog

    def _history(self, hid: int, author: int | None, ms: int, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": str(hid),
            "author": self.user_obj(author),
            "created": format_ts(ms, self.tz),
            "items": items,
        }

    def _status_item(self, a: int, b: int) -> dict[str, Any]:
        return {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": STATUSES[a][0],
            "fromString": STATUSES[a][1],
            "to": STATUSES[b][0],
            "toString": STATUSES[b][1],
        }

    def _status_path(self, rng: random.Random, target: int, n: int) -> list[int]:
        base = {
            TODO: [],
            IN_PROGRESS: [IN_PROGRESS],
            IN_REVIEW: [IN_PROGRESS, IN_REVIEW],
            DONE: [IN_PROGRESS, IN_REVIEW, DONE],
            WONT_DO: [WONT_DO],
        }[target]
        path = list(base)
        # Rework loops (review -> in progress -> review) when the history has room for them.
        while IN_REVIEW in path and len(path) + 2 <= n // 2 and rng.random() < 0.35:
            at = path.index(IN_REVIEW) + 1
            path[at:at] = [IN_PROGRESS, IN_REVIEW]
        return path

    def _generated(self, rec: JiraIssue) -> list[dict[str, Any]]:
        """The seed-derived part of an issue's changelog, oldest first (cached, never mutated)."""
        if rec.pinned is not None:
            return rec.pinned
        with self._lock:
            cached = self._gen_cache.get(rec.idx)
            if cached is not None:
                self._gen_cache.move_to_end(rec.idx)
                return cached
        n = rec.n_gen
        out: list[dict[str, Any]] = []
        if n:
            rng = random.Random(self.seed * 1_000_003 + rec.id)
            span = max(1, rec.updated_ms - rec.created_ms - 1)
            times = [*sorted(rec.created_ms + 1 + rng.randrange(span) for _ in range(n - 1)), rec.updated_ms]
            path = self._status_path(rng, rec.status_idx, n)
            slots = [*sorted(rng.sample(range(n - 1), len(path) - 1)), n - 1] if path else []
            status_at = dict(zip(slots, path, strict=True))
            misc = [k for k in range(n) if k not in status_at]
            assignee_slots = set(misc[:: max(1, len(misc) // 3 or 1)][:3]) if misc else set()
            last_assignee_slot = max(assignee_slots) if assignee_slots else -1
            prev_status, prev_assignee = TODO, None
            n_users = len(self.users)
            for k in range(n):
                ms = times[k]
                if k in status_at:
                    items = [self._status_item(prev_status, status_at[k])]
                    if STATUSES[status_at[k]][3] == "done":
                        items.append(
                            {
                                "field": "resolution",
                                "fieldtype": "jira",
                                "fieldId": "resolution",
                                "from": None,
                                "fromString": None,
                                "to": "10000",
                                "toString": "Done",
                            }
                        )
                    prev_status = status_at[k]
                elif k in assignee_slots:
                    new = rec.assignee if k == last_assignee_slot else rng.randrange(n_users)
                    items = [
                        {
                            "field": "assignee",
                            "fieldtype": "jira",
                            "fieldId": "assignee",
                            "from": None if prev_assignee is None else self.users[prev_assignee].account_id,
                            "fromString": None
                            if prev_assignee is None
                            else self.users[prev_assignee].display_name,
                            "to": None if new is None else self.users[new].account_id,
                            "toString": None if new is None else self.users[new].display_name,
                        }
                    ]
                    prev_assignee = new
                else:
                    kind = rng.randrange(3)
                    if kind == 0:
                        items = [
                            {
                                "field": "Rank",
                                "fieldtype": "custom",
                                "fieldId": "customfield_10019",
                                "from": "",
                                "fromString": "",
                                "to": "",
                                "toString": "Ranked higher",
                            }
                        ]
                    elif kind == 1:
                        items = [
                            {
                                "field": "labels",
                                "fieldtype": "jira",
                                "fieldId": "labels",
                                "from": None,
                                "fromString": "",
                                "to": None,
                                "toString": rng.choice(WORDS),
                            }
                        ]
                    else:
                        items = [
                            {
                                "field": "description",
                                "fieldtype": "jira",
                                "fieldId": "description",
                                "from": None,
                                "fromString": "",
                                "to": None,
                                "toString": f"Updated notes on {rng.choice(WORDS)}",
                            }
                        ]
                author = rng.randrange(n_users)
                out.append(self._history(1_000_000 + rec.idx * 1000 + k, author, ms, items))
        with self._lock:
            self._gen_cache[rec.idx] = out
            if len(self._gen_cache) > 2_000:
                self._gen_cache.popitem(last=False)
        return out

    def changelog(self, key_or_rec: str | JiraIssue) -> list[dict[str, Any]]:
        """The full changelog of an issue, oldest first (the truth the endpoints page through)."""
        rec = key_or_rec if isinstance(key_or_rec, JiraIssue) else self.get_issue(key_or_rec)
        if rec is None:
            raise KeyError(key_or_rec)
        if rec.raw is not None:
            base = sorted(
                rec.raw.get("changelog", {}).get("histories", []),
                key=lambda h: (parse_ts(h["created"]), int(h["id"])),
            )
        else:
            base = self._generated(rec)
        return base + rec.extra if rec.extra else base

    def embedded_changelog(self, rec: JiraIssue) -> dict[str, Any]:
        full = self.changelog(rec)
        newest = full[::-1][:EMBEDDED_CHANGELOG_LIMIT]
        return {"startAt": 0, "maxResults": len(newest), "total": len(full), "histories": newest}

    # ------------------------------------------------------------------ issue JSON

    def _link_obj(self, rec: JiraIssue) -> dict[str, Any]:
        return {
            "id": str(rec.id),
            "key": rec.key,
            "self": f"{self.base_url}/rest/api/3/issue/{rec.id}",
            "fields": {
                "summary": self.summary(rec),
                "status": self.current_status_obj(rec),
                "priority": self.priority_obj(rec.priority),
                "issuetype": self.issuetype_obj(rec.type_idx),
            },
        }

    def summary(self, rec: JiraIssue) -> str:
        if rec.summary_text is not None:
            return rec.summary_text
        h = (rec.id * 2654435761 + self.seed) & 0xFFFFFFFF
        verb, w1, w2 = VERBS[h % len(VERBS)], WORDS[(h >> 8) % len(WORDS)], WORDS[(h >> 16) % len(WORDS)]
        return f"{verb} {w1} {w2} ({rec.key})"

    def current_status_obj(self, rec: JiraIssue) -> dict[str, Any]:
        return rec.status_override if rec.status_override is not None else self.status_obj(rec.status_idx)

    def _resolution_ms(self, rec: JiraIssue) -> int | None:
        if self.status_tuple(rec)[3] != "done":
            return None
        if rec.resolution_ms is not None:
            return rec.resolution_ms
        for h in reversed(self._generated(rec)):
            if any(i["field"] == "status" for i in h["items"]):
                return parse_ts(h["created"])
        return rec.updated_ms

    def fields_of(self, rec: JiraIssue) -> dict[str, Any]:
        """Every field of the issue (``*all``)."""
        if rec.raw is not None:
            return dict(rec.raw.get("fields", {}))
        b = self.base_url
        tz = self.tz
        res_ms = self._resolution_ms(rec)
        parent = self.issues[rec.parent] if rec.parent is not None else None
        sprint = self.sprints[rec.sprint] if rec.sprint is not None else None
        epic_key = parent.key if parent is not None and parent.type_idx == EPIC else None
        h = (rec.id * 40503) & 0xFFFF
        f: dict[str, Any] = {
            "summary": self.summary(rec),
            "description": adf(
                f"As a user I want {WORDS[h % len(WORDS)]} to work with {WORDS[(h >> 4) % len(WORDS)]}."
            ),
            "issuetype": self.issuetype_obj(rec.type_idx),
            "project": self.project_obj(rec.project),
            "status": self.current_status_obj(rec),
            "priority": self.priority_obj(rec.priority),
            "assignee": self.user_obj(rec.assignee),
            "reporter": self.user_obj(rec.reporter),
            "creator": self.user_obj(rec.reporter),
            "created": format_ts(rec.created_ms, tz),
            "updated": format_ts(rec.updated_ms, tz),
            "resolution": None
            if res_ms is None
            else {
                "self": f"{b}/rest/api/3/resolution/10000",
                "id": "10000",
                "description": "Work has been done",
                "name": "Done",
            },
            "resolutiondate": None if res_ms is None else format_ts(res_ms, tz),
            "statuscategorychangedate": format_ts(rec.status_change_ms or res_ms or rec.updated_ms, tz),
            "labels": [WORDS[h % len(WORDS)]] if h % 3 == 0 else [],
            "components": [],
            "fixVersions": [],
            "subtasks": [
                self._link_obj(self.issues[c])
                for c in self.children.get(rec.idx, ())
                if not self.issues[c].deleted
            ],
            "issuelinks": [],
            "duedate": None,
            "timeoriginalestimate": None,
            "timespent": None,
            "comment": {
                "comments": [],
                "self": f"{b}/rest/api/3/issue/{rec.id}/comment",
                "maxResults": 0,
                "total": 0,
                "startAt": 0,
            },
            "worklog": {"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []},
            "customfield_10014": epic_key,
            "customfield_10016": rec.points,
            "customfield_10019": f"0|i{rec.idx:05x}:",
            "customfield_10020": None if sprint is None else [self.sprint_obj(sprint)],
        }
        if parent is not None:
            f["parent"] = self._link_obj(parent)
        return f

    def render_issue(
        self, rec: JiraIssue, fields: frozenset[str] | str, expand_changelog: bool
    ) -> dict[str, Any]:
        """The search item: ``fields`` is ``"*all"``, ``"*navigable"`` or a set of field ids."""
        if fields == frozenset({"id"}) and not expand_changelog:
            return {"id": str(rec.id)}
        if rec.raw is not None:
            out: dict[str, Any] = {k: rec.raw[k] for k in ("expand", "id", "self", "key") if k in rec.raw}
        else:
            out = {
                "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                "id": str(rec.id),
                "self": f"{self.base_url}/rest/api/3/issue/{rec.id}",
                "key": rec.key,
            }
        wanted = {f for f in fields if f not in ("id", "key")} if isinstance(fields, frozenset) else None
        if fields == "*all" or wanted:
            allf = self.fields_of(rec)
            if fields == "*navigable":
                allf = {k: v for k, v in allf.items() if k not in NON_NAVIGABLE}
            elif wanted is not None:
                allf = {k: v for k, v in allf.items() if k in wanted}
            if rec.raw is not None and rec.status_override is not None and "status" in allf:
                allf["status"] = rec.status_override
            out["fields"] = allf
        elif fields == "*navigable":
            out["fields"] = {k: v for k, v in self.fields_of(rec).items() if k not in NON_NAVIGABLE}
        else:
            out["fields"] = {}
        if expand_changelog:
            out["changelog"] = self.embedded_changelog(rec)
        return out

    # ------------------------------------------------------------------ metadata JSON

    def statuses(self) -> list[dict[str, Any]]:
        if self.statuses_raw is not None:
            return self.statuses_raw
        return [dict(self.status_obj(i), untranslatedName=STATUSES[i][1]) for i in range(len(STATUSES))]

    def issuetypes(self) -> list[dict[str, Any]]:
        if self.issuetypes_raw is not None:
            return self.issuetypes_raw
        return [self.issuetype_obj(i) for i in range(len(ISSUE_TYPES))]

    def fields(self) -> list[dict[str, Any]]:
        out = []
        for fid, name, custom, nav, schema in FIELDS:
            obj: dict[str, Any] = {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": custom,
                "orderable": True,
                "navigable": nav,
                "searchable": True,
                "clauseNames": [f"cf[{fid[12:]}]", name] if custom else [fid],
                "schema": schema,
            }
            if custom:
                obj["untranslatedName"] = name
            out.append(obj)
        if self.fields_raw:
            known = {o["id"] for o in out}
            out.extend(f for f in self.fields_raw if f.get("id") not in known)
        return out

    def myself(self) -> dict[str, Any]:
        u = self.user_obj(0)
        assert u is not None
        return dict(
            u,
            locale="en_US",
            timeZone=self.user_timezone,
            emailAddress=self.api_user_email,
            groups={"size": 1, "items": []},
            applicationRoles={"size": 1, "items": []},
            expand="groups,applicationRoles",
        )

    # ------------------------------------------------------------------ truth

    def truth(self) -> dict[str, int]:
        """Counts of every entity as the servers currently expose them."""
        live = list(self.live_issues())
        return {
            "projects": len(self.projects),
            "boards": len(self.boards),
            "sprints": len(self.sprints),
            "users": len(self.users),
            "issues": len(live),
            "deleted_issues": sum(1 for i in self.issues if i.deleted),
            "changelog_entries": sum(self.changelog_total(i) for i in live),
        }

    def changelog_total(self, rec: JiraIssue) -> int:
        if rec.raw is not None:
            return len(rec.raw.get("changelog", {}).get("histories", [])) + len(rec.extra or ())
        return rec.n_gen + len(rec.extra or ())

    def issue_keys(self) -> list[str]:
        return [i.key for i in self.live_issues()]

    def issues_by_type(self) -> dict[str, int]:
        return dict(
            Counter(
                ISSUE_TYPES[i.type_idx][1] if i.raw is None else i.raw["fields"]["issuetype"]["name"]
                for i in self.live_issues()
            )
        )

    def status_transitions(self, key: str) -> list[tuple[str | None, str | None, str]]:
        """(fromString, toString, created) for every status item of the issue's full changelog."""
        return [
            (it.get("fromString"), it.get("toString"), h["created"])
            for h in self.changelog(key)
            for it in h["items"]
            if it.get("field") == "status"
        ]

    def issue(self, key: str) -> dict[str, Any]:
        rec = self.get_issue(key)
        if rec is None:
            raise KeyError(key)
        return self.render_issue(rec, "*all", False)

    # ------------------------------------------------------------------ mutations

    def transition(
        self, key: str, status: str, *, at_ms: int | None = None, author: int = 0
    ) -> dict[str, Any]:
        """Move an issue to ``status`` (a name) now: bumps ``updated`` and appends a changelog entry."""
        with self._lock:
            rec = self.get_issue(key)
            if rec is None:
                raise KeyError(key)
            ms = at_ms if at_ms is not None else max(int(time.time() * 1000), rec.updated_ms + 1)
            old = self.status_tuple(rec)
            new_idx = next((i for i, s in enumerate(STATUSES) if s[1].lower() == status.lower()), None)
            if new_idx is None:
                raise ValueError(f"unknown status {status!r}")
            new = STATUSES[new_idx]
            items: list[dict[str, Any]] = [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": old[0],
                    "fromString": old[1],
                    "to": new[0],
                    "toString": new[1],
                }
            ]
            if new[3] == "done" and old[3] != "done":
                rec.resolution_ms = ms
                items.append(
                    {
                        "field": "resolution",
                        "fieldtype": "jira",
                        "fieldId": "resolution",
                        "from": None,
                        "fromString": None,
                        "to": "10000",
                        "toString": "Done",
                    }
                )
            elif new[3] != "done" and old[3] == "done":
                items.append(
                    {
                        "field": "resolution",
                        "fieldtype": "jira",
                        "fieldId": "resolution",
                        "from": "10000",
                        "fromString": "Done",
                        "to": None,
                        "toString": None,
                    }
                )
            if rec.raw is not None:
                rec.status_override = dict(self.status_obj(new_idx))
                rec.raw = dict(rec.raw, fields=dict(rec.raw["fields"], updated=format_ts(ms, self.tz)))
            else:
                # The generated history derives from the status and update time changed here.
                rec.pinned = self._generated(rec)
                rec.status_idx = new_idx
                rec.status_override = None
            if old[3] != new[3]:
                rec.status_change_ms = ms
            self._next_history_id += 1
            entry = self._history(self._next_history_id, author, ms, items)
            rec.extra = [*(rec.extra or ()), entry]
            rec.updated_ms = ms
            self.version += 1
            return entry

    def transition_some(self, n: int, *, seed: int | None = None) -> list[str]:
        """Change the status of ``n`` random live issues now; returns their keys."""
        rng = random.Random(self.seed + 17 if seed is None else seed)
        live = [i for i in self.issues if not i.deleted]
        picked = rng.sample(live, min(n, len(live)))
        for rec in picked:
            current = self.status_tuple(rec)[1]
            choices = [s[1] for s in STATUSES if s[1] != current]
            self.transition(rec.key, rng.choice(choices))
        return [r.key for r in picked]

    def delete_issue(self, key: str) -> None:
        with self._lock:
            rec = self.get_issue(key)
            if rec is None:
                raise KeyError(key)
            rec.deleted = True
            self.version += 1

    def create_issue(self, project_key: str, *, type_name: str = "Task", summary: str | None = None) -> str:
        with self._lock:
            proj = self._project_refs.get(project_key.lower())
            if proj is None:
                raise KeyError(project_key)
            number = 1 + max((i.number for i in self.issues if i.project is proj), default=0)
            ms = int(time.time() * 1000)
            t = next(i for i, t in enumerate(ISSUE_TYPES) if t[1].lower() == type_name.lower())
            rec = JiraIssue(
                idx=len(self.issues),
                id=1 + max((i.id for i in self.issues), default=9999),
                key=f"{proj.key}-{number}",
                project=proj,
                number=number,
                type_idx=t,
                status_idx=TODO,
                created_ms=ms,
                updated_ms=ms,
                n_gen=0,
                assignee=None,
                reporter=0,
                priority=2,
                summary_text=summary,
            )
            self.issues.append(rec)
            self._by_key[rec.key.upper()] = rec
            self._by_id[rec.id] = rec
            self.version += 1
            return rec.key

    # ------------------------------------------------------------------ fixtures

    @classmethod
    def from_devlake(
        cls,
        path: Path | str,
        *,
        user_timezone: str = "Asia/Shanghai",
        api_user_email: str = "bot@quarry.dev",
    ) -> JiraDataset:
        """Serve the recorded devlake Jira items verbatim (issues with their embedded changelogs)."""
        root = Path(path) / "jira"
        if not root.is_dir():
            raise FileNotFoundError(root)
        ds = cls(seed=0, user_timezone=user_timezone, api_user_email=api_user_email)
        ds.fixture = True
        ds._build_users(random.Random(0), 1)
        proj_rows = [r for r in read_devlake(root / "_raw_jira_api_projects.csv")]
        for r in proj_rows:
            ds.projects.append(JiraProject(len(ds.projects), str(r["id"]), r["key"], r["name"], 0, raw=r))
        by_key = {p.key: p for p in ds.projects}
        seen: set[str] = set()
        for item in read_devlake(root / "_raw_jira_api_issues.csv"):
            if item["key"] in seen:
                continue
            seen.add(item["key"])
            f = item["fields"]
            pk = f["project"]["key"]
            if pk not in by_key:
                proj = JiraProject(
                    len(ds.projects),
                    str(f["project"]["id"]),
                    pk,
                    f["project"].get("name", pk),
                    0,
                    raw=f["project"],
                )
                ds.projects.append(proj)
                by_key[pk] = proj
            hist = item.get("changelog", {}).get("histories", [])
            updated = parse_ts(f["updated"])
            ds.issues.append(
                JiraIssue(
                    idx=len(ds.issues),
                    id=int(item["id"]),
                    key=item["key"],
                    project=by_key[pk],
                    number=int(item["key"].rsplit("-", 1)[1]),
                    type_idx=TASK,
                    status_idx=TODO,
                    created_ms=parse_ts(f["created"]),
                    updated_ms=updated,
                    n_gen=len(hist),
                    assignee=None,
                    reporter=0,
                    priority=2,
                    raw=item,
                )
            )
        ds.statuses_raw = list(read_devlake(root / "_raw_jira_api_status.csv"))
        ds.issuetypes_raw = list(read_devlake(root / "_raw_jira_api_issue_types.csv"))
        ds.fields_raw = list(read_devlake(root / "_raw_jira_api_issue_fields.csv"))
        for row in devlake_rows(root / "_raw_jira_api_sprints.csv"):
            r = row["data"]
            # A sprint belongs to the board it was listed under, which need not be its origin board.
            m = re.search(r"/board/(\d+)/sprint", row.get("url") or "")
            bid = int(m.group(1)) if m else int(r.get("originBoardId") or 0)
            if not any(b.id == bid for b in ds.boards):
                proj_idx = by_key["EE"].idx if "EE" in by_key else 0
                ds.boards.append(JiraBoard(bid, f"Board {bid}", "scrum", proj_idx))
            ds.sprints.append(
                JiraSprint(
                    int(r["id"]), bid, r.get("name", ""), r.get("state", "closed"), None, None, None, raw=r
                )
            )
        for p in ds.projects:
            if not any(b.project == p.idx for b in ds.boards) and any(i.project is p for i in ds.issues):
                ds.boards.append(JiraBoard(1000 + p.idx, f"{p.key} board", "kanban", p.idx))
        ds._index()
        return ds


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8", newline="") as fh:
        lines = iter(fh)
        # Some recordings start with an empty line before the header.
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            return
        yield from csv.DictReader(itertools.chain([first], lines))


def fixtures_dir(path: Path | str | None = None) -> Path:
    """The devlake fixtures folder: the one given, else ``QUARRY_FIXTURES_DIR``; the product knows no
    default place (the recordings belong to the test and benchmark set-up, not to Quarry)."""
    chosen = path if path is not None else os.environ.get(FIXTURES_DIR_ENV)
    if not chosen:
        raise FileNotFoundError(f"no devlake fixtures folder: pass one or set {FIXTURES_DIR_ENV}")
    return Path(chosen)


def read_devlake(path: Path) -> Iterable[dict[str, Any]]:
    """The ``data`` items of one devlake raw-table CSV, in file order."""
    for row in _csv_rows(path):
        yield json.loads(row["data"])


def devlake_rows(path: Path) -> list[dict[str, Any]]:
    """Whole rows (``url``, ``input``, parsed ``data``) of a devlake CSV."""
    return [dict(row, data=json.loads(row["data"])) for row in _csv_rows(path)]


__all__ = [
    "EMBEDDED_CHANGELOG_LIMIT",
    "FIXTURES_DIR_ENV",
    "JiraDataset",
    "JiraIssue",
    "fixtures_dir",
    "format_ts",
    "parse_ts",
    "read_devlake",
]
