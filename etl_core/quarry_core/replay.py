"""Re-transform: replay stored raw pages into an existing run, without calling the source.

Whoever created the run (the reconcile core for `spec.retransform`, or `quarry retransform`)
calls `replay`: the job's pages of its last successful full run and of every successful run after
it (the newest copy of every record the tables hold) are marked as replayed by this run and
published to the transform queue; the run then completes like any other and moves no cursors.
Doing it again after a crash is harmless: the same pages get the same message ids, and loading is
an idempotent upsert.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.completion import complete_if_done
from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlRun, RawExtractionData
from quarry_core.messages import TransformMessage
from quarry_core.queue.base import QueueBackend
from quarry_core.runs import set_phase, utcnow
from quarry_core.states import RunPhase, Stage


def source_runs(session: Session, job_id: int) -> list[int]:
    runs = session.execute(
        select(EtlRun.id, EtlRun.mode)
        .where(
            EtlRun.job_id == job_id,
            EtlRun.phase == RunPhase.SUCCEEDED.value,
            EtlRun.retransform_of.is_(None),
            EtlRun.trigger != "retransform",
        )
        .order_by(EtlRun.id)
    ).all()
    last_full = max((i for i, r in enumerate(runs) if r.mode == "full"), default=0)
    return [r.id for r in runs[last_full:]]


def replay(factory: sessionmaker[Session], queue: QueueBackend, run_id: int) -> int:
    """Publish the run's replayed pages; returns how many. Fails the run when there is nothing to replay."""
    with session_scope(factory) as session:
        run = session.get(EtlRun, run_id, with_for_update=True)
        if run is None or run.extract_finished_at is not None:
            return 0
        sources = source_runs(session, run.job_id)
        if not sources:
            error = "NothingToReplay: the job has no successful run"
            set_phase(session, run_id, RunPhase.FAILED, error=error)
            return 0
        if run.phase == RunPhase.PENDING.value:
            set_phase(session, run_id, RunPhase.RUNNING)
        run.retransform_of = sources[-1]
        pages = session.execute(
            update(RawExtractionData)
            .where(RawExtractionData.run_id.in_(sources))
            .values(replay_run_id=run_id, transformed_at=None, load_batches=None)
            .returning(RawExtractionData.id, RawExtractionData.entity)
        ).all()
        tenant, integration_id = run.tenant, run.integration_id
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
    return len(messages)
