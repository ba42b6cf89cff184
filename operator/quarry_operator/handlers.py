"""kopf handlers of `quarry operator`: they only feed events to the runtime and wake loops.

- Each EtlJob gets a daemon that reconciles it, then sleeps until its requeue time (the core's
  backoff, the next schedule tick, a refresh while a run is active, or the resync period) or
  until something wakes it: a spec change, its extract Job failing or finishing, its Integration
  being checked. One loop per job means one reconcile per job at a time; a missed event only
  delays the next pass until the resync.
- Each Integration gets a daemon that checks it now and every integrationCheckSeconds.
- Extract Jobs are watched; a failed one reports the attempt's error to its run.
- One scaler task polls the queue depth of each worker Deployment (label `quarry.dev/stage`) in
  the workers namespace every scalePollingSeconds.

Run it with `quarry operator` (or `kopf run -m quarry_operator.handlers`). Progress and the
diff-base live in annotations: the CRD schemas prune unknown status fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import kopf
from prometheus_client import start_http_server

from quarry_core.resources import GROUP, VERSION
from quarry_core.runs import utcnow
from quarry_core.scaling import ScaleReason, worker_status
from quarry_operator import manifests, metrics
from quarry_operator.k8s import ETLJOBS, INTEGRATIONS
from quarry_operator.runtime import Runtime
from quarry_operator.scaler import PollResult, PoolAnnotationError, StageScaler
from quarry_operator.settings import OperatorSettings

FINALIZER = "quarry.dev/operator"
ERROR_RETRY_SECONDS = 5.0
EXTRACT_JOBS = {manifests.LABEL_MANAGED_BY: manifests.MANAGED_BY, manifests.LABEL_COMPONENT: "extract"}
logger = logging.getLogger(__name__)


@dataclass
class Wakeups:
    """One asyncio.Event per object loop, so handlers can wake it."""

    events: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)

    def event(self, key: tuple[str, str]) -> asyncio.Event:
        return self.events.setdefault(key, asyncio.Event())

    def wake(self, key: tuple[str, str]) -> None:
        if key in self.events:
            self.events[key].set()

    def forget(self, key: tuple[str, str]) -> None:
        self.events.pop(key, None)


@dataclass
class State:
    settings: OperatorSettings
    runtime: Runtime
    jobs: Wakeups = field(default_factory=Wakeups)
    integrations: Wakeups = field(default_factory=Wakeups)
    job_integration: dict[tuple[str, str], str] = field(default_factory=dict)
    last_scale_poll: dict[str, float] = field(default_factory=dict)
    scaler_task: asyncio.Task[None] | None = None
    metrics_server: Any = None


def _state(memo: Any) -> State:
    state: State = memo["quarry"]
    return state


async def _pause(wake: asyncio.Event, stopped: kopf.DaemonStopped, delay: float) -> None:
    """Sleep `delay` seconds, or less when woken or stopped."""

    async def until_stopped() -> None:
        await stopped.wait()

    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(until_stopped())]
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _guarded(what: str, call: Awaitable[Any], log: logging.Logger | kopf.Logger) -> tuple[bool, Any]:
    """Run a pass; a failure is logged in one line and retried soon, never ends the loop."""
    try:
        return True, await call
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        metrics.RECONCILE_ERRORS.labels(what).inc()
        log.warning(f"{what} failed, retrying in {ERROR_RETRY_SECONDS:.0f}s: {type(exc).__name__}: {exc}")
        return False, None


# --- start-up and shutdown ------------------------------------------------------------------


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    # The CRD schemas prune unknown status fields: kopf's status-based storage would be lost.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    # pika logs every refused connection with a traceback; the scaler reports it as QueueReadError.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    settings.watching.server_timeout = 300
    settings.execution.max_workers = 20
    config = OperatorSettings()
    runtime = await asyncio.to_thread(Runtime.from_settings, config)
    state = State(config, runtime)
    memo["quarry"] = state
    if config.metrics_port:
        state.metrics_server, _thread = start_http_server(config.metrics_port)
    state.scaler_task = asyncio.create_task(_scale_workers(state), name="quarry-scaler")


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    state = _state(memo)
    if state.scaler_task is not None:
        state.scaler_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.scaler_task
    if state.metrics_server is not None:
        state.metrics_server.shutdown()
    await asyncio.to_thread(state.runtime.close)


@kopf.on.probe(id="scaler")
def scaler_probe(memo: Any, **_: Any) -> dict[str, float]:
    """Seconds since each stage's last scaler poll (shown by the liveness endpoint)."""
    now = time.monotonic()
    return {stage: round(now - at, 1) for stage, at in _state(memo).last_scale_poll.items()}


# --- EtlJobs --------------------------------------------------------------------------------


@kopf.daemon(GROUP, VERSION, ETLJOBS, cancellation_timeout=10)
async def etljob_loop(
    stopped: kopf.DaemonStopped, namespace: str | None, name: str, spec: kopf.Spec, memo: Any,
    logger: kopf.Logger, **_: Any,
) -> None:
    assert namespace is not None  # EtlJobs are namespaced
    state, key = _state(memo), (namespace, name)
    wake = state.jobs.event(key)
    state.runtime.handled_jobs.add(key)
    try:
        while not stopped:
            wake.clear()
            state.job_integration[key] = (spec.get("integrationRef") or {}).get("name", "")
            call = asyncio.to_thread(state.runtime.reconcile_etljob, namespace, name)
            ok, delay = await _guarded("reconcile", call, logger)
            if ok and delay is None:
                return  # the EtlJob is gone or being deleted
            await _pause(wake, stopped, delay if ok else ERROR_RETRY_SECONDS)
    finally:
        state.jobs.forget(key)
        state.job_integration.pop(key, None)
        state.runtime.handled_jobs.discard(key)


