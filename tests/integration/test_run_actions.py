"""The reconcile core's run decisions carried out on real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlJob, EtlRun, Integration
from quarry_core.reconcile import IntegrationView, JobView, RetryRun, StartRun
from quarry_core.resources import EtlJobSpec, IntegrationType
from quarry_core.run_actions import (
    create_run_for,
    load_run_views,
    reconcile_job,
    report_attempt_failure,
    retry_run,
)
from quarry_core.states import RunPhase

SPEC = {
    "integrationRef": {"name": "jira"},
    "mode": "full",
    "entities": ["issues"],
    "retry": {"maxAttempts": 2},
}


def test_start_fail_retry_cycle(engine: Engine, tenant: str) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        integration = Integration(tenant=tenant, name="jira", uid=str(uuid.uuid4()), type="jira", spec={})
        job = EtlJob(tenant=tenant, name="sync", uid=str(uuid.uuid4()), integration_name="jira", spec=SPEC)
        session.add_all([integration, job])
        session.flush()
        view = JobView(tenant, "sync", EtlJobSpec.model_validate(SPEC), 1)
        ready = IntegrationView("jira", IntegrationType.JIRA, True)
        result = reconcile_job(session, view, ready, [], now)
        (start,) = result.of_type(StartRun)
        assert int(start.run_id) > 0
        run = create_run_for(session, job, integration, start, max_attempts=2)
        run_id, job_id = run.id, job.id

    with Session(engine) as session, session.begin():
        (rv,) = load_run_views(session, job_id)
        assert (rv.id, rv.phase, rv.fingerprint) == (str(run_id), RunPhase.PENDING, start.fingerprint)
        # The same reconcile with the run recorded starts nothing new.
        again = reconcile_job(session, view, ready, [rv], now)
        assert again.of_type(StartRun) == []
        report_attempt_failure(session, run_id, "extract exited with code 1")

    with Session(engine) as session, session.begin():
        views = load_run_views(session, job_id)
        later = now + timedelta(hours=1)
        decision = reconcile_job(session, view, ready, views, later)
        (retry,) = decision.of_type(RetryRun)
        assert retry.attempt == 2
        retry_run(session, retry)
    with Session(engine) as session:
        stored = session.get(EtlRun, run_id)
        assert stored is not None
        assert (stored.phase, stored.attempt, stored.attempt_error) == ("Pending", 2, None)
