"""The local controller: the reconcile and scaling cores carried out with database rows and processes.

One pass (`tick`) does what the kopf operator's handlers and timers do on Kubernetes:
settle exited run processes (retry or fail through the core), verify Integrations whose spec or
Secret changed (or every few minutes), reconcile every EtlJob and carry out its decisions in
order, keep one `quarry extract --run-id N` (or `quarry retransform --run-id N`) per active run,
and size the transform/load worker processes from queue depth with the same scaler as the operator.

Only one controller may act on a database at a time: it holds a PostgreSQL advisory lock on a
connection of its own, which also LISTENs for resource changes so `quarry apply` and `quarry run`
wake it at once instead of at the next poll.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from quarry_core.budget import requests_per_hour, take_one_request
from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlJob, EtlRun, Integration, Secret
from quarry_core.db.tenancy import platform_sessions
from quarry_core.errors import FatalError
from quarry_core.exit_codes import EXIT_FATAL
from quarry_core.integration_check import CheckResult, check_integration, status_after_check, view_of
from quarry_core.queue.base import QueueBackend
from quarry_core.queue.consumer import describe, is_outage
from quarry_core.queue.factory import open_queue
from quarry_core.reconcile import (
    CancelRun,
    Decision,
    FailRun,
    IntegrationView,
    JobView,
    Retransform,
    RetryRun,
    StartRun,
    UpdateStatus,
)
from quarry_core.replay import replay
from quarry_core.resources import (
    EtlJobSpec,
    EtlJobStatus,
    IntegrationSpec,
    IntegrationStatus,
    WorkerPoolSettings,
    WorkersStatus,
    WorkerStatus,
)
from quarry_core.run_actions import (
    cancel_run,
    create_run_for,
    fail_run,
    load_run_views,
    reconcile_job,
    report_attempt_failure,
    retry_run,
)
from quarry_core.scaling import QueueObservation, ScalerState, decide_replicas, worker_status
from quarry_core.secrets import resolve_credentials
from quarry_core.stalls import fail_stalled_runs
from quarry_core.states import ACTIVE_RUN_PHASES, IntegrationPhase, RunPhase, RunTrigger, Stage
from quarry_core.store import NOTIFY_CHANNEL
from quarry_local.processes import QUARRY, Child, Supervisor, describe_exit
from quarry_local.settings import LocalSettings

log = logging.getLogger(__name__)

LOCK_KEY = 7_263_013  # one controller per database (migrate uses 7_263_011, run completion 7_263_012)
WORKER_STAGES = (Stage.TRANSFORM, Stage.LOAD)
EMBED_KEY = "worker/embed"
STANDBY_KEY = "standby/extract"
_QUICK_EXIT_SECONDS = 10.0
_OUTAGE_BACKOFF_CAP = 5.0  # a controller back within seconds of its database, not half a minute
# A worker that cannot start while the broker or database is away starts within this long of its
# return; a crash loop still costs only a start every 10 s.
_CRASH_BACKOFF_CAP = 10.0

RECONCILES = Counter("quarry_local_reconciles_total", "EtlJob reconciles by the local controller")
TICK_SECONDS = Histogram("quarry_local_tick_seconds", "Duration of one controller pass")
RUN_PROCESSES = Gauge("quarry_local_run_processes", "Extract/retransform processes running")
WORKER_PROCESSES = Gauge("quarry_local_worker_processes", "Worker processes running", ["stage"])
DESIRED_WORKERS = Gauge("quarry_local_desired_workers", "Worker processes the scaler wants", ["stage"])
QUEUE_DEPTH = Gauge("quarry_queue_depth", "Ready + unacked messages, as the scaler read it", ["stage"])
LEADER = Gauge("quarry_local_controller_leader", "1 while this process holds the controller lock")
PROCESS_EXITS = Counter("quarry_local_process_exits_total", "Child process exits", ["role", "outcome"])


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Commands:
    """How run and worker processes are started (tests substitute small scripts)."""

    quarry: tuple[str, ...] = QUARRY
    embed: bool = True  # tests that substitute scripts switch the embed worker off

    def extract(self, run_id: int) -> list[str]:
        return [*self.quarry, "extract", "--run-id", str(run_id)]

    def worker(self, stage: Stage) -> list[str]:
        return [*self.quarry, "worker", stage.value]

    def embedder(self) -> list[str]:
        return [*self.quarry, "worker", "embed"]

    def standby_extract(self) -> list[str]:
        return [*self.quarry, "extract", "--standby"]


# --- pure helpers ------------------------------------------------------------------------------


def merged_pool(pools: Sequence[WorkerPoolSettings], cap: int) -> WorkerPoolSettings:
    """One local pool serves every job's messages, so it takes the most generous of their settings."""
    if not pools:
        default = WorkerPoolSettings()
        capped = {"max_replicas": min(default.max_replicas, cap), "fallback_replicas": min(1, cap)}
        return default.model_copy(update=capped)
    max_replicas = min(max(p.max_replicas for p in pools), cap)
    return WorkerPoolSettings(
        min_replicas=min(max(p.min_replicas for p in pools), max_replicas),
        max_replicas=max_replicas,
        target_per_replica=min(p.target_per_replica for p in pools),
        activation=min(p.activation for p in pools),
        cooldown_seconds=max(p.cooldown_seconds for p in pools),
        polling_seconds=min(p.polling_seconds for p in pools),
        stabilization_seconds=max(p.stabilization_seconds for p in pools),
        failure_threshold=min(p.failure_threshold for p in pools),
        fallback_replicas=min(max(p.fallback_replicas for p in pools), max_replicas),
    )


