"""The resource store: Secrets, Integrations and EtlJobs as database rows, as `kubectl` sees them.

Locally these rows are the source of truth (`quarry apply`, the local controller, the API); on
Kubernetes the operator mirrors the custom resources into them (`mirror_*`), so every reader sees
the same rows in both modes.

`apply` behaves like `kubectl apply` against the API server: every document of a file is
validated first and nothing is written unless all are valid; `metadata.generation` moves only
when the spec changes, `resourceVersion` on every write; the namespace is the tenant and is
created on first use. Every write notifies the controller (PostgreSQL NOTIFY) so it reacts at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.db.engine import get_engine
from quarry_core.db.migrate import current_revision, head_revision, upgrade
from quarry_core.db.models import EtlJob, EtlRun, Integration, Secret, Tenant
from quarry_core.db.tenancy import platform_sessions
from quarry_core.errors import FatalError
from quarry_core.manifests import load_manifests
from quarry_core.reconcile import CancelRun
from quarry_core.resources import (
    API_VERSION,
    EtlJobResource,
    IntegrationResource,
    Manifest,
    SecretManifest,
)
from quarry_core.run_actions import cancel_run
from quarry_core.secrets import delete_secret, load_secret, store_secret
from quarry_core.settings import CoreSettings
from quarry_core.states import ACTIVE_RUN_PHASES

NOTIFY_CHANNEL = "quarry_resources"

KIND_NAMES = {"Secret": "secret", "Integration": "integration.quarry.dev", "EtlJob": "etljob.quarry.dev"}
# Fields other writers own (the Run and Re-transform buttons, `quarry run`); `kubectl apply` keeps
# fields that its last-applied configuration never set, so a re-apply must not drop them either.
_REQUEST_FIELDS = ("runRequest", "retransform")


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str
    name: str
    action: str  # created | configured | unchanged | deleted

    def __str__(self) -> str:
        return f"{KIND_NAMES[self.kind]}/{self.name} {self.action}"


def notify(session: Session, payload: str = "") -> None:
    """Wake the controller when this transaction commits."""
    session.execute(text("select pg_notify(:c, :p)"), {"c": NOTIFY_CHANNEL, "p": payload})


def ensure_tenant(session: Session, name: str) -> None:
    session.execute(insert(Tenant).values(name=name).on_conflict_do_nothing(index_elements=["name"]))


def parse(text_: str, namespace: str = "default") -> list[Manifest]:
    """Validate every document (ManifestError names the object and field); writes nothing."""
    return load_manifests(text_, namespace)


def apply_text(
    session: Session, settings: CoreSettings, text_: str, namespace: str = "default"
) -> list[Applied]:
    return apply_manifests(session, settings, parse(text_, namespace))


def apply_manifests(session: Session, settings: CoreSettings, manifests: Sequence[Manifest]) -> list[Applied]:
    """Create or update each object; the caller's transaction makes the file all-or-nothing."""
    results = []
    for m in manifests:
        namespace = _namespace(m)
        ensure_tenant(session, namespace)
        if isinstance(m, SecretManifest):
            results.append(_apply_secret(session, settings, namespace, m))
        elif isinstance(m, IntegrationResource):
            results.append(_apply_integration(session, namespace, m))
        else:
            results.append(_apply_job(session, namespace, m))
    if any(r.action != "unchanged" for r in results):
        notify(session)
    return results


def _namespace(m: Manifest) -> str:
    assert m.metadata.namespace is not None  # validate_manifest always fills it
    return m.metadata.namespace


def _apply_secret(session: Session, settings: CoreSettings, namespace: str, m: SecretManifest) -> Applied:
    name, values = m.metadata.name, m.values()
    exists = session.scalar(select(Secret.id).where(Secret.tenant == namespace, Secret.name == name))
    if exists is not None:
        try:
            if load_secret(session, settings, namespace, name) == values:
                return Applied("Secret", namespace, name, "unchanged")
        except FatalError:
            pass  # stored under another key: overwrite
    store_secret(session, settings, namespace, name, values)
    # The upsert leaves updated_at alone; the controller re-checks integrations whose Secret changed.
    session.execute(
        update(Secret).where(Secret.tenant == namespace, Secret.name == name).values(updated_at=func.now())
    )
    return Applied("Secret", namespace, name, "configured" if exists is not None else "created")


