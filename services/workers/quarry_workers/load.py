"""Idempotent batch upserts into the final tables, and the derived times of the touched work items.

A batch of load messages is loaded in one transaction: claim the messages' load batches (one
statement; an already loaded batch is a redelivery and is skipped), COPY every table's rows into
staging and merge them with one statement per table and column set (quarry_workers.staging).
Lead/cycle times and re-mapped transitions are computed before the merge from the batch and what is
stored (two reads), so each row is written once; only what the batch does not rewrite (transitions
of items loaded earlier, from changelog pages) is updated afterwards (quarry_workers.derived_batch).

Every row is upserted on its table's natural-key unique constraint, with the tenant, the
integration and the raw page (lineage) stamped on it. A row only updates the columns it carries,
so a REST list page never blanks what a details page loaded. Work items and pull requests never go
back in time: an older copy (by `updated_at`) arriving late does not overwrite a newer one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, func, or_, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from quarry_core.db.models import Base, LoadBatch
from quarry_core.errors import FatalError
from quarry_core.mappings import Mappings
from quarry_core.messages import LoadMessage
from quarry_core.tables import FINAL_TABLES, TABLES
from quarry_workers.derived_batch import MAPPED, TIMES, Plan, Stored, plan_batch
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
# Parents first: derived times read work items and transitions loaded in the same batch.
LOAD_ORDER = FINAL_TABLES


@dataclass
class BatchResult:
    loaded: list[LoadMessage] = field(default_factory=list)
    duplicates: list[LoadMessage] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    derived: int = 0


def table(name: str) -> Table:
    if name not in TABLES:
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
# (the values of the lineage columns, then of the table's derived columns; row)
Filled = tuple[tuple[Any, ...], Mapping[str, Any]]


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


def merge_order(groups: Iterable[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: (LOAD_ORDER.index(g[0]), sorted(g[1])))


def merge_groups(session: Session, groups: Mapping[Group, Sequence[Filled]]) -> dict[str, int]:
    """COPY and merge every group, parents first; returns rows sent per table."""
    order = merge_order(groups)
    ensure_staging(session, [table(name) for name in dict.fromkeys(g[0] for g in order)])
    sent: dict[str, int] = defaultdict(int)
    for grp, (name, columns) in enumerate(order):
        tbl = table(name)
        lead = (*STAMPED, *DERIVED_COLUMNS.get(name, ()))
        own = sorted(columns - set(lead))
        tail = {c: v for c, v in insert_defaults(tbl).items() if c not in columns}
        rows = groups[(name, columns)]
        copy_into_staging(session, tbl, grp, rows, lead=lead, own=own, tail=tail)
        sql = merge_sql(
            tbl,
            SCOPE + TABLES[name].natural_key,
            [*lead, *own],
            [*lead, *own, *tail],
            never_back_in_time=TABLES[name].never_back_in_time,
            keep_if_null=TABLES[name].keep_if_null,
        )
        session.execute(text(sql), {"grp": grp})
        sent[name] += len(rows)
    return dict(sent)


# Columns the load derives onto staged rows (the merge then writes each row once).
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {
    "work_items": TIMES,
    "work_item_transitions": MAPPED,
}


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
    groups = widen(group_rows(fresh))
    stored = read_stored(session, touched_items(fresh))
    order = merge_order(groups)
    plan = plan_batch(
        [(g[1], groups[g]) for g in order if g[0] == "work_items"],
        [groups[g] for g in order if g[0] == "work_item_transitions"],
        stored,
        mappings_for,
    )
    result.rows = merge_groups(session, fill(groups, plan))
    result.derived = apply_fixes(session, plan)
    return result


def widen(groups: Mapping[Group, Sequence[Staged]]) -> dict[Group, list[Staged]]:
    """Groups keyed by the columns their rows will carry once the derived values are filled in."""
    out: dict[Group, list[Staged]] = defaultdict(list)
    for (name, columns), rows in groups.items():
        out[(name, columns | frozenset(DERIVED_COLUMNS.get(name, ())))].extend(rows)
    return dict(out)


def fill(groups: Mapping[Group, Sequence[Staged]], plan: Plan) -> dict[Group, list[Filled]]:
    """The staged rows with their derived values appended to the lineage values (no row copies)."""
    times, mapped = itemgetter(*TIMES), itemgetter(*MAPPED)
    out: dict[Group, list[Filled]] = {}
    for (name, columns), rows in groups.items():
        if name == "work_items":
            item = plan.item_values
            out[(name, columns)] = [(st + times(item[(st[0], st[1], r["source_id"])]), r) for st, r in rows]
        elif name == "work_item_transitions":
            moves = plan.transition_values
            out[(name, columns)] = [
                (
                    st
                    + mapped(
                        moves[
                            (st[0], st[1], r["work_item_source_id"]), (r["history_id"], r.get("item_seq", 0))
                        ]
                    ),
                    r,
                )
                for st, r in rows
            ]
        else:
            out[(name, columns)] = list(rows)
    return out


_STORED_ITEMS = text(
    """SELECT source_id, id, type, created_at, resolved_at, status, updated_at, lead_time_seconds,
              cycle_time_seconds
       FROM work_items
       WHERE tenant = :tenant AND integration_id = :integration AND source_id = ANY(CAST(:ids AS text[]))"""
)
_STORED_TRANSITIONS = text(
    """SELECT work_item_source_id, id, history_id, item_seq, transitioned_at, from_source_status,
              to_source_status, from_status_category, to_status_category, from_status, to_status,
              from_step, to_step
       FROM work_item_transitions
       WHERE tenant = :tenant AND integration_id = :integration
         AND work_item_source_id = ANY(CAST(:ids AS text[]))"""
)


def read_stored(session: Session, touched: Mapping[tuple[str, int], set[str]]) -> Stored:
    """The touched items and all their transitions as stored (two set-based reads per scope)."""
    stored = Stored()
    for (tenant, integration), ids in touched.items():
        params = {"tenant": tenant, "integration": integration, "ids": sorted(ids)}
        for r in session.execute(_STORED_ITEMS, params).mappings():
            stored.items[(tenant, integration, r["source_id"])] = dict(r)
        for r in session.execute(_STORED_TRANSITIONS, params).mappings():
            stored.transitions.setdefault((tenant, integration, r["work_item_source_id"]), []).append(dict(r))
    return stored


_UPDATE_TRANSITIONS = text(
    """UPDATE work_item_transitions t SET from_status = v.from_status, to_status = v.to_status,
           from_step = v.from_step, to_step = v.to_step
       FROM unnest(CAST(:id AS bigint[]), CAST(:from_status AS text[]), CAST(:to_status AS text[]),
                   CAST(:from_step AS text[]), CAST(:to_step AS text[]))
            AS v(id, from_status, to_status, from_step, to_step)
       WHERE t.id = v.id"""
)
_UPDATE_TIMES = text(
    """UPDATE work_items w SET lead_time_seconds = v.lead_time_seconds,
           cycle_time_seconds = v.cycle_time_seconds
       FROM unnest(CAST(:id AS bigint[]), CAST(:lead_time_seconds AS float8[]),
                   CAST(:cycle_time_seconds AS float8[]))
            AS v(id, lead_time_seconds, cycle_time_seconds)
       WHERE w.id = v.id"""
)


def apply_fixes(session: Session, plan: Plan) -> int:
    """Update what the merge did not rewrite; returns those rows (the batch's own are merged)."""
    if plan.transition_fixes:
        session.execute(_UPDATE_TRANSITIONS, _columns(plan.transition_fixes))
    if plan.time_fixes:
        session.execute(_UPDATE_TIMES, _columns(plan.time_fixes))
    return len(plan.transition_fixes) + len(plan.time_fixes)


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Row dicts -> one list per column (the arrays `unnest` takes)."""
    return {column: [r[column] for r in rows] for column in rows[0]}
