"""A process that starts while the broker (or the database) is away waits for it, then works:
no extraction attempt is spent and no worker exits. Real `quarry extract` and `quarry worker`
processes reach the shared services through TCP proxies (127.0.0.1 only) that are cut before
they start, never the services themselves."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import Engine, func, select

from quarry_core.db.models import WorkItem
from quarry_core.messages import TransformMessage
from quarry_core.queue.rabbit import RabbitQueue
from quarry_core.states import Stage
from quarry_extractor.runner import EXIT_OK
from quarry_sandbox.jira_data import JiraDataset
from tests.extractor.conftest import JIRA_CREDS, MakeRun, jira_spec, raw_pages, run_row
from tests.extractor.test_resume_and_budget import JiraFactory, assert_every_issue_once, start_extract
from tests.support.proxy import Proxy
from tests.support.workers import start_workers, stop_workers
from tests.workers.conftest import Platform
from tests.workers.fixtures import JiraSource
from tests.workers.test_pipeline import _seed_jira_run

CUT_SECONDS = 4.0


def through(url: str, proxy: Proxy) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


def proxy_to(url: str, default_port: int) -> Iterator[Proxy]:
    parts = urlsplit(url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or default_port))
    yield proxy
    proxy.close()


@pytest.fixture
def broker_proxy(amqp_url: str) -> Iterator[Proxy]:
    yield from proxy_to(amqp_url, 5672)


@pytest.fixture
def db_proxy(database_url: str) -> Iterator[Proxy]:
    yield from proxy_to(database_url, 5432)


def jira_run(make_run: MakeRun, jira_factory: JiraFactory, issues: int, seed: int) -> tuple[JiraDataset, int]:
    """A run of one Jira project's issues against an imitation server."""
    ds = JiraDataset.synthetic(issues, projects=1, seed=seed)
    server = jira_factory(ds)
    return ds, make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])


def management_url(amqp_url: str) -> str:
    # Lanes on: the management API stays direct, only AMQP is cut.
    return f"http://{urlsplit(amqp_url).hostname or '127.0.0.1'}:15672"


def test_an_extract_process_started_during_a_broker_outage_spends_no_attempt(
    engine: Engine,
    database_url: str,
    amqp_url: str,
    queue_prefix: str,
    make_run: MakeRun,
    jira_factory: JiraFactory,
    broker_proxy: Proxy,
) -> None:
    ds, run_id = jira_run(make_run, jira_factory, 120, seed=15)
    broker_proxy.cut()  # the broker "restarts" before the process starts
    proc = start_extract(
        database_url,
        queue_prefix,
        run_id,
        AMQP_URL=through(amqp_url, broker_proxy),
        RABBITMQ_MANAGEMENT_URL=management_url(amqp_url),
    )
    direct = RabbitQueue(amqp_url, prefix=queue_prefix)
    try:
        time.sleep(CUT_SECONDS)
        assert proc.poll() is None, proc.communicate()[0].decode()  # waiting, not failed
        broker_proxy.restore()
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == EXIT_OK, out
        assert "unavailable" in out and "retrying in" in out, out  # it did wait for the broker
        run = run_row(engine, run_id)
        assert run.attempt == 1 and run.attempt_error is None and run.error is None
        assert run.extract_finished_at is not None
        assert_every_issue_once(engine, run_id, ds)
        # Every stored page was published once the broker came back (a new lane is listed by
        # the management API within seconds).
        pages = sorted(p.id for p in raw_pages(engine, run_id))
        published: set[int] = set()
        deadline = time.monotonic() + 30
        while published != set(pages) and time.monotonic() < deadline:
            for d in direct.receive(Stage.TRANSFORM, 50, timeout=1.0):
                published.add(TransformMessage.model_validate_json(d.body).raw_id)
                direct.ack(d)
        assert sorted(published) == pages
    finally:
        if proc.poll() is None:
            proc.kill()
        direct.delete_topology()
        direct.close()


def test_an_extract_process_started_during_a_database_outage_spends_no_attempt(
    engine: Engine,
    database_url: str,
    queue_prefix: str,
    make_run: MakeRun,
    jira_factory: JiraFactory,
    db_proxy: Proxy,
) -> None:
    ds, run_id = jira_run(make_run, jira_factory, 60, seed=16)
    db_proxy.cut()  # the database "restarts" before the process starts
    proc = start_extract(through(database_url, db_proxy), queue_prefix, run_id)
    try:
        time.sleep(CUT_SECONDS)
        assert proc.poll() is None, proc.communicate()[0].decode()  # waiting, not failed
        db_proxy.restore()
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == EXIT_OK, out
        assert "connecting to the database: unavailable" in out, out  # it did wait
        run = run_row(engine, run_id)
        assert run.attempt == 1 and run.attempt_error is None and run.error is None
        assert run.extract_finished_at is not None
        assert_every_issue_once(engine, run_id, ds)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("backend", ["rabbit"])
def test_workers_started_during_an_outage_wait_and_then_consume(
    platform: Platform,
    jira_source: JiraSource,
    database_url: str,
    amqp_url: str,
    queue_prefix: str,
    broker_proxy: Proxy,
    db_proxy: Proxy,
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": through(database_url, db_proxy),
        "AMQP_URL": through(amqp_url, broker_proxy),
        "RABBITMQ_MANAGEMENT_URL": management_url(amqp_url),
        "QUARRY_QUEUE_PREFIX": queue_prefix,
        "QUARRY_EMBEDDER": "off",
        "QUARRY_QUEUE_MAX_ATTEMPTS": "2",
        "QUARRY_QUEUE_RETRY_DELAY_SECONDS": "0.1",
    }
    broker_proxy.cut()
    db_proxy.cut()
    procs, logs = start_workers(env, tmp_path)
    try:
        time.sleep(CUT_SECONDS)
        assert all(p.poll() is None for p in procs), "a worker exited during the outage"
        assert not any("worker started" in path.read_text() for path in logs.values())
        db_proxy.restore()  # the database first: then the workers wait for the broker
        deadline = time.monotonic() + 20
        while not all(
            f"{kind} worker: opening the queue: unavailable" in logs[kind].read_text() for kind in logs
        ):
            assert time.monotonic() < deadline, "the workers did not go on to wait for the broker"
            time.sleep(0.1)
        assert all(p.poll() is None for p in procs), "a worker exited while the broker was away"
        broker_proxy.restore()
        run_id, _ = _seed_jira_run(platform, jira_source, mode="incremental")
        deadline = time.monotonic() + 60
        while platform.run(run_id).phase == "Running" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(p.poll() is None for p in procs), "a worker exited after the outage"
    finally:
        stop_workers(procs)
    run = platform.run(run_id)
    assert run.phase == "Succeeded", run.error
    with platform.factory() as s:
        count = s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
    assert count == len(jira_source.issues)
    text = "".join(path.read_text(errors="replace") for path in logs.values())
    for kind in ("transform", "load"):
        assert f"{kind} worker: connecting to the database: unavailable" in text, text[-3000:]
    assert all(p.returncode == 0 for p in procs), [p.returncode for p in procs]
