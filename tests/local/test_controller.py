"""The local controller carries out the core's decisions with real rows and real (stand-in) processes.

The run and worker processes are small scripts standing in for `quarry extract` and `quarry worker`,
so these tests pin the controller's side of the contract: exit 0 / 1 / 3, SIGTERM on cancel,
workers started and stopped by queue depth, schedules firing at their tick.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from quarry_core.budget import PgBudget
from quarry_core.db.models import EtlJob, EtlRun, Integration
from quarry_core.integration_check import CheckResult
from quarry_core.queue.pg import PgQueue
from quarry_core.states import Stage
from quarry_core.store import apply_text
from quarry_local.controller import Commands, Controller, merged_pool
from quarry_local.processes import Supervisor
from quarry_local.settings import LocalSettings
from tests.support.services import temporary_database

FAKE = """
import os, signal, sys, time
from datetime import datetime, timezone
from sqlalchemy import create_engine, text
mode = os.environ["FAKE_MODE"]
if sys.argv[1] == "worker":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(120)
if sys.argv[2] == "--standby":  # as `quarry extract --standby`: the run id (and log file) on stdin
    line = sys.stdin.readline().split()
    if not line:
        sys.exit(0)
    run_id = int(line[0])
    if len(line) > 1:
        log = os.open(line[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(log, 1)
        print(f"extracting run {run_id} in pid {os.getpid()}", flush=True)
else:
    run_id = int(sys.argv[3])
engine = create_engine(os.environ["DATABASE_URL"])
def sql(q, **kw):
    with engine.begin() as c:
        c.execute(text(q), {"id": run_id, **kw})
if mode == "fail":
    print("HTTP 500 from the source"); sys.exit(1)
if mode == "fatal":
    print("401: bad credentials"); sys.exit(3)
sql("update etl_runs set phase = 'Running', started_at = now() where id = :id")
if mode == "hang":
    time.sleep(120)
sql("update etl_runs set extract_finished_at = now() where id = :id")
"""

JOB = """
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}}}
stringData: {{email: a@b.c, token: t}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: src, namespace: {ns}}}
spec:
  type: jira
  baseUrl: http://jira.invalid
  credentials: {{secretRef: {{name: creds}}}}
  scope: {{projects: [ENG]}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: sync, namespace: {ns}}}