def _upsert(
    session: Session,
    model: type[Integration] | type[EtlJob],
    namespace: str,
    m: IntegrationResource | EtlJobResource,
    spec: dict[str, Any],
    columns: dict[str, Any],
) -> Applied:
    name = m.metadata.name
    row = cast(
        Integration | EtlJob | None,
        session.scalar(select(model).where(model.tenant == namespace, model.name == name).with_for_update()),
    )
    labels, annotations = dict(m.metadata.labels), dict(m.metadata.annotations)
    if row is None:
        session.add(
            model(
                tenant=namespace,
                name=name,
                uid=str(uuid.uuid4()),
                spec=spec,
                status={},
                generation=1,
                resource_version=1,
                labels=labels,
                annotations=annotations,
                **columns,
            )
        )
        session.flush()
        return Applied(m.kind, namespace, name, "created")
    if isinstance(m, EtlJobResource):
        for key in _REQUEST_FIELDS:
            if key not in spec and key in row.spec:
                spec[key] = row.spec[key]
    spec_changed = row.spec != spec
    if not spec_changed and row.labels == labels and row.annotations == annotations:
        return Applied(m.kind, namespace, name, "unchanged")
    if spec_changed:
        row.spec = spec
        row.generation += 1
        for column, value in columns.items():
            setattr(row, column, value)
    row.labels, row.annotations = labels, annotations
    row.resource_version += 1
    return Applied(m.kind, namespace, name, "configured")


def _apply_integration(session: Session, namespace: str, m: IntegrationResource) -> Applied:
    return _upsert(session, Integration, namespace, m, m.spec.to_document(), {"type": m.spec.type.value})


def _apply_job(session: Session, namespace: str, m: EtlJobResource) -> Applied:
    spec = m.spec.to_document()
    return _upsert(session, EtlJob, namespace, m, spec, {"integration_name": m.spec.integration_ref.name})


def mirror_integration(session: Session, namespace: str, body: Mapping[str, Any]) -> Integration:
    """Upsert the row of an Integration custom resource as the API server holds it (the operator's mirror)."""
    meta, spec = body["metadata"], body.get("spec") or {}
    values = _mirror_values(meta) | {
        "type": spec.get("type", "jira"),
        "spec": spec,
        "status": body.get("status") or {},
    }
    stmt = insert(Integration).values(tenant=namespace, name=meta["name"], **values)
    session.execute(stmt.on_conflict_do_update(constraint="uq_integrations_tenant_name", set_=values))
    return get_integration(session, namespace, meta["name"])


def mirror_job(session: Session, namespace: str, body: Mapping[str, Any]) -> EtlJob:
    """Upsert the row of an EtlJob custom resource and lock it: the lock serialises reconciles of one
    job across threads and operator processes."""
    meta, spec = body["metadata"], body.get("spec") or {}
    integration = (spec.get("integrationRef") or {}).get("name", "")
    values = _mirror_values(meta) | {"integration_name": integration, "spec": spec}
    stmt = insert(EtlJob).values(tenant=namespace, name=meta["name"], **values)
    session.execute(stmt.on_conflict_do_update(constraint="uq_etl_jobs_tenant_name", set_=values))
    return get_job(session, namespace, meta["name"], lock=True)


def _mirror_values(meta: Mapping[str, Any]) -> dict[str, Any]:
    version = str(meta.get("resourceVersion") or "0")
    return {
        "uid": meta.get("uid") or "",
        "generation": int(meta.get("generation") or 1),
        "resource_version": int(version) if version.isdigit() else 0,
        "labels": meta.get("labels") or {},
        "annotations": {
            k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("kopf.")
        },
    }


def connect(settings: CoreSettings) -> sessionmaker[Session]:
    """Sessions on the configured (or embedded) database, its schema brought up to date first."""
    engine = get_engine(settings)
    if current_revision(engine) != head_revision():
        upgrade(engine)
    return platform_sessions(engine)


# --- reading -------------------------------------------------------------------------------------


