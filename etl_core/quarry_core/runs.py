"""The run store: the operations every stage performs on `etl_runs` and its counters.

Who writes what: the controller (local runtime or operator) creates runs and retries them; the
extractor moves a run to Running, records waits, checkpoints and counts, and fails it on fatal
errors; the workers count transformed/loaded records and complete the run (quarry_core.completion).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlJob, EtlRun, EtlRunCounter, Integration
from quarry_core.states import RunPhase, check_run_transition


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunContext:
    """Everything a stage needs to know about a run, read once."""

    run: EtlRun
    job: EtlJob
    integration: Integration


def run_context(session: Session, run_id: int) -> RunContext:
    row = session.execute(
        select(EtlRun, EtlJob, Integration)
        .join(EtlJob, EtlJob.id == EtlRun.job_id)
        .join(Integration, Integration.id == EtlRun.integration_id)
        .where(EtlRun.id == run_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"run {run_id} does not exist")
    return RunContext(run=row[0], job=row[1], integration=row[2])


def create_run(
    session: Session,
    job: EtlJob,
    integration: Integration,
    *,
    mode: str,
    entities: list[str],
    trigger: str,
    max_attempts: int = 3,
    retransform_of: int | None = None,
) -> EtlRun:
    run = EtlRun(
        tenant=job.tenant,
        job_id=job.id,
        integration_id=integration.id,
        mode=mode,
        entities=entities,
        trigger=trigger,
        max_attempts=max_attempts,
        retransform_of=retransform_of,
        phase=RunPhase.PENDING.value,
        attempt=1,
    )
    session.add(run)
    session.flush()
    return run


def set_phase(session: Session, run_id: int, phase: RunPhase, *, error: str | None = None) -> EtlRun:
    """Move a run to `phase` (checked against the legal transitions), under a row lock."""
    run = session.scalar(select(EtlRun).where(EtlRun.id == run_id).with_for_update())
    if run is None:
        raise LookupError(f"run {run_id} does not exist")
    check_run_transition(RunPhase(run.phase), phase)
    now = utcnow()
    run.phase = phase.value
    if phase == RunPhase.RUNNING and run.started_at is None:
        run.started_at = now
    if phase in (RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.CANCELLED):
        run.finished_at = now
        run.waiting_reason = None
        run.waiting_until = None
    if error is not None:
        run.error = error
    return run


def add_counts(session: Session, tenant: str, run_id: int, entity: str, **deltas: int) -> None:
    """Atomically add to a run's per-entity counters (pages, extracted, transformed, loaded, failed)."""
    values: dict[str, Any] = {"tenant": tenant, "run_id": run_id, "entity": entity, **deltas}
    stmt = insert(EtlRunCounter).values(values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_etl_run_counters_run_id_entity",
        set_={k: getattr(EtlRunCounter, k) + getattr(stmt.excluded, k) for k in deltas},
    )
    session.execute(stmt)


def counts(session: Session, run_id: int) -> dict[str, dict[str, int]]:
    rows = session.scalars(select(EtlRunCounter).where(EtlRunCounter.run_id == run_id)).all()
    return {
        r.entity: {
            "pages": r.pages,
            "extracted": r.extracted,
            "transformed": r.transformed,
            "loaded": r.loaded,
            "failed": r.failed,
        }
        for r in rows
    }


def set_waiting(session: Session, run_id: int, reason: str | None, until: datetime | None) -> None:
    session.execute(
        update(EtlRun).where(EtlRun.id == run_id).values(waiting_reason=reason, waiting_until=until)
    )


def lock_run(session: Session, run_id: int) -> None:
    """Serialise completion checks of one run across processes (transaction-scoped)."""
    session.execute(
        text("select pg_advisory_xact_lock(7263012, CAST(:id AS integer))"), {"id": run_id % 2**31}
    )
