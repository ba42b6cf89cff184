"""SIGKILL a real `quarry worker load` process mid-run: redelivery loses nothing, duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from quarry_core.db.models import LoadBatch, WorkItem
from quarry_core.runs import counts
from tests.workers.conftest import Platform
from tests.workers.fixtures import JiraSource
from tests.workers.test_pipeline import _seed_jira_run


def test_sigkill_load_worker_mid_run(
    platform: Platform,
    jira_source: JiraSource,
    backend: str,
    request: pytest.FixtureRequest,
    queue_prefix: str,
) -> None:
    run_id, _ = _seed_jira_run(platform, jira_source, mode="incremental")
    transform, _load = platform.consumers()
    while transform.run_once():
        pass
    with platform.factory() as s:
        total = s.scalar(select(func.count()).select_from(LoadBatch).where(LoadBatch.run_id == run_id))
    assert total and total > 4
    env = {
        **os.environ,
        "DATABASE_URL": request.getfixturevalue("database_url"),
        "QUARRY_QUEUE_PREFIX": queue_prefix,
        "QUARRY_EMBEDDER": "off",
        "QUARRY_LOAD_BATCH_SIZE": "1",
        "QUARRY_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "2",
        "QUARRY_QUEUE_MAX_ATTEMPTS": "2",
        "QUARRY_QUEUE_RETRY_DELAY_SECONDS": "0.1",
    }
    env.pop("AMQP_URL", None)
    if backend == "rabbit":
        env["AMQP_URL"] = request.getfixturevalue("amqp_url")
    proc = subprocess.Popen(
        [sys.executable, "-m", "quarry_cli.main", "worker", "load"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        loaded = 0
        while time.monotonic() < deadline:
            with platform.factory() as s:
                loaded = (
                    s.scalar(
                        select(func.count())
                        .select_from(LoadBatch)
                        .where(LoadBatch.run_id == run_id, LoadBatch.loaded_at.is_not(None))
                    )
                    or 0
                )
            if loaded >= 2:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert 0 < loaded < total, "the kill should land while batches remain"
    time.sleep(2.5)  # the PostgreSQL queue's visibility timeout of the killed worker's message
    platform.drain()
    assert platform.run(run_id).phase == "Succeeded"
    with platform.factory() as s:
        assert (
            s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
            == 33
        )
        assert counts(s, run_id)["issues"]["loaded"] == 33  # not one record counted twice
