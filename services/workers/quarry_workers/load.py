"""Idempotent batch upserts into the final tables, and the per-work-item derived times.

Every row is upserted on its table's natural-key unique constraint, with the tenant, the
integration and the raw page (lineage) stamped on it. A row only updates the columns it carries,
so a REST list page never blanks what a details page loaded. Work items and pull requests never go
back in time: an older copy (by `updated_at`) arriving late does not overwrite a newer one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from quarry_core.db.models import Base, LoadBatch, WorkItem, WorkItemTransition
from quarry_core.errors import FatalError
from quarry_core.messages import LoadMessage
from quarry_workers.derived import Move, cycle_time, lead_time
from quarry_workers.mappings import Mappings

SCOPE = ("tenant", "integration_id")
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
class LoadResult:
    skipped: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    derived: int = 0


def table(name: str) -> Table:
    if name not in NATURAL_KEYS:
        raise FatalError(f"load message names an unknown table {name!r}")
    return Base.metadata.tables[name]


def upsert_rows(
    session: Session,
    name: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    tenant: str,
    integration_id: int,
    raw_id: int | None,
) -> int:
    """Upsert rows of one table; returns how many rows were sent."""
    if not rows:
        return 0
    tbl = table(name)
    key = SCOPE + NATURAL_KEYS[name]
    groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        full = {**row, "tenant": tenant, "integration_id": integration_id, "raw_id": raw_id}
        for column, value in full.items():
            if isinstance(value, str) and "\x00" in value:
                full[column] = value.replace("\x00", "")  # PostgreSQL text cannot hold NUL
        unknown = set(full) - set(tbl.c.keys())
        if unknown:
            raise FatalError(f"{name}: unknown columns {sorted(unknown)}")
        groups[frozenset(full)].append(full)
    for columns, group in groups.items():
        stmt = insert(tbl)
        keep = KEEP_IF_NULL.get(name, frozenset())
        set_: dict[str, Any] = {
            c: (func.coalesce(stmt.excluded[c], tbl.c[c]) if c in keep else stmt.excluded[c])
            for c in columns
            if c not in key
        }
        set_["loaded_at"] = func.now()
        where = None
        if name in MONOTONIC and "updated_at" in columns:
            where = or_(
                stmt.excluded.updated_at.is_(None),
                tbl.c.updated_at.is_(None),
                stmt.excluded.updated_at >= tbl.c.updated_at,
            )
        session.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=set_, where=where), group)
    return len(rows)


def claim_batch(session: Session, message: LoadMessage, records: int) -> bool:
    """Mark the batch loaded for this run; False when it already was (a redelivery: skip it).

    The row lock taken here serialises two workers holding the same message.
    """
    stmt = insert(LoadBatch).values(
        tenant=message.tenant,
        run_id=message.run_id,
        raw_id=message.raw_id,
        seq=message.seq,
        entity=message.entity,
        records=records,
        loaded_at=func.now(),
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=["raw_id", "seq"],
        set_={"loaded_at": func.now(), "run_id": stmt.excluded.run_id},
        where=or_(LoadBatch.loaded_at.is_(None), LoadBatch.run_id != stmt.excluded.run_id),
    ).returning(LoadBatch.id)
    return session.execute(upsert).first() is not None


def load_message(session: Session, message: LoadMessage, mappings: Mappings) -> LoadResult:
    records = sum(len(rows) for rows in message.tables.values())
    if not claim_batch(session, message, records):
        return LoadResult(skipped=True)
    result = LoadResult()
    for name in sorted(message.tables, key=lambda t: LOAD_ORDER.index(t) if t in LOAD_ORDER else 99):
        result.rows[name] = upsert_rows(
            session,
            name,
            message.tables[name],
            tenant=message.tenant,
            integration_id=message.integration_id,
            raw_id=message.raw_id,
        )
    touched = {r["source_id"] for r in message.tables.get("work_items", ())}
    touched |= {r["work_item_source_id"] for r in message.tables.get("work_item_transitions", ())}
    if touched:
        result.derived = derive(session, message.tenant, message.integration_id, touched, mappings)
    return result


def derive(
    session: Session, tenant: str, integration_id: int, source_ids: Iterable[str], mappings: Mappings
) -> int:
    """Re-map transitions by their item's type and recompute lead/cycle time; returns rows changed."""
    ids = sorted(set(source_ids))
    items = session.execute(
        select(
            WorkItem.id,
            WorkItem.source_id,
            WorkItem.type,
            WorkItem.created_at,
            WorkItem.resolved_at,
            WorkItem.status,
            WorkItem.lead_time_seconds,
            WorkItem.cycle_time_seconds,
        ).where(
            WorkItem.tenant == tenant, WorkItem.integration_id == integration_id, WorkItem.source_id.in_(ids)
        )
    ).all()
    if not items:
        return 0
    by_source = {i.source_id: i for i in items}
    T = WorkItemTransition
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
            and_(
                T.tenant == tenant,
                T.integration_id == integration_id,
                T.work_item_source_id.in_(list(by_source)),
            )
        )
        .order_by(T.work_item_source_id, T.transitioned_at, T.history_id, T.item_seq)
    ).all()
    moves: dict[str, list[Move]] = defaultdict(list)
    fixes: list[dict[str, Any]] = []
    for t in transitions:
        kind = by_source[t.work_item_source_id].type
        want = {
            "from_status": mappings.map_status(kind, t.from_source_status, t.from_status_category)
            if t.from_source_status
            else None,
            "to_status": mappings.map_status(kind, t.to_source_status, t.to_status_category)
            if t.to_source_status
            else None,
            "from_step": mappings.workflow_step(kind, t.from_source_status),
            "to_step": mappings.workflow_step(kind, t.to_source_status),
        }
        if want != {
            "from_status": t.from_status,
            "to_status": t.to_status,
            "from_step": t.from_step,
            "to_step": t.to_step,
        }:
            fixes.append({"id": t.id, **want})
        moves[t.work_item_source_id].append(Move(t.transitioned_at, want["to_status"], want["to_step"]))
    if fixes:
        session.execute(update(WorkItemTransition), fixes)
    times: list[dict[str, Any]] = []
    for item in items:
        own = moves.get(item.source_id, [])
        lead = lead_time(item.created_at, own, item.resolved_at, item.status)
        cycle = cycle_time(own, mappings.workflow(item.type))
        if (lead, cycle) != (item.lead_time_seconds, item.cycle_time_seconds):
            times.append({"id": item.id, "lead_time_seconds": lead, "cycle_time_seconds": cycle})
    if times:
        session.execute(update(WorkItem), times)
    return len(fixes) + len(times)