def integration_view(row: Integration | None) -> IntegrationView | None:
    if row is None:
        return None
    return view_of(row.name, row.type, IntegrationStatus.model_validate(row.status or {}))


def check_due(
    status: IntegrationStatus,
    generation: int,
    secret_changed: bool,
    now: datetime,
    settings: LocalSettings,
) -> bool:
    last = status.last_check_time
    if last is None or status.observed_generation != generation or secret_changed:
        return True
    every = (
        settings.integration_recheck_seconds
        if status.phase == IntegrationPhase.READY
        else settings.integration_error_recheck_seconds
    )
    return now - last >= timedelta(seconds=every)


# --- the controller ----------------------------------------------------------------------------

ACTIVE_POLL_SECONDS = 1  # queue depth polling while a run is active (jobs may ask for faster)


@dataclass
class _Pool:
    state: ScalerState = field(default_factory=ScalerState)
    desired: int = 0
    last_poll: datetime | None = None
    status: WorkerStatus | None = None
    serial: int = 0
    restart_after: float = 0.0
    crash_backoff: float = 1.0
    activated_at: float | None = None  # monotonic time the pool last went from 0 to >0 (bench)


class Controller:
    def __init__(
        self,
        settings: LocalSettings,
        engine: Engine,
        supervisor: Supervisor,
        commands: Commands | None = None,
        checker: Callable[[IntegrationSpec, dict[str, str], float], CheckResult] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = platform_sessions(engine)
        self.supervisor = supervisor
        self.commands = commands or Commands()
        self.checker = checker or partial(check_integration, allow_private=settings.egress_allow_private)
        self.clock = clock
        self.pools = {stage: _Pool() for stage in WORKER_STAGES}
        self.finished_ok: set[int] = set()  # runs whose process exited 0 in this controller's life
        self.events: list[tuple[float, str, str]] = []  # (monotonic, what, detail) for the bench
        self._queue: QueueBackend | None = None
        self._lock_conn: Any = None
        self._wake = False
        self._completer = _load_completer()
        self._secrets_seen: dict[int, datetime | None] = {}
        self._embed_restart_after = 0.0
        self._standby_restart_after = 0.0
        self._next_stall_sweep = 0.0
        self._runs_active = False

    # -- leadership ----------------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take the controller lock if no other controller holds it (non-blocking)."""
        if self._lock_conn is not None:
            return True
        raw = self.engine.raw_connection()
        conn: Any = raw.dbapi_connection  # psycopg2: LISTEN/NOTIFY needs the driver's own API
        assert conn is not None
        raw.detach()  # a connection of its own: the lock lives exactly as long as it does
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,))
            row = cur.fetchone()
            if not row or not row[0]:
                conn.close()
                return False
            cur.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self._lock_conn = conn
        LEADER.set(1)
        log.info("controller lock acquired")
        return True

    def release(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken is as good as closed
                conn.close()  # closing the session releases the advisory lock
        LEADER.set(0)

    @property
    def leader(self) -> bool:
        return self._lock_conn is not None

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout`; True when a resource change woke us."""
        conn = self._lock_conn
        if conn is None:
            time.sleep(timeout)
            return False
        try:
            if not conn.notifies:
                select.select([conn], [], [], max(timeout, 0))
            conn.poll()
        except Exception as exc:
            # The children ride out a database outage on their own; `run` takes the lock again and
            # keeps them, or stops them if another controller took it meanwhile.
            log.warning("lost the controller's database connection (%s); taking the lock again", exc)
            self.release()
            return False
        woke = bool(conn.notifies)
        conn.notifies.clear()
        return woke

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event, block_for_lock: bool = True) -> None:
        """Tick until `stop` is set, then stop every child process and release the lock."""
        announced = False
        backoff = 0.5
        try:
            while not stop.is_set():
                try:
                    if not self.leader and not self.try_acquire():
                        if self.supervisor.running():
                            log.warning("another controller took the lock; stopping this one's children")
                            self.supervisor.stop_all(self.settings.stop_grace_seconds)
                        if not block_for_lock:
                            return
                        if not announced:
                            log.warning("another controller holds the lock on this database; waiting")
                            announced = True
                        stop.wait(2.0)
                        continue
                    self.run_until(stop)
                    backoff = 0.5
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    log.warning("database or broker away (%s); retrying in %.1fs", describe(exc), backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, _OUTAGE_BACKOFF_CAP)
        finally:
            self.shutdown()

    def run_until(self, stop: threading.Event | Callable[[], bool]) -> None:
        """Leader loop: full passes when due or woken, child polling in between."""
        done = stop.is_set if isinstance(stop, threading.Event) else stop
        next_tick = 0.0
        while not done() and self.leader:
            now = time.monotonic()
            exited = any(c.poll() is not None for c in self.supervisor.children.values())
            if exited or self._wake or now >= next_tick:
                self._wake = False
                delay = self.tick()
                next_tick = time.monotonic() + delay
            self.supervisor.enforce_deadlines()
            if self.wait(min(0.25, max(next_tick - time.monotonic(), 0))):
                self._wake = True

    def shutdown(self) -> None:
        stopped = self.supervisor.stop_all(self.settings.stop_grace_seconds)
        if stopped:
            log.info("stopped %d child processes", len(stopped))
        if self.leader:
            # Leave the jobs' status showing how their runs ended, not how they were a moment ago.
            try:
                self._complete_runs()
                self._reconcile_jobs(self.clock())
            except Exception:
                log.exception("the last status pass failed")
        if self._queue is not None:
            with contextlib.suppress(Exception):
                self._queue.close()
            self._queue = None
        self.release()
        RUN_PROCESSES.set(0)
        for stage in WORKER_STAGES:
            WORKER_PROCESSES.labels(stage.value).set(0)

    def tick(self) -> float:
        """One pass; returns the seconds until the next pass is due."""
        started = time.monotonic()
        now = self.clock()
        delays = [self.settings.tick_seconds]
        self._settle_exits()
        self._check_integrations(now)
        delays.append(self._scale_workers(now))
        self._ensure_embedder()
        delays += self._reconcile_jobs(now)
        self._ensure_run_processes()
        self._prewarm()
        self._ensure_standby()
        self._complete_runs()
        self._fail_stalled_runs(now)
        TICK_SECONDS.observe(time.monotonic() - started)
        return max(min(delays), 0.05)

    # -- run processes -------------------------------------------------------------------------

    def _settle_exits(self) -> None:
        for child in self.supervisor.reap():
            code = child.exit_code if child.exit_code is not None else -1
            role = child.key.split("/")[0]
            if child.stopping:
                PROCESS_EXITS.labels(role, "stopped").inc()
                continue  # we stopped it: an interrupted run resumes, a worker was scaled down
            if role == "standby":
                PROCESS_EXITS.labels(role, "failed").inc()
                log.warning("the standby extract process %s: %s", describe_exit(code), child.tail(3))
            elif role == "run":
                self._settle_run_exit(child, code)
            else:
                self._settle_worker_exit(child, code)

    def _settle_run_exit(self, child: Child, code: int) -> None:
        run_id = int(child.key.split("/")[1])
        if code == 0:
            PROCESS_EXITS.labels("run", "ok").inc()
            self.finished_ok.add(run_id)
            self.events.append((time.monotonic(), "run-exited", str(run_id)))
            return
        PROCESS_EXITS.labels("run", "fatal" if code == EXIT_FATAL else "failed").inc()
        tail = child.tail(3)
        error = f"{child.argv[-3]} {describe_exit(code)}" + (f": {tail}" if tail else "")
        log.warning("run %d: %s", run_id, error)
        with session_scope(self.sessions) as session:
            run = session.get(EtlRun, run_id)
            if run is None or RunPhase(run.phase) not in ACTIVE_RUN_PHASES:
                return
            if code == EXIT_FATAL:
                # It meant to fail the run itself; make sure the run does not hang if it could not.
                fail_run(session, FailRun(str(run_id), "ExtractFailed", error))
            else:
                report_attempt_failure(session, run_id, error)

    def _settle_worker_exit(self, child: Child, code: int) -> None:
        if child.key == EMBED_KEY:
            PROCESS_EXITS.labels("embed", "ok" if code == 0 else "failed").inc()
            log.warning("%s %s: %s", child.key, describe_exit(code), child.tail(3))
            return  # _ensure_embedder starts it again, at most every 10 s
        stage = Stage(child.key.split("/")[1])
        pool = self.pools[stage]
        PROCESS_EXITS.labels("worker", "ok" if code == 0 else "failed").inc()
        if code != 0:
            log.warning("%s %s: %s", child.key, describe_exit(code), child.tail(3))
        # A process killed by a signal (OOM killer, an operator) was not failing by itself: start
        # it again at once rather than as a crash loop.
        if code >= 0 and time.monotonic() - child.started_at < _QUICK_EXIT_SECONDS:
            # A crash loop (bad configuration, database away): back off like a kubelet does.
            pool.restart_after = time.monotonic() + pool.crash_backoff
            pool.crash_backoff = min(pool.crash_backoff * 2, _CRASH_BACKOFF_CAP)
        else:
            pool.crash_backoff = 1.0

    def _ensure_run_processes(self) -> None:
        with self.sessions() as session:
            rows = session.execute(
                sql_select(
                    EtlRun.id, EtlRun.phase, EtlRun.trigger, EtlRun.attempt_error, EtlRun.extract_finished_at
                ).where(EtlRun.phase.in_([p.value for p in ACTIVE_RUN_PHASES]))
            ).all()
        active = {r.id: r for r in rows}
        self._runs_active = bool(rows)
        for child in self.supervisor.running("run/"):
            run_id = int(child.key.split("/")[1])
            if run_id not in active and not child.stopping:
                self.supervisor.request_stop(child.key)  # cancelled, failed or deleted
        for r in rows:
            key = f"run/{r.id}"
            needs_process = (
                r.phase in (RunPhase.PENDING.value, RunPhase.RUNNING.value)
                and r.attempt_error is None
                and r.extract_finished_at is None
                and r.id not in self.finished_ok
            )
            if not needs_process or key in self.supervisor.children:
                continue
            if r.trigger == RunTrigger.RETRANSFORM.value:
                self._replay(r.id)
                continue
            argv = self.commands.extract(r.id)
            handed = self.supervisor.hand_over(STANDBY_KEY, key, argv, str(r.id), log_name=f"run-{r.id}")
            if handed is None:
                self.supervisor.start(key, argv, log_name=f"run-{r.id}")
            else:
                self._standby_restart_after = 0.0  # its successor may start once the runs are done
            self.events.append((time.monotonic(), "run-started", str(r.id)))
        RUN_PROCESSES.set(len(self.supervisor.running("run/")))

    def _ensure_standby(self) -> None:
        """One extract process loaded and waiting for the next run, started only while no run is
        active (its start-up would take CPU from the run in flight)."""
        if not self.settings.standby_extract or self._runs_active:
            return
        if STANDBY_KEY in self.supervisor.children or time.monotonic() < self._standby_restart_after:
            return
        self.supervisor.start(
            STANDBY_KEY, self.commands.standby_extract(), log_name="extract-standby", stdin_pipe=True
        )
        self._standby_restart_after = time.monotonic() + 10  # a crash loop starts one every 10 s

    def _replay(self, run_id: int) -> None:
        try:
            published = replay(self.sessions, self._open_queue(), run_id)
            log.info("run %d: re-transforming %d stored pages", run_id, published)
        except Exception as exc:
            log.exception("run %d: replaying raw pages failed", run_id)
            with session_scope(self.sessions) as session:
                report_attempt_failure(session, run_id, f"replay failed: {exc}")

    def _open_queue(self) -> QueueBackend:
        if self._queue is None:
            self._queue = open_queue(self.settings)
            self._queue.declare()
        return self._queue

    def _complete_runs(self) -> None:
        if self._completer is None:
            return
        with self.sessions() as session:
            ids = session.scalars(
                sql_select(EtlRun.id).where(
                    EtlRun.phase.in_([p.value for p in ACTIVE_RUN_PHASES]),
                    EtlRun.extract_finished_at.is_not(None) | EtlRun.id.in_(sorted(self.finished_ok) or [0]),
                )
            ).all()
        for run_id in ids:
            if f"run/{run_id}" in self.supervisor.children:
                continue
            try:
                with session_scope(self.sessions) as session:
                    self._completer(session, run_id)
            except Exception:
                log.exception("completing run %d failed", run_id)

    def _fail_stalled_runs(self, now: datetime) -> None:
        if time.monotonic() < self._next_stall_sweep:
            return
        stall_after = self.settings.run_stall_seconds
        self._next_stall_sweep = time.monotonic() + min(30.0, stall_after / 4)
        try:
            with session_scope(self.sessions) as session:
                fail_stalled_runs(session, now, timedelta(seconds=stall_after))
        except Exception:
            log.exception("the stalled-run sweep failed")

    # -- integrations ----------------------------------------------------------------------------

    def _check_in_budget(self, row: Integration) -> bool:
        """The check's request counts in the integration's budget; none left: check on a later tick."""
        limit = requests_per_hour(row.spec, self.settings.default_requests_per_hour)
        wait = take_one_request(self.engine, row.tenant, row.id, limit, self.settings.budget_window_seconds)
        if wait > 0:
            where = f"{row.tenant}/{row.name}"
            log.info("integration %s: check deferred %.0fs by its request budget", where, wait)
        return wait == 0

    def _check_integrations(self, now: datetime) -> None:
        due: list[tuple[int, int, IntegrationSpec, dict[str, str] | CheckResult]] = []
        with self.sessions() as session:
            rows = session.execute(
                sql_select(Integration, Secret.updated_at).outerjoin(
                    Secret,
                    (Secret.tenant == Integration.tenant)
                    & (Secret.name == Integration.spec["credentials"]["secretRef"]["name"].astext),
                )
            ).all()
            for row, secret_updated in rows:
                status = IntegrationStatus.model_validate(row.status or {})
                # Compared with what this controller saw, not with its clock: they may disagree.
                seen = self._secrets_seen.get(row.id, secret_updated)
                self._secrets_seen[row.id] = secret_updated
                changed = seen != secret_updated
                if not check_due(status, row.generation, changed, now, self.settings):
                    continue
                spec = IntegrationSpec.model_validate(row.spec)
                try:
                    creds: dict[str, str] | CheckResult = resolve_credentials(
                        session, self.settings, row.tenant, spec.credentials.secret_ref.name
                    )
                except FatalError as exc:
                    creds = CheckResult(False, "SecretNotFound", str(exc))
                if not isinstance(creds, CheckResult) and not self._check_in_budget(row):
                    continue
                due.append((row.id, row.generation, spec, creds))
        if not due:
            return
        timeout = self.settings.integration_check_timeout

        def probe(item: tuple[int, int, IntegrationSpec, dict[str, str] | CheckResult]) -> CheckResult:
            _, _, spec, creds = item
            return creds if isinstance(creds, CheckResult) else self.checker(spec, creds, timeout)

        with ThreadPoolExecutor(max_workers=min(len(due), 8)) as pool:
            results = list(pool.map(probe, due))
        with session_scope(self.sessions) as session:
            for (row_id, generation, _, _), result in zip(due, results, strict=True):
                checked = session.get(Integration, row_id, with_for_update=True)
                if checked is None:
                    continue
                old = IntegrationStatus.model_validate(checked.status or {})
                new = status_after_check(old, result.ready, result.reason, result.message, generation, now)
                checked.status = new.to_document()
                checked.resource_version += 1
                where = f"{checked.tenant}/{checked.name}"
                log.info("integration %s: %s (%s)", where, result.reason, result.message)

    # -- jobs ------------------------------------------------------------------------------------

    def _reconcile_jobs(self, now: datetime) -> list[float]:
        with self.sessions() as session:
            job_ids = session.scalars(sql_select(EtlJob.id).order_by(EtlJob.id)).all()
        delays = []
        for job_id in job_ids:
            try:
                with session_scope(self.sessions) as session:
                    delay = self._reconcile_job(session, job_id, now)
            except Exception:
                log.exception("reconciling job %d failed", job_id)
                delay = 5.0
            if delay is not None:
                delays.append(delay)
        return delays

    def _reconcile_job(self, session: Session, job_id: int, now: datetime) -> float | None:
        job = session.get(EtlJob, job_id, with_for_update=True)
        if job is None:
            return None
        spec = EtlJobSpec.model_validate(job.spec)
        status = EtlJobStatus.model_validate(job.status or {})
        integration: Integration | None = session.scalar(
            sql_select(Integration).where(
                Integration.tenant == job.tenant, Integration.name == job.integration_name
            )
        )
        view = JobView(job.tenant, job.name, spec, job.generation, status)
        runs = load_run_views(session, job.id)
        result = reconcile_job(session, view, integration_view(integration), runs, now)
        RECONCILES.inc()
        new_status = status
        for decision in result.decisions:
            new_status = self._carry_out(session, job, integration, spec, decision) or new_status
        new_status = new_status.model_copy(update={"workers": self._workers_status()})
        if new_status != status:
            job.status = new_status.to_document()
            job.resource_version += 1
        return result.requeue_after

    def _carry_out(
        self,
        session: Session,
        job: EtlJob,
        integration: Integration | None,
        spec: EtlJobSpec,
        decision: Decision,
    ) -> EtlJobStatus | None:
        if isinstance(decision, StartRun | Retransform):
            assert integration is not None  # the core starts nothing without a ready integration
            run = create_run_for(session, job, integration, decision, spec.retry.max_attempts)
            log.info("job %s/%s: run %d created (%s)", job.tenant, job.name, run.id, run.trigger)
            self.events.append((time.monotonic(), "run-created", str(run.id)))
        elif isinstance(decision, RetryRun):
            retry_run(session, decision)
            self.finished_ok.discard(int(decision.run_id))
            log.info("run %s: retrying as attempt %d", decision.run_id, decision.attempt)
        elif isinstance(decision, FailRun):
            fail_run(session, decision)
            log.warning("run %s failed: %s", decision.run_id, decision.message)
        elif isinstance(decision, CancelRun):
            cancel_run(session, decision)
            log.info("run %s cancelled (%s)", decision.run_id, decision.reason)
        elif isinstance(decision, UpdateStatus):
            return decision.status
        return None

    # -- workers ---------------------------------------------------------------------------------

    def _pool_settings(self) -> dict[Stage, WorkerPoolSettings]:
        with self.sessions() as session:
            specs = session.scalars(sql_select(EtlJob.spec)).all()
        parsed = [EtlJobSpec.model_validate(s) for s in specs]
        live = [s for s in parsed if not s.suspend]
        cap = self.settings.max_workers_per_stage
        return {
            Stage.TRANSFORM: merged_pool([s.workers.transform for s in live], cap),
            Stage.LOAD: merged_pool([s.workers.load for s in live], cap),
        }

    def _ensure_embedder(self) -> None:
        """One embed worker, always: vectors catch up off the critical path of runs.

        One, because Qdrant local mode admits a single client per directory; it idles cheaply.
        """
        if os.environ.get("QUARRY_EMBEDDER") == "off" or not self.commands.embed:
            return
        if self.supervisor.running(EMBED_KEY) or time.monotonic() < self._embed_restart_after:
            return
        # Lowest CPU priority: on a small machine embedding (Qdrant local mode writes every point
        # to SQLite) would otherwise take a third of the CPU from the runs' extract and workers.
        self.supervisor.start(EMBED_KEY, self.commands.embedder(), log_name="worker-embed", nice=19)
        # A crash-looping embedder must not spin: try again at most every 10 s.
        self._embed_restart_after = time.monotonic() + 10

    def _observe(self, stage: Stage) -> QueueObservation:
        try:
            return QueueObservation(self._open_queue().depth(stage).total)
        except Exception as exc:  # any failed read counts toward the fallback
            log.warning("reading the %s queue depth failed: %s", stage, exc)
            if self._queue is not None:
                with contextlib.suppress(Exception):
                    self._queue.close()
            self._queue = None
            return QueueObservation.failed(str(exc))

    def _scale_workers(self, now: datetime) -> float:
        settings = self._pool_settings()
        delays = []
        for stage, pool in self.pools.items():
            pool_settings = settings[stage]
            # Due by the current settings: a job asking for faster polling takes effect at once.
            # While a run is active its pages arrive now: poll at least every second.
            polling = pool_settings.polling_seconds
            every = timedelta(seconds=min(polling, ACTIVE_POLL_SECONDS) if self._runs_active else polling)
            if pool.last_poll is None or now >= pool.last_poll + every:
                pool.last_poll = now
                observation = self._observe(stage)
                decision = decide_replicas(pool_settings, pool.state, observation, now)
                pool.state = decision.state
                if pool.desired == 0 and decision.replicas > 0:
                    pool.activated_at = time.monotonic()
                    self.events.append((pool.activated_at, "pool-activated", stage.value))
                pool.desired = max(decision.replicas, self._floor())
                pool.status = worker_status(decision)
                if observation.depth is not None:
                    QUEUE_DEPTH.labels(stage.value).set(observation.depth)
                DESIRED_WORKERS.labels(stage.value).set(pool.desired)
            self._converge(stage, pool)
            assert pool.last_poll is not None
            delays.append((pool.last_poll + every - now).total_seconds())
        return min(delays)

    def _floor(self) -> int:
        """The warm workers, and one worker per stage while a run is active: its pages come within
        seconds, and a worker started from zero by the queue depth alone would wait for the next
        poll and its start-up."""
        warm = min(self.settings.warm_workers, self.settings.max_workers_per_stage)
        return max(warm, 1 if self._runs_active else 0)

    def _prewarm(self) -> None:
        """Start the stages' first workers together with a run's extract process."""
        for stage, pool in self.pools.items():
            if pool.desired < self._floor():
                pool.desired = self._floor()
                self._converge(stage, pool)

    def _converge(self, stage: Stage, pool: _Pool) -> None:
        prefix = f"worker/{stage.value}/"
        alive = [c for c in self.supervisor.running(prefix) if not c.stopping]
        if len(alive) < pool.desired and time.monotonic() >= pool.restart_after:
            for _ in range(pool.desired - len(alive)):
                pool.serial += 1
                key = f"{prefix}{pool.serial}"
                self.supervisor.start(key, self.commands.worker(stage), log_name=f"worker-{stage.value}")
                self.events.append((time.monotonic(), "worker-started", stage.value))
        elif len(alive) > pool.desired:
            newest_first = sorted(alive, key=lambda c: int(c.key.rsplit("/", 1)[1]), reverse=True)
            for child in newest_first[: len(alive) - pool.desired]:
                self.supervisor.request_stop(child.key)
        running = [c for c in self.supervisor.running(prefix) if not c.stopping]
        WORKER_PROCESSES.labels(stage.value).set(len(running))
        if pool.status is not None:
            pool.status = pool.status.model_copy(update={"replicas": len(running)})

    def _workers_status(self) -> WorkersStatus | None:
        transform, load = self.pools[Stage.TRANSFORM].status, self.pools[Stage.LOAD].status
        if transform is None and load is None:
            return None
        return WorkersStatus(transform=transform, load=load)


def _load_completer() -> Callable[[Session, int], object] | None:
    """The workers' run completion, when that package is installed in this checkout."""
    try:
        from quarry_core.completion import complete_if_done
    except ImportError:
        return None
    fn: Callable[[Session, int], object] = complete_if_done
    return fn


def child_environment(settings: LocalSettings) -> dict[str, str]:
    """What every child needs to find the same database, queue and data directory as this process."""
    from quarry_core.db.engine import database_url

    env = {"DATABASE_URL": database_url(settings), "QUARRY_DATA_DIR": str(settings.data_dir)}
    if settings.amqp_url:
        env["AMQP_URL"] = settings.amqp_url.get_secret_value()
    env["QUARRY_QUEUE_PREFIX"] = settings.queue_prefix
    env["QUARRY_EGRESS_ALLOW_PRIVATE"] = "true" if settings.egress_allow_private else "false"
    return env


class ControllerThread:
    """The controller on a thread of its own (for `quarry up` and `quarry run`); children die with it."""

    def __init__(self, settings: LocalSettings, engine: Engine, commands: Commands | None = None) -> None:
        os.environ.pop("QUARRY_HEALTH_PORT", None)  # many workers cannot share one health port
        supervisor = Supervisor(child_environment(settings), settings.log_dir, settings.stop_grace_seconds)
        self.controller = Controller(settings, engine, supervisor, commands)
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self, wait_for_lock: bool = False) -> bool:
        """Start if this process can lead (or, with `wait_for_lock`, start waiting to lead)."""
        if not wait_for_lock and not self.controller.try_acquire():
            return False
        self.thread = threading.Thread(target=self._run, name="quarry-controller", daemon=True)
        self.thread.start()
        return True

    def _run(self) -> None:
        try:
            self.controller.run(self.stop_event)
        except BaseException as exc:
            self.error = exc
            log.exception("the controller stopped with an error")

    def stop(self, timeout: float | None = None) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def controller_running(engine: Engine) -> bool:
    """Whether some process holds the controller lock on this database."""
    from sqlalchemy import text

    with engine.connect() as conn:
        held = conn.execute(
            text(
                "select count(*) from pg_locks where locktype = 'advisory' and classid = 0 and objid = :k "
                "and objsubid = 1 and granted "
                "and database = (select oid from pg_database where datname = current_database())"
            ),
            {"k": LOCK_KEY},
        ).scalar_one()
    return bool(held)
