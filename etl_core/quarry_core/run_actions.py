"""Carry out the reconcile core's run decisions on the database, and read runs back as RunViews.

Both runtimes (the local controller and the kopf operator) keep runs in `etl_runs`; only how they
launch and stop run processes differs. Launching is theirs; everything below is shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlJob, EtlRun, EtlRunCounter, Integration
from quarry_core.reconcile import (
    CancelRun,
    FailRun,
    IntegrationView,
    JobView,
    Reconciliation,
    Retransform,
    RetryRun,
    RunView,
    StartRun,
    reconcile,
)
from quarry_core.resources import EntityCounts
from quarry_core.runs import set_phase, utcnow
from quarry_core.states import ACTIVE_RUN_PHASES, RunPhase, RunTrigger

PROPOSED = "0"  # placeholder id for a first, side-effect-free reconcile pass


def reconcile_job(
    session: Session,
    job: JobView,
    integration: IntegrationView | None,
    runs: Sequence[RunView],
    now: datetime,
) -> Reconciliation:
    """reconcile(), reserving a real run id only when the core decides to start a run."""
    first = reconcile(job, integration, runs, now, PROPOSED)
    if not any(isinstance(d, StartRun | Retransform) for d in first.decisions):
        return first
    new_id = session.execute(text("select nextval('etl_runs_id_seq')")).scalar_one()
    return reconcile(job, integration, runs, now, str(new_id))


def load_run_views(session: Session, job_id: int, recent: int = 20) -> list[RunView]:
    """The job's active runs plus its `recent` newest ones (the core needs no more history)."""
    newest = select(EtlRun.id).where(EtlRun.job_id == job_id).order_by(EtlRun.id.desc()).limit(recent)
    rows = session.scalars(
        select(EtlRun)
        .where(EtlRun.job_id == job_id)
        .where(or_(EtlRun.id.in_(newest), EtlRun.phase.in_([p.value for p in ACTIVE_RUN_PHASES])))
        .order_by(EtlRun.id)
    ).all()
    counters = _counts_by_run(session, [r.id for r in rows])
    return [to_run_view(r, counters.get(r.id, {})) for r in rows]


def _counts_by_run(session: Session, run_ids: list[int]) -> dict[int, dict[str, EntityCounts]]:
    out: dict[int, dict[str, EntityCounts]] = {}
    if not run_ids:
        return out
    for c in session.scalars(select(EtlRunCounter).where(EtlRunCounter.run_id.in_(run_ids))):
        out.setdefault(c.run_id, {})[c.entity] = EntityCounts(
            extracted=c.extracted, transformed=c.transformed, loaded=c.loaded
        )
    return out


def to_run_view(run: EtlRun, counts: dict[str, EntityCounts]) -> RunView:
    return RunView(
        id=str(run.id),
        phase=RunPhase(run.phase),
        trigger=RunTrigger(run.trigger),
        created_at=run.created_at,
        attempt=run.attempt,
        started_at=run.started_at,
        finished_at=run.finished_at,
        error=run.error,
        attempt_error=run.attempt_error,
        attempt_ended_at=run.attempt_ended_at,
        token=run.token,
        fingerprint=run.fingerprint,
        counts=counts,
        rate_limited_until=run.waiting_until,
    )


def create_run_for(
    session: Session,
    job: EtlJob,
    integration: Integration,
    decision: StartRun | Retransform,
    max_attempts: int,
) -> EtlRun:
    if isinstance(decision, StartRun):
        mode, trigger, source = decision.mode.value, decision.trigger.value, None
    else:
        mode, trigger = "incremental", RunTrigger.RETRANSFORM.value
        source = int(decision.source_run_id) if decision.source_run_id else None
    run = EtlRun(
        id=int(decision.run_id),
        tenant=job.tenant,
        job_id=job.id,
        integration_id=integration.id,
        mode=mode,
        trigger=trigger,
        entities=list(decision.entities),
        max_attempts=max_attempts,
        retransform_of=source,
        token=decision.token,
        fingerprint=decision.fingerprint,
        phase=RunPhase.PENDING.value,
        attempt=1,
    )
    session.add(run)
    session.flush()
    return run


def retry_run(session: Session, decision: RetryRun) -> EtlRun:
    run = set_phase(session, int(decision.run_id), RunPhase.PENDING)
    run.attempt = decision.attempt
    run.attempt_error = None
    run.attempt_ended_at = None
    run.waiting_reason = None
    run.waiting_until = None
    return run


def fail_run(session: Session, decision: FailRun) -> EtlRun:
    return set_phase(
        session, int(decision.run_id), RunPhase.FAILED, error=f"{decision.reason}: {decision.message}"
    )


def cancel_run(session: Session, decision: CancelRun) -> EtlRun | None:
    run = session.get(EtlRun, int(decision.run_id), with_for_update=True)
    if run is None or RunPhase(run.phase) not in ACTIVE_RUN_PHASES:
        return run
    return set_phase(session, run.id, RunPhase.CANCELLED, error=f"cancelled: {decision.reason}")


def report_attempt_failure(session: Session, run_id: int, error: str) -> None:
    """The run's process ended badly; the controller settles it (retry or fail) on its next pass.

    A run the process already finished or failed itself (e.g. bad credentials) is left alone.
    """
    run = session.get(EtlRun, run_id, with_for_update=True)
    if run is None or RunPhase(run.phase) not in ACTIVE_RUN_PHASES:
        return
    if run.phase == RunPhase.PENDING.value:
        run.phase = RunPhase.RUNNING.value  # the core settles failed attempts of running runs
    run.attempt_error = error
    run.attempt_ended_at = utcnow()