spec:
  integrationRef: {{name: src}}
  entities: [issues]
  retry: {{maxAttempts: 2, backoffSeconds: 30}}
  workers:
    transform: {{pollingSeconds: 1, activation: 2, cooldownSeconds: 5, stabilizationSeconds: 0}}
    load: {{pollingSeconds: 1, activation: 2, cooldownSeconds: 5, stabilizationSeconds: 0}}
{extra}
"""


@pytest.fixture(scope="module")
def db_url() -> Iterator[str]:
    # A database of its own: the controller acts on every job it finds.
    with temporary_database("quarry_local") as url:
        yield url


@pytest.fixture(scope="module")
def db(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


class Harness:
    def __init__(self, db_url: str, engine: Engine, tmp: Path, mode: str, **settings: Any) -> None:
        fake = tmp / "fake_quarry.py"
        fake.write_text(FAKE)
        self.now = datetime.now(UTC)
        self.settings = LocalSettings(
            database_url=db_url,
            data_dir=tmp,
            secret_key=Fernet.generate_key().decode(),
            queue_prefix=f"qt{uuid.uuid4().hex[:8]}",
            QUARRY_EMBEDDER="off",
            **{"QUARRY_WARM_WORKERS": 0, **settings},  # these tests watch the pools scale from zero
        )
        self.supervisor = Supervisor(
            {"DATABASE_URL": db_url, "FAKE_MODE": mode}, tmp / "logs", grace_seconds=3
        )
        self.checks: list[str] = []
        self.controller = Controller(
            self.settings,
            engine,
            self.supervisor,
            Commands(quarry=(sys.executable, str(fake)), embed=False),
            checker=self.check,
            clock=lambda: self.now,
        )
        self.engine = engine
        self.ns = f"t-{uuid.uuid4().hex[:8]}"

    def check(self, spec: Any, creds: dict[str, str], timeout: float) -> CheckResult:
        self.checks.append(spec.base_url)
        return CheckResult(True, "Verified", "ok")

    def apply(self, extra: str = "") -> None:
        with Session(self.engine) as s, s.begin():
            apply_text(s, self.settings, JOB.format(ns=self.ns, extra=extra))

    def runs(self) -> list[EtlRun]:
        with Session(self.engine) as s:
            return list(s.scalars(select(EtlRun).where(EtlRun.tenant == self.ns).order_by(EtlRun.id)))

    def job_status(self) -> dict[str, Any]:
        with Session(self.engine) as s:
            status = s.scalar(select(EtlJob.status).where(EtlJob.tenant == self.ns))
            return status or {}

    def wait_exit(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while any(c.poll() is None for c in self.supervisor.children.values() if c.key.startswith("run/")):
            assert time.monotonic() < deadline, "run process did not exit"
            time.sleep(0.05)

    def close(self) -> None:
        self.controller.shutdown()
        with Session(self.engine) as s, s.begin():
            for job in s.scalars(select(EtlJob).where(EtlJob.tenant == self.ns)):
                s.delete(job)


@pytest.fixture
def harness(request: pytest.FixtureRequest, db_url: str, db: Engine, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(db_url, db, tmp_path, getattr(request, "param", "ok"))
    yield h
    h.close()


def test_integration_checks_count_in_its_request_budget(harness: Harness) -> None:
    secret, integration_doc, _job = JOB.format(ns=harness.ns, extra="").split("\n---\n")
    integration_only = f"{secret}\n---\n{integration_doc}\n"
    with Session(harness.engine) as s, s.begin():
        apply_text(s, harness.settings, integration_only + "  budget: {requestsPerHour: 3}\n")
    with Session(harness.engine) as s:
        integration = s.scalar(select(Integration).where(Integration.tenant == harness.ns))
        assert integration is not None and integration.spec["budget"] == {"requestsPerHour": 3}
    # An extract run of this integration holds 2 of its 3 requests of this hour.
    assert PgBudget(harness.engine, harness.ns, integration.id, 3, block=2).reserve() == 0
    for _ in range(4):  # a check, then re-checks every 300 s: only one request is left for them
        harness.controller.tick()
        harness.now += timedelta(seconds=harness.settings.integration_recheck_seconds + 1)
    assert harness.checks == ["http://jira.invalid"]


def test_create_run_extract_and_complete(harness: Harness) -> None:
    harness.apply()
    harness.controller.tick()
    (run,) = harness.runs()
    assert (run.trigger, run.phase, run.attempt) == ("create", "Pending", 1)
    assert harness.checks == ["http://jira.invalid"]
    (child,) = harness.supervisor.running("run/")
    assert child.argv[-3:] == ("extract", "--run-id", str(run.id))
    with Session(harness.engine) as s:
        integration = s.scalar(select(Integration).where(Integration.tenant == harness.ns))
        assert integration is not None and integration.status["phase"] == "Ready"
    harness.wait_exit()
    harness.controller.tick()  # exit 0: the workers' completion finds nothing left to load
    harness.controller.tick()
    (run,) = harness.runs()
    assert run.phase == "Succeeded"
    status = harness.job_status()
    assert status["phase"] == "Succeeded" and status["lastSuccessfulRun"] == str(run.id)
    assert harness.checks == ["http://jira.invalid"]  # not re-checked while nothing changed


@pytest.mark.parametrize("harness", ["fail"], indirect=True)
def test_failed_attempt_is_retried_after_backoff_then_fails(harness: Harness) -> None:
    harness.apply()
    harness.controller.tick()
    harness.wait_exit()
    harness.controller.tick()
    (run,) = harness.runs()
    assert run.phase == "Running" and "HTTP 500 from the source" in (run.attempt_error or "")
    assert harness.job_status()["message"].startswith("attempt 1 failed")
    assert not harness.supervisor.running("run/")  # waiting out the backoff
    # The failure's time is the database's (real) clock, a moment after the harness's clock began.
    harness.now += timedelta(seconds=40)
    harness.controller.tick()
    (run,) = harness.runs()
    assert (run.phase, run.attempt, run.attempt_error) == ("Pending", 2, None)
    assert len(harness.supervisor.running("run/")) == 1
    harness.wait_exit()
    harness.controller.tick()
    harness.now += timedelta(seconds=120)
    harness.controller.tick()
    (run,) = harness.runs()
    assert run.phase == "Failed" and (run.error or "").startswith("AttemptsExhausted")
    assert harness.job_status()["phase"] == "Failed"


@pytest.mark.parametrize("harness", ["fatal"], indirect=True)
def test_fatal_exit_fails_the_run_at_once(harness: Harness) -> None:
    harness.apply()
    harness.controller.tick()
    harness.wait_exit()
    harness.controller.tick()
    (run,) = harness.runs()
    assert run.phase == "Failed" and "ExtractFailed" in (run.error or "") and run.attempt == 1


@pytest.mark.parametrize("harness", ["hang"], indirect=True)
def test_suspend_cancels_and_stops_the_process(harness: Harness) -> None:
    harness.apply()
    harness.controller.tick()
    (child,) = harness.supervisor.running("run/")
    harness.apply("  suspend: true")
    harness.controller.tick()
    (run,) = harness.runs()
    assert run.phase == "Cancelled"
    assert child.stopping
    assert child.popen.wait(5) is not None
    assert harness.job_status()["phase"] == "Suspended"


def test_schedule_fires_on_its_tick(harness: Harness) -> None:
    base = harness.now.replace(second=0, microsecond=0)
    harness.now = base + timedelta(seconds=10)
    harness.apply('  schedule: "*/5 * * * *"')
    harness.controller.tick()
    harness.wait_exit()
    harness.controller.tick()
    assert [r.trigger for r in harness.runs()] == ["create"]
    minute = base.minute - base.minute % 5
    tick = base.replace(minute=minute) + timedelta(minutes=5)
    harness.now = tick - timedelta(seconds=1)
    harness.controller.tick()
    assert len(harness.runs()) == 1
    assert harness.job_status()["nextScheduleTime"].startswith(tick.strftime("%Y-%m-%dT%H:%M"))
    harness.now = tick + timedelta(milliseconds=500)
    harness.controller.tick()
    runs = harness.runs()
    assert [r.trigger for r in runs] == ["create", "schedule"]
    assert harness.supervisor.running("run/")[0].argv[-1] == str(runs[-1].id)


def finish_run(harness: Harness) -> None:
    """Let the run's process exit and the run complete; the workers it started then stop."""
    harness.wait_exit()
    for _ in range(3):
        harness.now += timedelta(seconds=2)
        harness.controller.tick()
    assert [r.phase for r in harness.runs()] == ["Succeeded"]
    deadline = time.monotonic() + 10
    while harness.supervisor.running("worker/"):
        assert time.monotonic() < deadline, "the run's workers did not stop"
        time.sleep(0.05)


