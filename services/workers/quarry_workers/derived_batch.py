"""Derived values of a load batch, computed before its merge so each row is written once (pure).

The batch's work items get their lead/cycle time and its transitions their mapped statuses and
steps as extra values on the staged rows. What the merge will not rewrite is returned as updates:
stored transitions re-mapped by a changed item type, and the times of items that are not in the
batch (their transitions came from a changelog page) or whose batch copy is older than the stored
one (never back in time).

The merge is simulated exactly: groups in merge order, within a group the copy the merge keeps
(newest `updated_at`, else the last sent), the monotonic guard, and a row only setting its columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from quarry_core.mappings import Mappings
from quarry_workers.derived import Move, cycle_time, lead_time

Scope = tuple[str, int]  # (tenant, integration)
ItemKey = tuple[str, int, str]  # (tenant, integration, work item source id)
TransitionKey = tuple[str, int]  # (history_id, item_seq)
Row = Mapping[str, Any]
# ((tenant, integration, raw page), row), as staged
Staged = tuple[tuple[str, int, int], Row]

ITEM_FIELDS = ("type", "created_at", "resolved_at", "status", "updated_at")
TRANSITION_FIELDS = (
    "transitioned_at",
    "from_source_status",
    "to_source_status",
    "from_status_category",
    "to_status_category",
)
MAPPED = ("from_status", "to_status", "from_step", "to_step")
TIMES = ("lead_time_seconds", "cycle_time_seconds")


@dataclass
class Stored:
    """What the database holds for the batch's items: rows as mappings of column -> value."""

    items: dict[ItemKey, Row] = field(default_factory=dict)
    transitions: dict[ItemKey, list[Row]] = field(default_factory=dict)


@dataclass
class Plan:
    item_values: dict[ItemKey, dict[str, Any]]  # lead/cycle for every staged copy of the item
    transition_values: dict[tuple[ItemKey, TransitionKey], Mapping[str, Any]]  # mapped columns
    transition_fixes: list[dict[str, Any]]  # {id, from_status, to_status, from_step, to_step}
    time_fixes: list[dict[str, Any]]  # {id, lead_time_seconds, cycle_time_seconds}


def as_time(value: Any) -> datetime | None:
    """Staged rows carry ISO text (JSON messages), stored rows datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _rank(staged: Staged, order: int) -> tuple[bool, datetime | None, int]:
    at = as_time(staged[1]["updated_at"])
    return (at is not None, at, order)


def _newest_wins(rows: Sequence[Staged], newest: bool) -> dict[ItemKey, Staged]:
    """The copy per item the merge's DISTINCT ON keeps: newest `updated_at` (NULLs last), then last sent."""
    kept: dict[ItemKey, tuple[int, Staged]] = {}
    for order, staged in enumerate(rows):
        stamp, row = staged
        key = (stamp[0], stamp[1], row["source_id"])
        prev = kept.get(key)
        # A key seen once (the usual case) needs no timestamps parsed.
        if prev is None or not newest or _later(_rank(staged, order), _rank(prev[1], prev[0])):
            kept[key] = (order, staged)
    return {k: v[1] for k, v in kept.items()}


def _later(a: tuple[bool, datetime | None, int], b: tuple[bool, datetime | None, int]) -> bool:
    if a[0] != b[0]:
        return a[0]
    if a[1] is not None and b[1] is not None and a[1] != b[1]:
        return a[1] > b[1]
    return a[2] > b[2]


def _applies(new: datetime | None, old: datetime | None) -> bool:
    """The merge's guard: an older copy does not overwrite a newer row."""
    return new is None or old is None or new >= old


def _fields(row: Row, columns: frozenset[str] | None = None) -> dict[str, Any]:
    """The derivation fields a row carries, times parsed."""
    out: dict[str, Any] = {}
    for f in ITEM_FIELDS:
        if columns is None or f in columns:
            out[f] = as_time(row[f]) if f.endswith("_at") else row[f]
    return out


def effective_items(
    stored: Mapping[ItemKey, Row], groups: Iterable[tuple[frozenset[str], Sequence[Staged]]]
) -> tuple[dict[ItemKey, dict[str, Any]], set[ItemKey]]:
    """Items as they will be after the merge (derivation fields only), and those it rewrites."""
    items = {k: _fields(v) for k, v in stored.items()}
    rewritten: set[ItemKey] = set()
    blank = dict.fromkeys(ITEM_FIELDS)
    for columns, rows in groups:
        newest = "updated_at" in columns
        for key, (_stamp, row) in _newest_wins(rows, newest).items():
            current = items.get(key)
            carried = _fields(row, columns)
            if current is None:
                items[key] = {**blank, **carried}
            elif not newest or _applies(carried["updated_at"], current["updated_at"]):
                current.update(carried)
            else:
                continue
            rewritten.add(key)
    return items, rewritten


