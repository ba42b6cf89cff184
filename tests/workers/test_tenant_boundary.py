"""Messages name their tenant; workers act as it and refuse what does not belong together.

Real PostgreSQL (workers connect as the RLS-bound runtime role) on both queue backends.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, delete, text
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlJob, EtlRun, RawExtractionData
from quarry_core.messages import LoadMessage, TransformMessage
from quarry_core.queue.base import Delivery, QueueBackend
from quarry_core.runs import counts
from quarry_core.states import Stage
from quarry_workers.common import dead_letter_hook
from tests.workers.conftest import Platform, new_platform
from tests.workers.fixtures import items


@pytest.fixture
def other(
    factory: sessionmaker[Session], worker_factory: sessionmaker[Session], queue: QueueBackend, engine: Engine
) -> Platform:
    name = f"t-{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (name) VALUES (:n)"), {"n": name})
    return new_platform(factory, worker_factory, queue, name)


def _publish(p: Platform, message: TransformMessage | LoadMessage) -> None:
    stage = Stage.TRANSFORM if isinstance(message, TransformMessage) else Stage.LOAD
    p.queue.publish(stage, message.to_bytes(), message_id=message.message_id)


def _raw(p: Platform, raw_id: int) -> RawExtractionData:
    with p.factory() as s:
        raw = s.get(RawExtractionData, raw_id)
        assert raw is not None
        return raw


def test_a_message_naming_another_tenants_run_or_page_is_refused(platform: Platform, other: Platform) -> None:
    issues = items("jira/_raw_jira_api_issues.csv")[:2]
    theirs = other.start_run()
    their_page = other.add_page(theirs, "issues", {"issues": issues})
    other.queue.purge(Stage.TRANSFORM)  # only the forged messages below
    mine = platform.start_run()
    # Our tenant, their run; then our run, their page (in a transform and in a load message).
    ours = {"tenant": platform.tenant, "entity": "issues", "raw_id": their_page}
    for message in (
        TransformMessage(**ours, run_id=theirs, integration_id=other.integration_id),
        TransformMessage(**ours, run_id=mine, integration_id=platform.integration_id),
        LoadMessage(
            **ours,
            run_id=mine,
            integration_id=platform.integration_id,
            seq=0,
            tables={"work_items": [{"source_id": "1", "key": "X-1"}]},
        ),
    ):
        _publish(platform, message)
    platform.drain()
    errors = sorted(
        d.error for stage in (Stage.TRANSFORM, Stage.LOAD) for d in platform.queue.dead_letters(stage)
    )
    assert len(errors) == 3, errors
    assert sum(f"run {theirs} does not belong to tenant {platform.tenant!r}" in e for e in errors) == 1
    assert sum(f"raw page {their_page} does not belong to tenant" in e for e in errors) == 2
    # Their data is untouched: page not transformed, run still running, nothing counted.
    assert _raw(other, their_page).transformed_at is None
    assert other.run(theirs).phase == "Running"
    with other.factory() as s:
        assert counts(s, theirs) == {}
        loaded = s.execute(
            text("SELECT count(*) FROM work_items WHERE tenant IN (:a, :b)"),
            {"a": platform.tenant, "b": other.tenant},
        ).scalar_one()
        assert loaded == 0
    # The forged messages were ours to answer for: our run shows them.
    assert platform.run(mine).phase == "Failed"


def test_a_message_whose_run_is_gone_is_acked_and_dropped(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    issues = items("jira/_raw_jira_api_issues.csv")[:2]
    doomed = platform.start_run()
    platform.add_page(doomed, "issues", {"issues": issues})
    _publish(
        platform,
        LoadMessage(
            tenant=platform.tenant,
            run_id=doomed,
            integration_id=platform.integration_id,
            raw_id=1,
            seq=0,
            entity="issues",
            tables={},
        ),
    )
    # Deleted while its pages are in flight (the job's cascade takes its runs and pages).
    with session_scope(platform.factory) as s:
        s.execute(delete(EtlRun).where(EtlRun.id == doomed))
    # A message that names no tenant or run that ever existed.
    _publish(
        platform,
        TransformMessage(tenant="nobody", run_id=987654321, integration_id=1, raw_id=1, entity="issues"),
    )
    transform, load = platform.consumers()
    with caplog.at_level("WARNING"):
        while transform.run_once() + load.run_once():
            pass
    assert (transform.stats.dropped, load.stats.dropped) == (2, 1)
    assert transform.stats.dead_lettered == load.stats.dead_lettered == 0
    assert [d for stage in (Stage.TRANSFORM, Stage.LOAD) for d in platform.queue.dead_letters(stage)] == []
    assert sum("no longer exists" in r.getMessage() for r in caplog.records) == 3
    for stage in (Stage.TRANSFORM, Stage.LOAD):
        depth = platform.queue.depth(stage)
        assert (depth.ready, depth.unacked) == (0, 0)
    # The workers carry on with the next tenant's work.
    run = platform.start_run()
    platform.add_page(run, "issues", {"issues": issues})
    platform.finish_extract(run)
    platform.drain()
    assert platform.run(run).phase == "Succeeded"


def test_the_dead_letter_hook_never_writes_for_a_run_it_cannot_see(
    platform: Platform, other: Platform
) -> None:
    theirs = other.start_run()
    hook = dead_letter_hook(platform.worker_factory or platform.factory, Stage.LOAD)
    delivery = Delivery(stage=Stage.LOAD, body=b"{}", message_id="m", attempt=1, headers={}, handle=None)
    for run_id in (theirs, 987654321):
        msg = TransformMessage(
            tenant=platform.tenant, run_id=run_id, integration_id=1, raw_id=1, entity="issues"
        )
        hook(delivery, msg, "boom")  # before: a foreign-key violation that stopped the worker
    assert other.run(theirs).phase == "Running"
    with other.factory() as s:
        assert counts(s, theirs) == {}
    with platform.factory() as s:
        assert s.query(EtlJob).filter(EtlJob.tenant == platform.tenant).count() == 1