def test_a_run_starts_one_worker_per_stage_with_its_extract_process(harness: Harness) -> None:
    # Activation 2 and an empty queue: the depth alone would start no worker before pages queue
    # up and the next poll sees them; a run's pages come within seconds, so its workers start now.
    harness.apply()
    harness.controller.tick()
    assert harness.supervisor.running("run/")
    workers = harness.supervisor.running("worker/")
    assert sorted(w.argv[-1] for w in workers) == ["load", "transform"]
    finish_run(harness)  # and once the run is done, the queue depth decides again


def test_workers_follow_queue_depth(harness: Harness, db: Engine) -> None:
    harness.apply()
    harness.controller.tick()
    finish_run(harness)
    queue = PgQueue(db, prefix=harness.settings.queue_prefix)
    harness.now += timedelta(seconds=2)
    harness.controller.tick()
    assert not harness.supervisor.running("worker/")  # empty queue: pools at zero
    queue.publish_many(Stage.TRANSFORM, [(f"m{i}", b"{}") for i in range(2)])
    harness.now += timedelta(seconds=2)
    harness.controller.tick()
    assert not harness.supervisor.running("worker/")  # 2 is not above activation 2
    queue.publish_many(Stage.TRANSFORM, [("m3", b"{}")])
    harness.now += timedelta(seconds=2)
    harness.controller.tick()
    (worker,) = harness.supervisor.running("worker/")
    assert worker.argv[-2:] == ("worker", "transform")
    assert harness.job_status()["workers"]["transform"]["queueDepth"] == 3
    queue.purge(Stage.TRANSFORM)
    harness.now += timedelta(seconds=2)
    harness.controller.tick()
    assert not worker.stopping  # cooling down
    harness.now += timedelta(seconds=6)
    harness.controller.tick()
    assert worker.stopping and worker.popen.wait(5) in (0, -15)


def test_merged_pool_takes_the_most_generous_settings() -> None:
    from quarry_core.resources import WorkerPoolSettings

    a = WorkerPoolSettings(max_replicas=2, target_per_replica=50, polling_seconds=30, cooldown_seconds=10)
    b = WorkerPoolSettings(max_replicas=8, target_per_replica=200, polling_seconds=5, min_replicas=1)
    merged = merged_pool([a, b], cap=4)
    assert (merged.max_replicas, merged.min_replicas, merged.target_per_replica) == (4, 1, 50)
    assert (merged.polling_seconds, merged.cooldown_seconds) == (5, 300)
    assert merged_pool([], cap=1).max_replicas == 1


def test_warm_workers_wait_while_idle_and_a_run_takes_the_standby_extract_process(
    db_url: str, db: Engine, tmp_path: Path
) -> None:
    h = Harness(db_url, db, tmp_path, "ok", QUARRY_WARM_WORKERS=1)
    try:
        h.controller.tick()
        assert sorted(w.argv[-1] for w in h.supervisor.running("worker/")) == ["load", "transform"]
        (standby,) = h.supervisor.running("standby/")
        assert standby.argv[-2:] == ("extract", "--standby")
        h.apply()
        h.controller.tick()
        (run,) = h.runs()
        (child,) = h.supervisor.running("run/")
        assert child.pid == standby.pid and child.argv[-2:] == ("--run-id", str(run.id))
        assert not h.supervisor.running("standby/")  # not while the run takes the CPU
        h.wait_exit()
        for _ in range(3):
            h.now += timedelta(seconds=2)
            h.controller.tick()
        assert [r.phase for r in h.runs()] == ["Succeeded"]
        assert (
            f"extracting run {run.id} in pid {standby.pid}"
            in (tmp_path / "logs" / f"run-{run.id}.log").read_text()
        )
        assert len(h.supervisor.running("worker/")) == 2  # still warm once the run is done
        (replacement,) = h.supervisor.running("standby/")
        assert replacement.pid != standby.pid
    finally:
        h.close()
