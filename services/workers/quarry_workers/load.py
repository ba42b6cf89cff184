"""Idempotent batch upserts into the final tables, and the derived times of the touched work items.

A batch of load messages is loaded in one transaction: claim the messages' load batches (one
statement; an already loaded batch is a redelivery and is skipped), COPY every table's rows into
staging and merge them with one statement per table and column set (quarry_workers.staging), then
re-map the touched items' transitions and recompute their lead/cycle times (two reads, two writes).

Every row is upserted on its table's natural-key unique constraint, with the tenant, the
integration and the raw page (lineage) stamped on it. A row only updates the columns it carries,
so a REST list page never blanks what a details page loaded. Work items and pull requests never go
back in time: an older copy (by `updated_at`) arriving late does not overwrite a newer one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from quarry_core.db.models import Base, LoadBatch, WorkItem, WorkItemTransition
from quarry_core.errors import FatalError
from quarry_core.messages import LoadMessage
from quarry_workers.derived import plan_derived
from quarry_workers.mappings import Mappings
from quarry_workers.staging import (
    SERVER_COLUMNS,
    copy_into_staging,
    ensure_staging,
    insert_defaults,
    merge_sql,
)

SCOPE = ("tenant", "integration_id")
STAMPED = (*SCOPE, "raw_id")
STAMPED_SET = frozenset(STAMPED)
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "projects": ("source_id",),
    "people": ("source_id",),
    "work_items": ("source_id",),
    "work_item_transitions": ("work_item_source_id", "history_id", "item_seq"),
    "sprints": ("source_id",),
    "repositories": ("full_name",),
    "pull_requests": ("repository", "number"),
    "pull_request_reviews": ("source_id",),
    "commits": ("repository", "sha"),
    "pull_request_commits": ("repository", "pr_number", "sha"),
}
# Parents first: derived times read work items and transitions loaded in the same batch.
LOAD_ORDER = tuple(NATURAL_KEYS)
# Tables whose rows must not go back in time when an older copy arrives late.
MONOTONIC = frozenset({"work_items", "pull_requests"})
# Columns some pages do not know (a bulk changelog has no issue key): keep what is there.
KEEP_IF_NULL: dict[str, frozenset[str]] = {"work_item_transitions": frozenset({"work_item_key"})}


@dataclass
class BatchResult:
    loaded: list[LoadMessage] = field(default_factory=list)
    duplicates: list[LoadMessage] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    derived: int = 0


def table(name: str) -> Table:
    if name not in NATURAL_KEYS:
        raise FatalError(f"load message names an unknown table {name!r}")
    return Base.metadata.tables[name]


def claim_batches(session: Session, messages: Sequence[LoadMessage]) -> set[tuple[int, int]]:
    """Mark the messages' batches loaded for their runs; returns the (raw_id, seq) newly claimed.

    A batch already loaded for the same run is a redelivery. The row locks taken here serialise
    two workers holding the same message.
    """
    first: dict[tuple[int, int], LoadMessage] = {}
    for m in messages:
        first.setdefault((m.raw_id, m.seq), m)
    if not first:
        return set()
    stmt = insert(LoadBatch).values(
        [
            {
                "tenant": m.tenant,
                "run_id": m.run_id,
                "raw_id": m.raw_id,
                "seq": m.seq,
                "entity": m.entity,
                "records": sum(len(rows) for rows in m.tables.values()),
                "loaded_at": func.now(),
            }
            for m in first.values()
        ]
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=["raw_id", "seq"],
        set_={"loaded_at": func.now(), "run_id": stmt.excluded.run_id},
        where=or_(LoadBatch.loaded_at.is_(None), LoadBatch.run_id != stmt.excluded.run_id),
    ).returning(LoadBatch.raw_id, LoadBatch.seq)
    return {(r.raw_id, r.seq) for r in session.execute(upsert)}


def split_claimed(
    messages: Sequence[LoadMessage], claimed: set[tuple[int, int]]
) -> tuple[list[LoadMessage], list[LoadMessage]]:
    """(to load, duplicates): the first copy of each claimed batch loads, the rest are redeliveries."""
    fresh: list[LoadMessage] = []
    duplicates: list[LoadMessage] = []
    seen: set[tuple[int, int]] = set()
    for m in messages:
        key = (m.raw_id, m.seq)
        if key in claimed and key not in seen:
            fresh.append(m)
            seen.add(key)
        else:
            duplicates.append(m)
    return fresh, duplicates


Group = tuple[str, frozenset[str]]
Staged = tuple[tuple[str, int, int], Mapping[str, Any]]  # ((tenant, integration, raw page), row)


def group_rows(messages: Sequence[LoadMessage]) -> dict[Group, list[Staged]]:
    """Rows by (table, own column set), in message order, each with its message's lineage."""
    groups: dict[Group, list[Staged]] = defaultdict(list)
    for m in messages:
        stamp = (m.tenant, m.integration_id, m.raw_id)
        for name, rows in m.tables.items():
            if not rows:
                continue
            allowed = set(table(name).c.keys()) - SERVER_COLUMNS
            for row in rows:
                columns = frozenset(row) - STAMPED_SET
                unknown = columns - allowed
                if unknown:
                    raise FatalError(f"{name}: unknown columns {sorted(unknown)}")
                groups[(name, columns)].append((stamp, row))
    return groups


