"""Run completion: the one place a run becomes Succeeded, its cursors move, and deletions happen.

A run is done when its extraction has finished (`extract_finished_at`), every raw page of it is
transformed, and every load batch published for it is loaded. Then, in ONE transaction under the
run's advisory lock: the run becomes Succeeded, its `candidate_cursors` become the integration's
`sync_cursors`, and a `full` run deletes the integration's rows that this run did not see. Doing
the deletions here and never earlier means a failed or half-done refresh never blanks a table.

`candidate_cursors` is `{scope: {entity: cursor-value-object}}` (e.g. `{"ENG": {"issues":
{"updated_ms": 1732877091000}}}`); each pair becomes one `sync_cursors` row.

A re-transform run (`retransform_of` set) owns no raw pages of its own: it replays older pages
(marked with `replay_run_id`), so it is done when those are transformed and loaded; it moves no
cursors and deletes nothing (deletions belong to the refresh that saw the source).

Any stage may call `complete_if_done` after its own commit; calling it too often is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlRun, LoadBatch, RawExtractionData, SyncCursor
from quarry_core.runs import lock_run, set_phase, utcnow
from quarry_core.states import RunPhase
from quarry_core.tables import TABLES, Children

log = logging.getLogger(__name__)

# entity extracted -> the final tables a full run of it refreshes (deleting rows the source lost)
DELETABLE: dict[str, tuple[str, ...]] = {}
for _t in TABLES.values():
    if _t.refreshed_by is not None:
        DELETABLE[_t.refreshed_by] = (*DELETABLE.get(_t.refreshed_by, ()), _t.name)


def _delete_sql(table: str, where: str) -> str:
    """DELETE FROM `table` f WHERE `where`, leaving vector tombstones where the table has vectors."""
    vectors = TABLES[table].vectors
    if vectors is None:
        return f"DELETE FROM {table} f WHERE {where}"
    return f"""WITH gone AS (DELETE FROM {table} f WHERE {where}
                   RETURNING f.tenant, f.integration_id, {vectors.key_sql} AS key)
               INSERT INTO vector_deletions (tenant, integration_id, kind, key)
               SELECT tenant, integration_id, '{vectors.kind}', key FROM gone"""


def _orphans_sql(child: Children, parent: str) -> str:
    """Delete `child` rows whose parent row is gone. NOT IN over a non-null column plans as one hashed
    subplan, whatever the (often stale, right after a bulk load) statistics say; NOT EXISTS degraded
    to a nested loop over 100k rows in the benchmark."""
    cols = ", ".join(f"c.{c}" for c in child.columns)
    parent_cols = ", ".join(f"p.{c}" for c in child.parent_columns)
    return f"""DELETE FROM {child.table} c WHERE c.tenant = :tenant AND c.integration_id = :integration
           AND ({cols}) NOT IN (SELECT {parent_cols} FROM {parent} p
               WHERE p.tenant = :tenant AND p.integration_id = :integration)"""


# Children that go with their parent row (their own pages are not re-fetched for every parent).
_ORPHAN_SQL = {t.name: [_orphans_sql(c, t.name) for c in t.children] for t in TABLES.values() if t.children}


def is_done(session: Session, run: EtlRun) -> bool:
    if run.extract_finished_at is None:
        return False
    if run.retransform_of is not None:
        page_filter = RawExtractionData.replay_run_id == run.id
    else:
        page_filter = RawExtractionData.run_id == run.id
    untransformed = session.scalar(
        select(exists().where(page_filter, RawExtractionData.transformed_at.is_(None)))
    )
    if untransformed:
        return False
    unloaded = session.scalar(
        select(exists().where(LoadBatch.run_id == run.id, LoadBatch.loaded_at.is_(None)))
    )
    return not unloaded


def may_be_done(session: Session, run_id: int) -> bool:
    """The lock-free pre-check workers run after every batch: cheapest test first.

    Reads only the run row and the partial "pending" indexes, so a busy run answers False at once
    without queueing on the run's lock; `complete_if_done` repeats the full check under the lock.
    """
    run = session.execute(
        select(EtlRun.phase, EtlRun.extract_finished_at, EtlRun.retransform_of).where(EtlRun.id == run_id)
    ).one_or_none()
    if run is None or run.phase != RunPhase.RUNNING.value or run.extract_finished_at is None:
        return False
    unloaded = session.scalar(
        select(exists().where(LoadBatch.run_id == run_id, LoadBatch.loaded_at.is_(None)))
    )
    if unloaded:
        return False
    if run.retransform_of is not None:
        page_filter = RawExtractionData.replay_run_id == run_id
    else:
        page_filter = RawExtractionData.run_id == run_id
    return not session.scalar(select(exists().where(page_filter, RawExtractionData.transformed_at.is_(None))))


def complete_if_done(session: Session, run_id: int) -> bool:
    """Complete the run if all its work is done; True when this call made it Succeeded.

    The caller commits `session` (its transaction holds the run's lock until then).
    """
    if not may_be_done(session, run_id):
        return False
    lock_run(session, run_id)
    run = session.scalar(select(EtlRun).where(EtlRun.id == run_id).with_for_update())
    if run is None or run.phase != RunPhase.RUNNING.value:
        return False
    if not is_done(session, run):
        return False
    if run.retransform_of is None:
        _commit_cursors(session, run)
        deleted = delete_unseen(session, run) if run.mode == "full" else delete_swept(session, run)
        if deleted:
            log.info("run %s: deleted rows the source no longer has: %s", run.id, deleted)
    set_phase(session, run.id, RunPhase.SUCCEEDED)
    log.info("run %s succeeded", run.id)
    return True


def _commit_cursors(session: Session, run: EtlRun) -> None:
    rows: list[dict[str, Any]] = []
    for scope, per_entity in (run.candidate_cursors or {}).items():
        if not isinstance(per_entity, dict):
            continue
        for entity, value in per_entity.items():
            rows.append(
                {
                    "tenant": run.tenant,
                    "integration_id": run.integration_id,
                    "scope": str(scope),
                    "entity": str(entity),
                    "value": value if isinstance(value, dict) else {"value": value},
                    "run_id": run.id,
                    "updated_at": utcnow(),
                }
            )
    if not rows:
        return
    stmt = insert(SyncCursor).values(rows)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_sync_cursors_integration_id_scope_entity",
        set_={"value": stmt.excluded.value, "run_id": stmt.excluded.run_id, "updated_at": utcnow()},
    )
    session.execute(stmt)


# Raw pages that list every living issue of a project: the id-only sweep, or an unbounded walk.
_LIVING_PAGES = "({r}entity = 'issue_ids' OR ({r}entity = 'issues' AND {r}params ? '_all'))"


def delete_swept(session: Session, run: EtlRun) -> dict[str, int]:
    """Incremental runs never see deletions; the periodic id-only sweep (`issue_ids` pages, one
    complete list of a project's living issue ids) does, and so does an unbounded walk of the
    issues (search pages marked `_all`): delete that project's work items missing from it. Items
    this run loaded are kept (created after the sweep page was fetched)."""
    projects = session.scalars(
        text(
            f"SELECT DISTINCT params->>'_project' FROM raw_extraction_data "
            f"WHERE run_id = :run AND {_LIVING_PAGES.format(r='')} AND params ? '_project'"
        ),
        {"run": run.id},
    ).all()
    deleted = 0
    for project in projects:
        result = session.execute(
            text(
                _delete_sql(
                    "work_items",
                    # Items this run did not load first (OFFSET 0 keeps that subquery apart): the
                    # living ids are read from every page of the walk, which costs ~1 s a project,
                    # and on a full walk no item is left to ask about. Freshly loaded tables have
                    # no statistics, and the planner put that read first.
                    f"""f.id IN (SELECT s.id FROM (
                        SELECT w.id, w.source_id FROM work_items w
                        WHERE w.tenant = :tenant AND w.integration_id = :integration
                            AND w.project_key = :project
                            AND (w.raw_id IS NULL OR w.raw_id NOT IN (
                                SELECT r.id FROM raw_extraction_data r WHERE r.run_id = :run))
                        OFFSET 0) s
                    WHERE s.source_id NOT IN (
                        SELECT json_array_elements(r.response->'issues')->>'id' FROM raw_extraction_data r
                        WHERE r.run_id = :run AND {_LIVING_PAGES.format(r="r.")}
                            AND r.params->>'_project' = :project))""",
                )
            ),
            {"tenant": run.tenant, "integration": run.integration_id, "run": run.id, "project": project},
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    if not deleted:
        return {}
    for sql in _ORPHAN_SQL["work_items"]:
        session.execute(text(sql), {"tenant": run.tenant, "integration": run.integration_id})
    return {"work_items": deleted}


def delete_unseen(session: Session, run: EtlRun) -> dict[str, int]:
    """Delete the integration's rows of the run's entities that no raw page of this run carried.

    An entity with no raw page at all in this run is left alone: no page is not "empty source".
    """
    entities = session.scalars(
        select(RawExtractionData.entity).where(RawExtractionData.run_id == run.id).distinct()
    ).all()
    params = {"tenant": run.tenant, "integration": run.integration_id, "run": run.id}
    deleted: dict[str, int] = {}
    for entity in entities:
        for table in DELETABLE.get(entity, ()):
            result = session.execute(
                text(
                    _delete_sql(
                        table,
                        """f.tenant = :tenant AND f.integration_id = :integration
                        AND (f.raw_id IS NULL OR f.raw_id NOT IN (SELECT r.id FROM raw_extraction_data r
                             WHERE r.run_id = :run))""",
                    )
                ),
                params,
            )
            count = int(getattr(result, "rowcount", 0) or 0)
            for sql in _ORPHAN_SQL.get(table, []):
                session.execute(text(sql), params)
            if count:
                deleted[table] = count
    return deleted
