"""Where the API writes Integrations, EtlJobs and their credentials Secrets.

Locally the resource store is the source of truth; on Kubernetes the custom resources are (the
operator mirrors them into the same rows). Reads come from PostgreSQL in both modes.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from quarry_core import store
from quarry_core.db.models import EtlJob, EtlRun
from quarry_core.reconcile import CancelRun
from quarry_core.resources import (
    EtlJobResource,
    EtlJobSpec,
    IntegrationResource,
    IntegrationSpec,
    ObjectMeta,
    SecretManifest,
)
from quarry_core.run_actions import cancel_run
from quarry_core.settings import CoreSettings
from quarry_core.states import ACTIVE_RUN_PHASES


class ResourceBackend(Protocol):
    def apply_integration(
        self, session: Session, tenant: str, name: str, spec: IntegrationSpec, secret: dict[str, str] | None
    ) -> None: ...

    def delete_integration(self, session: Session, tenant: str, name: str) -> None: ...

    def apply_job(self, session: Session, tenant: str, name: str, spec: EtlJobSpec) -> None: ...

    def patch_job(self, session: Session, tenant: str, name: str, changes: dict[str, Any]) -> None: ...

    def delete_job(self, session: Session, tenant: str, name: str) -> None: ...

    def stop_job(self, session: Session, tenant: str, name: str) -> list[int]: ...


def _meta(tenant: str, name: str) -> ObjectMeta:
    return ObjectMeta(name=name, namespace=tenant)


class LocalResources:
    """Writes the resource store (each write notifies the local controller)."""

    def __init__(self, settings: CoreSettings) -> None:
        self.settings = settings

    def apply_integration(
        self, session: Session, tenant: str, name: str, spec: IntegrationSpec, secret: dict[str, str] | None
    ) -> None:
        manifests: list[Any] = []
        if secret is not None:
            secret_name = spec.credentials.secret_ref.name
            manifests.append(SecretManifest(metadata=_meta(tenant, secret_name), string_data=secret))
        manifests.append(IntegrationResource(metadata=_meta(tenant, name), spec=spec))
        store.apply_manifests(session, self.settings, manifests)

    def delete_integration(self, session: Session, tenant: str, name: str) -> None:
        integration = store.get_integration(session, tenant, name)
        secret = (integration.spec.get("credentials") or {}).get("secretRef", {}).get("name")
        store.delete_resource(session, "Integration", tenant, name)
        if secret:
            with contextlib.suppress(store.NotFound):
                store.delete_resource(session, "Secret", tenant, secret)

    def apply_job(self, session: Session, tenant: str, name: str, spec: EtlJobSpec) -> None:
        store.apply_manifests(
            session, self.settings, [EtlJobResource(metadata=_meta(tenant, name), spec=spec)]
        )

    def patch_job(self, session: Session, tenant: str, name: str, changes: dict[str, Any]) -> None:
        job = store.get_job(session, tenant, name, lock=True)
        spec = {**job.spec, **changes}
        if spec != job.spec:
            job.spec = spec
            job.generation += 1
            job.resource_version += 1
            store.notify(session)

    def delete_job(self, session: Session, tenant: str, name: str) -> None:
        store.delete_resource(session, "EtlJob", tenant, name)

    def stop_job(self, session: Session, tenant: str, name: str) -> list[int]:
        """Cancel the active runs: the controller stops their processes; cursors and loaded rows stay."""
        job = store.get_job(session, tenant, name, lock=True)
        return cancel_active_runs(session, job)


def cancel_active_runs(session: Session, job: EtlJob) -> list[int]:
    active = session.scalars(
        select(EtlRun.id)
        .where(EtlRun.job_id == job.id, EtlRun.phase.in_([p.value for p in ACTIVE_RUN_PHASES]))
        .order_by(EtlRun.id)
    ).all()
    for run_id in active:
        cancel_run(session, CancelRun(str(run_id), "Stopped"))
    if active:
        store.notify(session)
    return list(active)