def merge_groups(session: Session, groups: Mapping[Group, Sequence[Staged]]) -> dict[str, int]:
    """COPY and merge every group, parents first; returns rows sent per table."""
    order = sorted(groups, key=lambda g: (LOAD_ORDER.index(g[0]), sorted(g[1])))
    ensure_staging(session, [table(name) for name in dict.fromkeys(g[0] for g in order)])
    sent: dict[str, int] = defaultdict(int)
    for grp, (name, columns) in enumerate(order):
        tbl = table(name)
        own = sorted(columns)
        tail = {c: v for c, v in insert_defaults(tbl).items() if c not in columns}
        rows = groups[(name, columns)]
        copy_into_staging(session, tbl, grp, rows, lead=STAMPED, own=own, tail=tail)
        sql = merge_sql(
            tbl,
            SCOPE + NATURAL_KEYS[name],
            [*STAMPED, *own],
            [*STAMPED, *own, *tail],
            monotonic=name in MONOTONIC,
            keep_if_null=KEEP_IF_NULL.get(name, frozenset()),
        )
        session.execute(text(sql), {"grp": grp})
        sent[name] += len(rows)
    return dict(sent)


def touched_items(messages: Sequence[LoadMessage]) -> dict[tuple[str, int], set[str]]:
    touched: dict[tuple[str, int], set[str]] = defaultdict(set)
    for m in messages:
        ids = touched[(m.tenant, m.integration_id)]
        ids.update(r["source_id"] for r in m.tables.get("work_items", ()))
        ids.update(r["work_item_source_id"] for r in m.tables.get("work_item_transitions", ()))
    return {k: v for k, v in touched.items() if v}


def load_batch(
    session: Session, messages: Sequence[LoadMessage], mappings_for: Callable[[str], Mappings]
) -> BatchResult:
    """Load a batch of messages in the caller's transaction."""
    fresh, duplicates = split_claimed(messages, claim_batches(session, messages))
    result = BatchResult(loaded=fresh, duplicates=duplicates)
    if not fresh:
        return result
    result.rows = merge_groups(session, group_rows(fresh))
    for (tenant, integration_id), ids in touched_items(fresh).items():
        result.derived += derive(session, tenant, integration_id, ids, mappings_for(tenant))
    return result


_UPDATE_TRANSITIONS = text(
    """UPDATE work_item_transitions t SET from_status = v.from_status, to_status = v.to_status,
           from_step = v.from_step, to_step = v.to_step
       FROM unnest(CAST(:id AS bigint[]), CAST(:from_status AS text[]), CAST(:to_status AS text[]),
                   CAST(:from_step AS text[]), CAST(:to_step AS text[]))
            AS v(id, from_status, to_status, from_step, to_step)
       WHERE t.id = v.id"""
)
_UPDATE_TIMES = text(
    """UPDATE work_items w SET lead_time_seconds = v.lead, cycle_time_seconds = v.cycle
       FROM unnest(CAST(:id AS bigint[]), CAST(:lead AS float8[]), CAST(:cycle AS float8[]))
            AS v(id, lead, cycle)
       WHERE w.id = v.id"""
)


def derive(
    session: Session, tenant: str, integration_id: int, source_ids: set[str], mappings: Mappings
) -> int:
    """Re-map transitions by their item's type and recompute lead/cycle time; returns rows changed."""
    ids = sorted(source_ids)
    W, T = WorkItem, WorkItemTransition
    items = session.execute(
        select(
            W.id,
            W.source_id,
            W.type,
            W.created_at,
            W.resolved_at,
            W.status,
            W.lead_time_seconds,
            W.cycle_time_seconds,
        ).where(W.tenant == tenant, W.integration_id == integration_id, W.source_id.in_(ids))
    ).all()
    if not items:
        return 0
    transitions = session.execute(
        select(
            T.id,
            T.work_item_source_id,
            T.transitioned_at,
            T.from_source_status,
            T.to_source_status,
            T.from_status_category,
            T.to_status_category,
            T.from_status,
            T.to_status,
            T.from_step,
            T.to_step,
        )
        .where(
            T.tenant == tenant,
            T.integration_id == integration_id,
            T.work_item_source_id.in_([i.source_id for i in items]),
        )
        .order_by(T.work_item_source_id, T.transitioned_at, T.history_id, T.item_seq)
    ).all()
    plan = plan_derived(items, transitions, mappings)
    if plan.transitions:
        session.execute(_UPDATE_TRANSITIONS, _columns(plan.transitions))
    if plan.times:
        session.execute(
            _UPDATE_TIMES,
            {
                "id": [t["id"] for t in plan.times],
                "lead": [t["lead_time_seconds"] for t in plan.times],
                "cycle": [t["cycle_time_seconds"] for t in plan.times],
            },
        )
    return len(plan.transitions) + len(plan.times)


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Row dicts -> one list per column (the arrays `unnest` takes)."""
    return {column: [r[column] for r in rows] for column in rows[0]}
