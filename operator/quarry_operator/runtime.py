"""The Kubernetes runtime of the reconcile core: mirror custom resources into the database,
carry out the core's decisions with extract Jobs, and write the results back into CR status.

Runs live in PostgreSQL (`etl_runs`) as in the local runtime; the Integration and EtlJob custom
resources are mirrored into the `integrations` / `etl_jobs` rows (tenant = namespace) so runs can
reference them. Everything here is synchronous (the handlers run it in threads) and safe to
repeat: Job names are deterministic, and an EtlJob's row is locked while it is reconciled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quarry_core import store
from quarry_core.budget import requests_per_hour, take_one_request
from quarry_core.db.engine import get_engine, session_scope
from quarry_core.db.models import EtlJob, EtlRun
from quarry_core.db.tenancy import platform_sessions
from quarry_core.errors import ConfigError
from quarry_core.integration_check import status_after_check, view_of
from quarry_core.queue.base import QueueBackend
from quarry_core.queue.factory import open_queue
from quarry_core.reconcile import (
    CancelRun,
    FailRun,
    IntegrationView,
    JobView,
    Retransform,
    RetryRun,
    StartRun,
    UpdateStatus,
)
from quarry_core.resources import (
    ConditionType,
    EtlJobSpec,
    EtlJobStatus,
    IntegrationSpec,
    IntegrationStatus,
    WorkerPoolSettings,
    set_condition,
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
from quarry_core.runs import utcnow
from quarry_core.stalls import fail_stalled_runs
from quarry_core.states import ACTIVE_RUN_PHASES, IntegrationPhase, JobPhase, RunPhase, Stage
from quarry_operator import manifests, metrics
from quarry_operator.k8s import ETLJOBS, INTEGRATIONS, Kube, new_api_client
from quarry_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)
ACTIVE = [p.value for p in ACTIVE_RUN_PHASES]


@dataclass(frozen=True)
class ActiveJob:
    namespace: str
    name: str
    spec: Mapping[str, Any]


@dataclass
class Runtime:
    settings: OperatorSettings
    kube: Kube
    sessions: sessionmaker[Session]
    _published: dict[tuple[str, str, str], tuple[tuple[Any, ...], float]] = field(default_factory=dict)
    _queue: QueueBackend | None = None
    # EtlJobs this operator handles (kopf runs a loop for each); the database may hold other
    # operators' tenants, whose jobs must not steer this operator's workers.
    handled_jobs: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: OperatorSettings) -> Runtime:
        if not settings.database_url:
            raise ConfigError("DATABASE_URL must be set for the operator (runs live in PostgreSQL)")
        engine = get_engine(settings, pool_size=10)
        return cls(settings, Kube(new_api_client()), platform_sessions(engine))

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            self._queue = None
        self.kube.client.close()  # type: ignore[no-untyped-call]

    # --- mirroring --------------------------------------------------------------------------

    # --- EtlJobs ----------------------------------------------------------------------------

    def reconcile_etljob(self, namespace: str, name: str) -> float | None:
        """One pass of the core for an EtlJob; returns seconds until the next pass (None: gone)."""
        started = time.monotonic()
        try:
            return self._reconcile_etljob(namespace, name)
        finally:
            metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)

    def _reconcile_etljob(self, namespace: str, name: str) -> float | None:
        body = self.kube.get_custom(ETLJOBS, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        meta = body["metadata"]
        status = EtlJobStatus.model_validate(body.get("status") or {})
        try:
            spec = EtlJobSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            self._reject_spec(namespace, name, meta, status, exc)
            return self.settings.resync_seconds
        integration_body = self.kube.get_custom(INTEGRATIONS, namespace, spec.integration_ref.name)
        now = utcnow()
        stopped: list[str] = []
        with session_scope(self.sessions) as session:
            store.ensure_tenant(session, namespace)
            integration = (
                store.mirror_integration(session, namespace, integration_body) if integration_body else None
            )
            job = store.mirror_job(session, namespace, body)
            runs = load_run_views(session, job.id)
            view = JobView(namespace, name, spec, int(meta.get("generation") or 1), status)
            result = reconcile_job(session, view, integration_view(integration_body), runs, now)
            status_patch: Mapping[str, Any] = {}
            for decision in result.decisions:
                metrics.RUN_DECISIONS.labels(type(decision).__name__).inc()
                if isinstance(decision, StartRun | Retransform):
                    assert integration is not None  # the core starts runs only with a ready integration
                    create_run_for(session, job, integration, decision, spec.retry.max_attempts)
                elif isinstance(decision, RetryRun):
                    retry_run(session, decision)
                elif isinstance(decision, FailRun):
                    fail_run(session, decision)
                    stopped.append(decision.run_id)
                elif isinstance(decision, CancelRun):
                    cancel_run(session, decision)
                    stopped.append(decision.run_id)
                elif isinstance(decision, UpdateStatus):
                    status_patch = decision.patch
                    job.status = decision.status.to_document()
            session.flush()
            pending = session.execute(
                select(EtlRun.id, EtlRun.attempt).where(
                    EtlRun.job_id == job.id, EtlRun.phase == RunPhase.PENDING.value
                )
            ).all()
            active = session.scalar(
                select(EtlRun.id).where(EtlRun.job_id == job.id, EtlRun.phase.in_(ACTIVE)).limit(1)
            )
        # The run rows are committed before any pod can look for them.
        for run_id in stopped:
            self._stop_run(namespace, name, run_id)
        if pending:
            assert integration_body is not None
            secret = IntegrationSpec.model_validate(integration_body["spec"]).credentials.secret_ref.name
            for pending_id, attempt in pending:
                self._launch(namespace, body, spec, secret, str(pending_id), attempt)
        if status_patch:
            self.kube.patch_custom_status(ETLJOBS, namespace, name, status_patch)
        base = self.settings.active_resync_seconds if active is not None else self.settings.resync_seconds
        return base if result.requeue_after is None else min(base, result.requeue_after)

    def _reject_spec(
        self, namespace: str, name: str, meta: Mapping[str, Any], status: EtlJobStatus, exc: ValidationError
    ) -> None:
        """A spec the CRD schema admits but the cross-field rules (CEL) reject."""
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())[:2000]
        generation = int(meta.get("generation") or 1)
        conditions = set_condition(
            status.conditions, ConditionType.READY, False, "InvalidSpec", message, utcnow(), generation
        )
        new = status.model_copy(
            update={"phase": JobPhase.FAILED, "conditions": conditions, "message": message,
                    "observed_generation": generation}
        )
        if new != status:
            doc = new.to_document()
            self.kube.patch_custom_status(
                ETLJOBS, namespace, name,
                {k: doc.get(k) for k in ("phase", "conditions", "message", "observedGeneration")},
            )

    def _launch(
        self, namespace: str, body: Mapping[str, Any], spec: EtlJobSpec, secret: str, run_id: str,
        attempt: int,
    ) -> None:
        owner = manifests.Owner(name=body["metadata"]["name"], uid=body["metadata"]["uid"])
        platform = self.settings.workers_namespace
        job = manifests.extract_job(
            owner=owner, tenant=namespace, namespace=platform, run_id=run_id, attempt=attempt, spec=spec,
            config=self.pod_config(),
        )
        name = job["metadata"]["name"]
        try:
            credentials = self.kube.read_secret(namespace, secret)
            created: str | None = None
            if credentials is None:
                error = f"the credentials Secret {namespace}/{secret} does not exist"
            else:
                error = None
                created = self.kube.create_job(platform, job)
                uid = created or self._job_uid(platform, namespace, owner.name, run_id, name)
                self.kube.create_secret(platform, manifests.run_credentials_secret(job, uid, credentials))
        except ApiException as exc:
            if exc.status not in (400, 403, 404, 422):
                raise  # passing: kopf retries, and the next pass creates the Job
            error = f"cannot create extract Job {name}: HTTP {exc.status} {exc.reason}"
        if error is not None:
            logger.error("%s/%s: %s", namespace, owner.name, error)
            with session_scope(self.sessions) as session:
                report_attempt_failure(session, int(run_id), error)
            return
        if created:
            metrics.EXTRACT_JOBS.labels(namespace).inc()
            logger.info("%s/%s: extract Job %s/%s created", namespace, owner.name, platform, name)

    def _job_uid(self, platform: str, tenant: str, etljob: str, run_id: str, name: str) -> str:
        """The uid of an extract Job that exists already (created by an earlier pass)."""
        for job in self.kube.list_jobs(platform, manifests.job_selector(tenant, etljob, run_id)):
            if job["metadata"]["name"] == name:
                return str(job["metadata"]["uid"])
        raise LookupError(f"extract Job {platform}/{name} vanished while it was being set up")

    def pod_config(self) -> manifests.ExtractPodConfig:
        s = self.settings
        return manifests.ExtractPodConfig(
            image=s.image,
            config_secret=s.config_secret,
            image_pull_policy=s.image_pull_policy,
            credentials_mount_path=s.credentials_mount_path,
            queue_prefix=s.queue_prefix,
            ttl_seconds=s.job_ttl_seconds,
            active_deadline_seconds=s.job_active_deadline_seconds,
            service_account=s.extract_service_account,
            log_format=s.log_format if s.log_format == "text" else "json",
            egress_allow_private=s.egress_allow_private,
        )

    def _stop_run(self, namespace: str, etljob: str, run_id: str) -> None:
        platform = self.settings.workers_namespace
        for job in self.kube.list_jobs(platform, manifests.job_selector(namespace, etljob, run_id)):
            if self.kube.delete_job(platform, job["metadata"]["name"]):
                logger.info("%s/%s: extract Job %s deleted", namespace, etljob, job["metadata"]["name"])

    def delete_etljob(self, namespace: str, name: str) -> None:
        """The EtlJob is being deleted: stop its pods, cancel its runs, drop its mirror row.

        Dropping the row (and with it the job's runs and raw pages) means an EtlJob created again
        under the same name starts afresh; queued messages of the cancelled runs are discarded by
        the workers when they find their run gone.
        """
        platform = self.settings.workers_namespace
        for job in self.kube.list_jobs(platform, manifests.job_selector(namespace, name)):
            self.kube.delete_job(platform, job["metadata"]["name"])
        with session_scope(self.sessions) as session:
            row = session.scalar(
                select(EtlJob).where(EtlJob.tenant == namespace, EtlJob.name == name).with_for_update()
            )
            if row is None:
                return
            for run in load_run_views(session, row.id):
                if run.active:
                    cancel_run(session, CancelRun(run.id, "Deleted"))
            session.delete(row)

    def extract_job_changed(self, namespace: str, job: Mapping[str, Any]) -> tuple[str, str] | None:
        """A watched extract Job changed; on failure, report the attempt's error to the run.

        Returns the owning EtlJob (tenant, name) when it should be reconciled now.
        """
        meta, status = job.get("metadata") or {}, job.get("status") or {}
        labels = meta.get("labels") or {}
        etljob = (meta.get("annotations") or {}).get(manifests.ANNOTATION_ETLJOB)
        try:
            run_id, attempt = int(labels[manifests.LABEL_RUN]), int(labels[manifests.LABEL_ATTEMPT])
        except (KeyError, ValueError):
            return None
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
        failed = conditions.get("Failed")
        with session_scope(self.sessions) as session:
            run = session.get(EtlRun, run_id, with_for_update=failed is not None)
            owner = session.get(EtlJob, run.job_id) if run is not None else None
            if run is None or owner is None or etljob != owner.name:
                return None
            foreign = manifests.foreign_extract_job(
                namespace, meta, platform_namespace=self.settings.workers_namespace, run_tenant=run.tenant,
                owner=manifests.Owner(owner.name, owner.uid), run_id=run_id, attempt=attempt,
            )
            if foreign is not None:
                logger.warning("Job %s/%s ignored: %s", namespace, meta.get("name"), foreign)
                return None
            key = (run.tenant, owner.name)
            if failed is None:
                return key if "Complete" in conditions else None
            # Only the current attempt counts, and only once (a replayed event must not extend the backoff).
            if run.attempt != attempt or run.attempt_error is not None:
                return key
            if RunPhase(run.phase) not in ACTIVE_RUN_PHASES:
                return key
            error = self._pod_error(namespace, meta["name"]) or (
                f"{failed.get('reason', 'Failed')}: {failed.get('message', 'the extract pod failed')}"
            )
            report_attempt_failure(session, run_id, error)
        logger.info("%s/%s: run %s attempt %s failed: %s", key[0], key[1], run_id, attempt, error)
        return key

    def _pod_error(self, namespace: str, job_name: str) -> str | None:
        """The extract container's termination message (its last log lines on error)."""
        for pod in reversed(self.kube.list_pods(namespace, f"job-name={job_name}")):
            for container in (pod.get("status") or {}).get("containerStatuses") or []:
                ended = (container.get("state") or {}).get("terminated")
                if ended and ended.get("exitCode", 0) != 0:
                    text = (ended.get("message") or "").strip()
                    head = f"{ended.get('reason', 'Error')} (exit code {ended.get('exitCode')})"
                    return f"{head}: {text[-2000:]}" if text else head
        return None

    # --- Integrations -----------------------------------------------------------------------

    def check_integration(self, namespace: str, name: str) -> bool | None:
        """Check reachability and credentials; write phase and the Ready condition. None: gone."""
        from quarry_core.integration_check import check_integration

        body = self.kube.get_custom(INTEGRATIONS, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        meta = body["metadata"]
        generation = int(meta.get("generation") or 1)
        status = IntegrationStatus.model_validate(body.get("status") or {})
        try:
            spec = IntegrationSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            ready, reason = False, "InvalidSpec"
            message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        else:
            secret = spec.credentials.secret_ref.name
            credentials = self.kube.read_secret(namespace, secret)
            if credentials is None:
                message = f"Secret {namespace}/{secret} does not exist"
                ready, reason = False, "SecretNotFound"
            else:
                if not self._check_in_budget(namespace, body):
                    return status.phase == IntegrationPhase.READY
                result = check_integration(
                    spec, credentials, self.settings.integration_check_timeout,
                    allow_private=self.settings.egress_allow_private,
                )
                ready, reason, message = result.ready, str(result.reason), result.message
        new = status_after_check(status, ready, reason, message, generation, utcnow())
        doc = new.to_document()
        self.kube.patch_custom_status(INTEGRATIONS, namespace, name, doc)
        with session_scope(self.sessions) as session:
            store.ensure_tenant(session, namespace)
            store.mirror_integration(session, namespace, {**body, "status": doc})
        metrics.INTEGRATION_READY.labels(namespace, name).set(1 if ready else 0)
        return ready

    def _check_in_budget(self, namespace: str, body: Mapping[str, Any]) -> bool:
        """The check's request counts in the integration's budget; none left: the next timer checks."""
        with session_scope(self.sessions) as session:
            store.ensure_tenant(session, namespace)
            row = store.mirror_integration(session, namespace, body)
            integration_id, spec = row.id, dict(row.spec)
        limit = requests_per_hour(spec, self.settings.default_requests_per_hour)
        engine = self.sessions.kw["bind"]
        wait = take_one_request(engine, namespace, integration_id, limit, self.settings.budget_window_seconds)
        if wait > 0:
            logger.info("integration %s/%s: check deferred %.0fs by its request budget",
                        namespace, body["metadata"]["name"], wait)
        return wait == 0

    # --- worker scaling ---------------------------------------------------------------------

    def active_jobs(self) -> list[ActiveJob]:
        """EtlJobs with an active run (their pool settings raise the shared Deployments')."""
        with session_scope(self.sessions) as session:
            has_active = (
                select(EtlRun.id).where(EtlRun.job_id == EtlJob.id, EtlRun.phase.in_(ACTIVE)).exists()
            )
            rows = session.execute(select(EtlJob.tenant, EtlJob.name, EtlJob.spec).where(has_active)).all()
        return [ActiveJob(r.tenant, r.name, r.spec) for r in rows if (r.tenant, r.name) in self.handled_jobs]

    def active_pools(self, stage: str) -> list[WorkerPoolSettings]:
        pools = []
        for job in self.active_jobs():
            try:
                pool = (job.spec.get("workers") or {}).get(stage) or {}
                pools.append(WorkerPoolSettings.model_validate(pool))
            except ValidationError:
                continue  # the job's own reconcile reports its invalid spec
        return pools

    def fail_stalled_runs(self) -> dict[int, str]:
        """Fail runs whose pages stopped moving; their EtlJobs' loops then report it."""
        with session_scope(self.sessions) as session:
            return fail_stalled_runs(session, utcnow(), timedelta(seconds=self.settings.run_stall_seconds))

    def read_depth(self, stage: str) -> int:
        try:
            if self._queue is None:
                self._queue = open_queue(self.settings)
            return self._queue.depth(Stage(stage)).total
        except Exception:
            # A broken connection is dropped; the next poll reconnects.
            queue, self._queue = self._queue, None
            if queue is not None:
                try:
                    queue.close()
                except Exception:
                    logger.debug("closing a broken queue connection failed", exc_info=True)
            raise

    def publish_workers(self, stage: str, worker_status: Mapping[str, Any], now: float) -> None:
        """Show the stage's last decision in status.workers of every EtlJob with an active run."""
        key = tuple(worker_status.get(k) for k in ("replicas", "desired", "reason"))
        for job in self.active_jobs():
            slot = (job.namespace, job.name, stage)
            last = self._published.get(slot)
            if last is not None and last[0] == key and now - last[1] < self.settings.status_publish_seconds:
                continue
            patch = {"workers": {stage: dict(worker_status)}}
            self.kube.patch_custom_status(ETLJOBS, job.namespace, job.name, patch)
            self._published[slot] = (key, now)


def integration_view(body: Mapping[str, Any] | None) -> IntegrationView | None:
    """What an EtlJob needs to know about its Integration, from the Integration's status."""
    if body is None:
        return None
    status = IntegrationStatus.model_validate(body.get("status") or {})
    return view_of(body["metadata"]["name"], str((body.get("spec") or {}).get("type")), status)