@kopf.on.update(GROUP, VERSION, ETLJOBS, field="spec")
def etljob_changed(namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    _state(memo).jobs.wake((namespace or "", name))


@kopf.on.delete(GROUP, VERSION, ETLJOBS)
async def etljob_deleted(
    namespace: str | None, name: str, memo: Any, logger: kopf.Logger, **_: Any
) -> None:
    assert namespace is not None
    await asyncio.to_thread(_state(memo).runtime.delete_etljob, namespace, name)
    logger.info(f"EtlJob {namespace}/{name}: extract Jobs deleted and active runs cancelled")


@kopf.on.event("batch", "v1", "jobs", labels=EXTRACT_JOBS)
async def extract_job_event(
    type: str, body: kopf.Body, namespace: str | None, memo: Any, **_: Any
) -> None:
    if type == "DELETED" or namespace is None or not body.get("status"):
        return
    state = _state(memo)
    key = await asyncio.to_thread(state.runtime.extract_job_changed, namespace, body)
    if key:
        state.jobs.wake(key)


# --- Integrations ---------------------------------------------------------------------------


@kopf.daemon(GROUP, VERSION, INTEGRATIONS, cancellation_timeout=10)
async def integration_loop(
    stopped: kopf.DaemonStopped, namespace: str | None, name: str, memo: Any, logger: kopf.Logger, **_: Any
) -> None:
    assert namespace is not None  # Integrations are namespaced
    state, key = _state(memo), (namespace, name)
    wake = state.integrations.event(key)
    try:
        while not stopped:
            wake.clear()
            call = asyncio.to_thread(state.runtime.check_integration, namespace, name)
            ok, ready = await _guarded("integration-check", call, logger)
            if ok and ready is None:
                return
            for job_key, integration in list(state.job_integration.items()):
                if job_key[0] == namespace and integration == name:
                    state.jobs.wake(job_key)
            delay = state.settings.integration_check_seconds if ok else ERROR_RETRY_SECONDS
            await _pause(wake, stopped, delay)
    finally:
        state.integrations.forget(key)


@kopf.on.update(GROUP, VERSION, INTEGRATIONS, field="spec")
def integration_changed(namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    _state(memo).integrations.wake((namespace or "", name))


# --- worker scaling -------------------------------------------------------------------------


async def _scale_workers(state: State) -> None:
    """Poll every worker Deployment of the workers namespace; one StageScaler per Deployment."""
    config, runtime = state.settings, state.runtime
    scalers: dict[str, StageScaler] = {}
    next_stall_sweep = 0.0
    while True:
        started = time.monotonic()
        if started >= next_stall_sweep:
            next_stall_sweep = started + min(30.0, config.run_stall_seconds / 4)
            await _guarded("the stalled-run sweep", asyncio.to_thread(runtime.fail_stalled_runs), logger)
        try:
            deployments = await asyncio.to_thread(
                runtime.kube.list_deployments, config.workers_namespace, manifests.STAGE_LABEL
            )
        except Exception as exc:
            logger.warning(f"listing worker Deployments failed: {type(exc).__name__}: {exc}")
            deployments = []
        for deployment in deployments:
            name = deployment["metadata"]["name"]
            stage = deployment["metadata"]["labels"][manifests.STAGE_LABEL]
            scaler = scalers.get(name)
            if scaler is None or scaler.stage != stage:
                scaler = scalers[name] = StageScaler(
                    config.workers_namespace, name, stage,
                    read_depth=runtime.read_depth, scale=runtime.kube.scale_deployment,
                    hpa_targets=runtime.kube.hpa_targets, active_pools=runtime.active_pools,
                    pause_annotation=config.pause_annotation,
                )
            try:
                result = await asyncio.to_thread(scaler.poll, deployment, utcnow())
                await asyncio.to_thread(_record, state, name, result)
            except PoolAnnotationError as exc:
                logger.warning(f"Deployment {config.workers_namespace}/{name}: {exc}")
            except Exception as exc:
                where = f"{config.workers_namespace}/{name}"
                logger.warning(f"scaling {where} failed: {type(exc).__name__}: {exc}")
            state.last_scale_poll[stage] = time.monotonic()
        await asyncio.sleep(max(config.scale_polling_seconds - (time.monotonic() - started), 0.05))


def _record(state: State, deployment: str, result: PollResult) -> None:
    """Metrics, a log line per write of spec.replicas, and status.workers of active EtlJobs."""
    stage = result.stage
    metrics.set_reason(stage, result.reason)
    decision = result.decision
    if decision is None:
        return
    unreadable = decision.reason in (ScaleReason.QUEUE_READ_ERROR, ScaleReason.FALLBACK)
    if unreadable:
        metrics.QUEUE_READ_ERRORS.labels(stage).inc()
    elif decision.state.depth is not None:
        metrics.QUEUE_DEPTH.labels(stage).set(decision.state.depth)
    metrics.WORKER_REPLICAS.labels(stage).set(decision.replicas)
    metrics.WORKER_DESIRED.labels(stage).set(decision.state.desired)
    metrics.SCALER_FALLBACK.labels(stage).set(1 if decision.fallback else 0)
    if result.settings is not None:
        for setting in ("min_replicas", "max_replicas", "target_per_replica", "activation"):
            metrics.SCALER_POOL.labels(stage, setting).set(getattr(result.settings, setting))
    if result.patched:
        metrics.SCALE_PATCHES.labels(stage).inc()
        logger.info(
            f"Deployment {deployment} ({stage}): replicas {result.current} -> {decision.replicas} "
            f"(depth {'unreadable' if unreadable else decision.state.depth}, reason {decision.reason})"
        )
    status = worker_status(decision).to_document()
    state.runtime.publish_workers(stage, status, time.monotonic())
