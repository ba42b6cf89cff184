"""Re-transform: replay stored raw pages through the current mappings, without calling the source.

Which pages: those of the job's last successful full run and of every successful run after it
(all successful runs when there never was a full one) — together the newest copy of every record
the tables hold. They are replayed in a new run (trigger `retransform`, `retransform_of` = the
newest of them) that completes like any other once its pages are transformed and loaded; it moves
no cursors and deletes nothing.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.completion import complete_if_done
from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlJob, EtlRun, Integration, RawExtractionData
from quarry_core.errors import QuarryError
from quarry_core.messages import TransformMessage
from quarry_core.queue.base import QueueBackend
from quarry_core.runs import create_run, set_phase, utcnow
from quarry_core.states import ACTIVE_RUN_PHASES, RunPhase, RunTrigger, Stage


class RetransformError(QuarryError):
    pass


def source_runs(session: Session, job_id: int) -> list[int]:
    runs = session.execute(
        select(EtlRun.id, EtlRun.mode)
        .where(
            EtlRun.job_id == job_id, EtlRun.phase == RunPhase.SUCCEEDED.value, EtlRun.retransform_of.is_(None)
        )
        .order_by(EtlRun.id)
    ).all()
    last_full = max((i for i, r in enumerate(runs) if r.mode == "full"), default=0)
    return [r.id for r in runs[last_full:]]


def retransform_job(factory: sessionmaker[Session], queue: QueueBackend, tenant: str, job_name: str) -> int:
    """Start a re-transform of the job; returns the new run's id (publishing is done on return)."""
    with session_scope(factory) as session:
        job = session.scalar(select(EtlJob).where(EtlJob.tenant == tenant, EtlJob.name == job_name))
        if job is None:
            raise RetransformError(f"EtlJob {tenant}/{job_name} does not exist")
        integration = session.scalar(
            select(Integration).where(Integration.tenant == tenant, Integration.name == job.integration_name)
        )
        if integration is None:
            raise RetransformError(f"Integration {tenant}/{job.integration_name} does not exist")
        active = session.scalar(
            select(EtlRun.id).where(
                EtlRun.job_id == job.id, EtlRun.phase.in_([p.value for p in ACTIVE_RUN_PHASES])
            )
        )
        if active is not None:
            raise RetransformError(f"EtlJob {tenant}/{job_name} has an active run ({active}); wait for it")
        sources = source_runs(session, job.id)
        if not sources:
            raise RetransformError(f"EtlJob {tenant}/{job_name} has no successful run to replay")
        run = create_run(
            session,
            job,
            integration,
            mode="incremental",
            entities=list(job.spec.get("entities") or []),
            trigger=RunTrigger.RETRANSFORM.value,
            retransform_of=sources[-1],
        )
        set_phase(session, run.id, RunPhase.RUNNING)
        pages = session.execute(
            update(RawExtractionData)
            .where(RawExtractionData.run_id.in_(sources))
            .values(replay_run_id=run.id, transformed_at=None, load_batches=None)
            .returning(RawExtractionData.id, RawExtractionData.entity)
        ).all()
        run_id, integration_id = run.id, integration.id
    messages = [
        TransformMessage(
            message_id=f"rt{run_id}-{raw_id}",
            tenant=tenant,
            run_id=run_id,
            integration_id=integration_id,
            raw_id=raw_id,
            entity=entity,
            retransform=True,
        )
        for raw_id, entity in sorted(pages)
    ]
    queue.publish_many(Stage.TRANSFORM, [(m.message_id, m.to_bytes()) for m in messages])
    with session_scope(factory) as session:
        session.execute(update(EtlRun).where(EtlRun.id == run_id).values(extract_finished_at=utcnow()))
    with session_scope(factory) as session:
        complete_if_done(session, run_id)
    return run_id
