"""Runs that never finish: fail a run whose pages stopped moving, naming why.

Completion (quarry_core.completion) needs every raw page transformed and every load batch
loaded. A message can leave the pipeline without its run hearing of it: dead-lettered by the
broker's delivery limit or the PostgreSQL queue's (no consumer hook runs then), or lost on a
retry hop. Such a run would wait forever. The platform's controller (`quarry up`) and operator
sweep running runs whose extraction has ended: a run with dead letters fails at once, one whose
pages have not moved for `QUARRY_RUN_STALL_SECONDS` fails with the pages still outstanding.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlRun
from quarry_core.db.tenancy import as_platform
from quarry_core.runs import lock_run, set_phase
from quarry_core.states import RunPhase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    run_id: int
    extract_finished_at: datetime
    last_moved: datetime | None  # newest transformed_at / loaded_at of the run's pages
    untransformed: int
    unloaded: int
    dead_letters: int
    first_dead_error: str | None = None


def stall_reason(p: Progress, now: datetime, stall_after: timedelta) -> str | None:
    """Why this run must fail now, or None while it may still finish."""
    if p.dead_letters:
        detail = f": {p.first_dead_error}" if p.first_dead_error else ""
        return (
            f"{p.dead_letters} message(s) of this run were dead-lettered by the queue{detail}"
            " (see `quarry queues --dead-letters`)"
        )[:4000]
    if p.untransformed == 0 and p.unloaded == 0:
        return None  # complete: completion's business, not a stall
    moved = max(p.extract_finished_at, p.last_moved or p.extract_finished_at)
    idle = now - moved
    if idle < stall_after:
        return None
    return (
        f"no page moved for {int(idle.total_seconds())}s (limit {int(stall_after.total_seconds())}s): "
        f"{p.untransformed} raw page(s) not transformed, {p.unloaded} load batch(es) not loaded; "
        "their messages were lost or dead-lettered (see `quarry queues --dead-letters`)"
    )


_PROGRESS = text(
    """
    SELECT r.id AS run_id, r.extract_finished_at,
      (SELECT count(*) FROM raw_extraction_data d
        WHERE (CASE WHEN r.retransform_of IS NULL THEN d.run_id ELSE d.replay_run_id END) = r.id
          AND d.transformed_at IS NULL) AS untransformed,
      (SELECT count(*) FROM load_batches b WHERE b.run_id = r.id AND b.loaded_at IS NULL) AS unloaded,
      greatest(
        (SELECT max(d.transformed_at) FROM raw_extraction_data d
          WHERE (CASE WHEN r.retransform_of IS NULL THEN d.run_id ELSE d.replay_run_id END) = r.id),
        (SELECT max(b.loaded_at) FROM load_batches b WHERE b.run_id = r.id)) AS last_moved,
      (SELECT count(*) FROM dead_letters x WHERE x.run_id = r.id AND x.created_at >= r.started_at)
        AS dead_letters,
      (SELECT x.error FROM dead_letters x WHERE x.run_id = r.id AND x.created_at >= r.started_at
        ORDER BY x.id LIMIT 1) AS first_dead_error
    FROM etl_runs r
    WHERE r.phase = 'Running' AND r.extract_finished_at IS NOT NULL
    """
)


def progress(session: Session) -> list[Progress]:
    return [Progress(**row._mapping) for row in session.execute(_PROGRESS)]


def fail_stalled_runs(session: Session, now: datetime, stall_after: timedelta) -> dict[int, str]:
    """Fail every stalled run (platform context, the caller commits); returns {run id: reason}."""
    as_platform(session)
    failed: dict[int, str] = {}
    for p in progress(session):
        reason = stall_reason(p, now, stall_after)
        if reason is None:
            continue
        lock_run(session, p.run_id)
        phase = session.scalar(select(EtlRun.phase).where(EtlRun.id == p.run_id).with_for_update())
        if phase != RunPhase.RUNNING.value:
            continue  # completed or failed meanwhile
        set_phase(session, p.run_id, RunPhase.FAILED, error=reason)
        log.error("run %s failed: %s", p.run_id, reason)
        failed[p.run_id] = reason
    return failed