def effective_transitions(
    stored: Mapping[ItemKey, Sequence[Row]], groups: Iterable[Sequence[Staged]]
) -> dict[ItemKey, dict[TransitionKey, dict[str, Any]]]:
    """Transitions per item after the merge (last sent wins, a row sets only its columns).

    A staged transition has no `id`: only stored ones are updated by id.
    """
    out: dict[ItemKey, dict[TransitionKey, dict[str, Any]]] = {}
    for key, saved in stored.items():
        out[key] = {(r["history_id"], r["item_seq"]): dict(r) for r in saved}
    for staged in groups:
        for stamp, row in staged:
            key = (stamp[0], stamp[1], row["work_item_source_id"])
            tkey = (row["history_id"], row.get("item_seq", 0))
            own = out.get(key)
            if own is None:
                own = out[key] = {}
            current = own.get(tkey)
            if current is None:
                own[tkey] = {"id": None, **row, "staged": True}
            else:
                current.update(row)
                current["staged"] = True
    return out


class Mapper:
    """Status and step of a (type, status) pair, each pair mapped once per batch."""

    def __init__(self, mappings: Mappings) -> None:
        self.mappings = mappings
        self.statuses: dict[tuple[str | None, str | None, str | None], str | None] = {}
        self.steps: dict[tuple[str | None, str | None], str | None] = {}
        self.pairs: dict[tuple[str | None, ...], Mapping[str, Any]] = {}

    def status(self, kind: str | None, source: str | None, category: str | None) -> str | None:
        key = (kind, source, category)
        if key not in self.statuses:
            self.statuses[key] = self.mappings.map_status(kind, source, category) if source else None
        return self.statuses[key]

    def step(self, kind: str | None, source: str | None) -> str | None:
        key = (kind, source)
        if key not in self.steps:
            self.steps[key] = self.mappings.workflow_step(kind, source)
        return self.steps[key]

    def mapped(self, kind: str | None, t: Mapping[str, Any]) -> Mapping[str, Any]:
        """The mapped columns of a transition (shared between transitions: read only)."""
        source = (
            kind,
            t.get("from_source_status"),
            t.get("from_status_category"),
            t.get("to_source_status"),
            t.get("to_status_category"),
        )
        hit = self.pairs.get(source)
        if hit is None:
            _, from_source, from_category, to_source, to_category = source
            hit = self.pairs[source] = {
                "from_status": self.status(kind, from_source, from_category),
                "to_status": self.status(kind, to_source, to_category),
                "from_step": self.step(kind, from_source),
                "to_step": self.step(kind, to_source),
            }
        return hit


def plan_batch(
    item_groups: Sequence[tuple[frozenset[str], Sequence[Staged]]],
    transition_groups: Sequence[Sequence[Staged]],
    stored: Stored,
    mappings_for: Callable[[str], Mappings],
) -> Plan:
    """Derived values of the batch's rows and the updates of what it does not rewrite; groups in
    merge order. Every staged row gets values: a transition of an item that does not exist keeps
    what it (or its stored copy) has."""
    items, rewritten = effective_items(stored.items, item_groups)
    transitions = effective_transitions(stored.transitions, transition_groups)
    mappers: dict[str, Mapper] = {}
    plan = Plan({}, {}, [], [])
    for key, own in transitions.items():
        if key not in items:
            for tkey, t in own.items():
                if t.get("staged"):
                    plan.transition_values[(key, tkey)] = {c: t.get(c) for c in MAPPED}
    for key, item in items.items():
        tenant = key[0]
        mapper = mappers.get(tenant) or mappers.setdefault(tenant, Mapper(mappings_for(tenant)))
        times = _derive(key, item, transitions.get(key, {}), mapper, plan)
        plan.item_values[key] = times
        old = stored.items.get(key)
        if key not in rewritten and old is not None and any(old[c] != times[c] for c in TIMES):
            plan.time_fixes.append({"id": old["id"], **times})
    return plan


def _derive(
    key: ItemKey,
    item: Mapping[str, Any],
    transitions: Mapping[TransitionKey, Mapping[str, Any]],
    mapper: Mapper,
    plan: Plan,
) -> dict[str, Any]:
    """Map one item's transitions by its type (into `plan`) and return its lead/cycle time."""
    kind = item["type"]
    moves: list[Move] = []
    for at, tkey, t in sorted((as_time(t["transitioned_at"]), tkey, t) for tkey, t in transitions.items()):
        want = mapper.mapped(kind, t)
        if t.get("staged"):
            plan.transition_values[(key, tkey)] = want
        elif any(t[c] != want[c] for c in MAPPED):
            plan.transition_fixes.append({"id": t["id"], **want})
        assert at is not None  # NOT NULL column
        moves.append(Move(at, want["to_status"], want["to_step"]))
    return {
        "lead_time_seconds": lead_time(item["created_at"], moves, item["resolved_at"], item["status"]),
        "cycle_time_seconds": cycle_time(moves, mapper.mappings.workflow(kind)),
    }
