"""A re-transform run's pod runs the same entry point as an extraction: `quarry extract --run-id`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlJob, EtlRun, Integration, RawExtractionData
from quarry_core.runs import create_run, utcnow
from quarry_core.states import RunPhase, RunTrigger


def test_extract_entry_point_replays_a_retransform_run(
    engine: Engine, database_url: str, tenant: str
) -> None:
    prefix = f"qt{uuid.uuid4().hex[:8]}"
    with Session(engine) as session, session.begin():
        integration = Integration(tenant=tenant, name="jira", uid=str(uuid.uuid4()), type="jira", spec={})
        job = EtlJob(
            tenant=tenant, name="sync", uid=str(uuid.uuid4()), integration_name="jira", spec={"entities": []}
        )
        session.add_all([integration, job])
        session.flush()
        done = create_run(session, job, integration, mode="full", entities=["issues"], trigger="manual")
        done.phase, done.finished_at = RunPhase.SUCCEEDED.value, utcnow()
        page = RawExtractionData(
            tenant=tenant,
            integration_id=integration.id,
            run_id=done.id,
            entity="issues",
            stream="issues:ENG",
            page_seq=0,
            url="http://jira/rest/api/3/search/jql",
            status=200,
            response={"issues": [], "isLast": True},
            transformed_at=utcnow(),
        )
        session.add(page)
        rerun = create_run(
            session, job, integration, mode="incremental", entities=[], trigger=RunTrigger.RETRANSFORM.value
        )
        session.flush()
        rerun_id, page_id, done_id = rerun.id, page.id, done.id

    env = {**os.environ, "DATABASE_URL": database_url, "QUARRY_QUEUE_PREFIX": prefix}
    env.pop("AMQP_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", "extract", "--run-id", str(rerun_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "replayed 1 stored pages" in result.stdout
    with Session(engine) as session:
        run = session.get(EtlRun, rerun_id)
        assert run is not None and run.phase == "Running" and run.extract_finished_at is not None
        assert run.retransform_of == done_id
        replayed = session.scalar(select(RawExtractionData).where(RawExtractionData.id == page_id))
        assert replayed is not None and replayed.replay_run_id == rerun_id and replayed.transformed_at is None
        body = session.execute(
            text("SELECT body FROM queue_messages WHERE queue = :q OR starts_with(queue, :q || '.t.')"),
            {"q": f"{prefix}.transform"},
        ).scalar_one()
    message = json.loads(bytes(body))
    assert (message["run_id"], message["raw_id"], message["retransform"]) == (rerun_id, page_id, True)