def get_job(session: Session, namespace: str, name: str, lock: bool = False) -> EtlJob:
    query = select(EtlJob).where(EtlJob.tenant == namespace, EtlJob.name == name)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f'etljobs.quarry.dev "{name}" not found in namespace "{namespace}"')
    return row


def get_integration(session: Session, namespace: str, name: str) -> Integration:
    row = session.scalar(select(Integration).where(Integration.tenant == namespace, Integration.name == name))
    if row is None:
        raise NotFound(f'integrations.quarry.dev "{name}" not found in namespace "{namespace}"')
    return row


def list_integrations(session: Session, namespace: str | None) -> list[Integration]:
    query = select(Integration).order_by(Integration.tenant, Integration.name)
    if namespace is not None:
        query = query.where(Integration.tenant == namespace)
    return list(session.scalars(query))


def list_jobs(session: Session, namespace: str | None) -> list[EtlJob]:
    query = select(EtlJob).order_by(EtlJob.tenant, EtlJob.name)
    if namespace is not None:
        query = query.where(EtlJob.tenant == namespace)
    return list(session.scalars(query))


def list_runs(
    session: Session, namespace: str | None, job: str | None = None, limit: int = 50
) -> list[tuple[EtlRun, str]]:
    """Newest runs first, with their job's name."""
    query = (
        select(EtlRun, EtlJob.name)
        .join(EtlJob, EtlJob.id == EtlRun.job_id)
        .order_by(EtlRun.id.desc())
        .limit(limit)
    )
    if namespace is not None:
        query = query.where(EtlRun.tenant == namespace)
    if job is not None:
        query = query.where(EtlJob.name == job)
    return [(run, name) for run, name in session.execute(query).tuples()]


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(row: Integration | EtlJob) -> dict[str, Any]:
    """The object as `kubectl get -o json` would show it."""
    kind = "Integration" if isinstance(row, Integration) else "EtlJob"
    metadata: dict[str, Any] = {
        "name": row.name,
        "namespace": row.tenant,
        "uid": row.uid,
        "generation": row.generation,
        "resourceVersion": str(row.resource_version),
        "creationTimestamp": _timestamp(row.created_at),
    }
    if row.labels:
        metadata["labels"] = row.labels
    if row.annotations:
        metadata["annotations"] = row.annotations
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": row.spec,
        "status": row.status,
    }


# --- run requests and deletion ----------------------------------------------------------------


def new_token(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{moment}-{uuid.uuid4().hex[:6]}"


def request_run(session: Session, namespace: str, name: str, token: str | None = None) -> tuple[EtlJob, str]:
    """Set spec.runRequest to a new token, as the UI's Run button or `kubectl patch` would."""
    job = get_job(session, namespace, name, lock=True)
    token = token or new_token()
    job.spec = {**job.spec, "runRequest": token}
    job.generation += 1
    job.resource_version += 1
    notify(session)
    return job, token


def delete_resource(session: Session, kind: str, namespace: str, name: str) -> Applied:
    """Delete one object; a job's active runs are cancelled first (their processes then stop)."""
    if kind == "Secret":
        if not delete_secret(session, namespace, name):
            raise NotFound(f'secrets "{name}" not found in namespace "{namespace}"')
    elif kind == "Integration":
        session.delete(get_integration(session, namespace, name))
    else:
        job = get_job(session, namespace, name, lock=True)
        active = session.scalars(
            select(EtlRun.id).where(
                EtlRun.job_id == job.id, EtlRun.phase.in_([p.value for p in ACTIVE_RUN_PHASES])
            )
        ).all()
        for run_id in active:
            cancel_run(session, CancelRun(str(run_id), "Deleted"))
        session.flush()
        session.delete(job)
    notify(session)
    return Applied(kind, namespace, name, "deleted")


def delete_manifests(session: Session, manifests: Sequence[Manifest]) -> list[Applied | str]:
    """`kubectl delete -f`: every object of the file; missing ones are reported, not fatal."""
    out: list[Applied | str] = []
    for m in reversed(manifests):  # jobs before the integrations and secrets they use
        try:
            out.append(delete_resource(session, m.kind, _namespace(m), m.metadata.name))
        except NotFound as exc:
            out.append(f"Error from server (NotFound): {exc}")
    return out
