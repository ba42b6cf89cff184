"""A database outage makes workers back off and resume: nothing dead-lettered, lost or counted twice.

Real `quarry worker transform` and `quarry worker load` processes reach PostgreSQL through a TCP
proxy (127.0.0.1 only) that the test cuts for a few seconds. With the PostgreSQL queue the queue
goes away too, so the receive loop itself must survive.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import func, select

from quarry_core.db.models import LoadBatch, WorkItem
from quarry_core.runs import counts
from quarry_core.states import Stage
from tests.support.proxy import Proxy
from tests.support.workers import start_workers, stop_workers
from tests.workers.conftest import Platform
from tests.workers.fixtures import JiraSource
from tests.workers.test_pipeline import _seed_jira_run


@pytest.mark.parametrize("backend", ["pg"])
def test_database_outage_workers_back_off_and_resume(
    platform: Platform, jira_source: JiraSource, database_url: str, queue_prefix: str, tmp_path: Path
) -> None:
    url = urlsplit(database_url)
    proxy = Proxy((url.hostname or "127.0.0.1", url.port or 5432))
    netloc = url.netloc.rsplit("@", 1)
    proxied = urlunsplit(
        url._replace(netloc=(netloc[0] + "@" if len(netloc) == 2 else "") + f"127.0.0.1:{proxy.port}")
    )
    env = {
        **os.environ,
        "DATABASE_URL": proxied,
        "QUARRY_QUEUE_PREFIX": queue_prefix,
        "QUARRY_EMBEDDER": "off",
        "QUARRY_LOAD_BATCH_SIZE": "1",
        "QUARRY_TRANSFORM_BATCH_SIZE": "1",
        "QUARRY_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "30",
        "QUARRY_QUEUE_MAX_ATTEMPTS": "2",
        "QUARRY_QUEUE_RETRY_DELAY_SECONDS": "0.1",
    }
    env.pop("AMQP_URL", None)
    procs, logs = start_workers(env, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not all("worker started" in path.read_text() for path in logs.values()):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        # 1. while the workers idle in receive (the PostgreSQL queue is in the database too)
        proxy.cut()
        run_id, _ = _seed_jira_run(platform, jira_source, mode="incremental")
        time.sleep(2)
        assert all(p.poll() is None for p in procs), "a worker exited during the idle outage"
        proxy.restore()

        def loaded() -> int:
            with platform.factory() as s:
                return int(
                    s.scalar(
                        select(func.count())
                        .select_from(LoadBatch)
                        .where(LoadBatch.run_id == run_id, LoadBatch.loaded_at.is_not(None))
                    )
                    or 0
                )

        deadline = time.monotonic() + 30
        while loaded() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loaded() >= 1, "the workers should be under way before the outage"
        # 2. in the middle of the run
        proxy.cut()
        time.sleep(3)
        assert all(p.poll() is None for p in procs), "a worker exited during the outage"
        proxy.restore()
        deadline = time.monotonic() + 60
        while platform.run(run_id).phase == "Running" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(p.poll() is None for p in procs), "a worker exited after the outage"
    finally:
        stop_workers(procs)
        proxy.close()
    run = platform.run(run_id)
    assert run.phase == "Succeeded", run.error
    assert platform.queue.dead_letters(Stage.TRANSFORM) == []
    assert platform.queue.dead_letters(Stage.LOAD) == []
    with platform.factory() as s:
        assert (
            s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
            == 33
        )
        assert counts(s, run_id)["issues"]["loaded"] == 33  # not one record counted twice
    text = "".join(path.read_text(errors="replace") for path in logs.values())
    assert "queue unavailable" in text and "retrying in" in text, text[-2000:]
