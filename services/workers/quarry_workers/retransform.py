"""`quarry retransform JOB`: replay stored raw pages through the current mappings in a new run,
without calling the source (quarry_core.replay says which pages); the run moves no cursors and
deletes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlJob, EtlRun, Integration
from quarry_core.errors import QuarryError
from quarry_core.queue.base import QueueBackend
from quarry_core.replay import replay, source_runs
from quarry_core.runs import create_run
from quarry_core.states import ACTIVE_RUN_PHASES, RunTrigger


class RetransformError(QuarryError):
    pass


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
        if not source_runs(session, job.id):
            raise RetransformError(f"EtlJob {tenant}/{job_name} has no successful run to replay")
        run = create_run(
            session,
            job,
            integration,
            mode="incremental",
            entities=list(job.spec.get("entities") or []),
            trigger=RunTrigger.RETRANSFORM.value,
        )
        run_id = run.id
    replay(factory, queue, run_id)
    return run_id
