"""Where the API writes Integrations, EtlJobs and their credentials Secrets.

Locally the resource store is the source of truth; on Kubernetes the custom resources are (the
operator mirrors them into the same rows). Reads come from PostgreSQL in both modes.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any, Protocol

import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException
from sqlalchemy import select
from sqlalchemy.orm import Session

from quarry_backend.settings import ApiSettings
from quarry_core import store
from quarry_core.db.models import EtlJob, EtlRun, Secret
from quarry_core.errors import FatalError
from quarry_core.reconcile import CancelRun
from quarry_core.resources import (
    GROUP,
    VERSION,
    EtlJobResource,
    EtlJobSpec,
    IntegrationResource,
    IntegrationSpec,
    ObjectMeta,
    SecretManifest,
)
from quarry_core.run_actions import cancel_run
from quarry_core.secrets import load_secret
from quarry_core.settings import CoreSettings
from quarry_core.states import ACTIVE_RUN_PHASES

INTEGRATIONS, ETLJOBS = "integrations", "etljobs"
# Every (API group, resource, verb) KubernetesResources calls in a tenant's namespace; the chart's
# API role grants exactly these (tests/chart checks it).
KUBE_CALLS = frozenset(
    {("quarry.dev", plural, verb) for plural in (INTEGRATIONS, ETLJOBS)
     for verb in ("get", "create", "update", "patch", "delete")}
    | {("", "secrets", verb) for verb in ("get", "list", "create", "update", "delete")}
)


class ResourceBackend(Protocol):
    def apply_integration(
        self, session: Session, tenant: str, name: str, spec: IntegrationSpec, secret: dict[str, str] | None
    ) -> None: ...

    def delete_integration(self, session: Session, tenant: str, name: str) -> None: ...

    def apply_job(self, session: Session, tenant: str, name: str, spec: EtlJobSpec) -> None: ...

    def patch_job(self, session: Session, tenant: str, name: str, changes: dict[str, Any]) -> None: ...

    def delete_job(self, session: Session, tenant: str, name: str) -> None: ...

    def stop_job(self, session: Session, tenant: str, name: str) -> list[int]: ...

    def credentials(self, session: Session, tenant: str, secret: str) -> dict[str, str] | None: ...

    def secret_names(self, session: Session, tenant: str) -> set[str]: ...

    def readiness(self) -> str:
        """"ok ..." when writes can reach where resources live, else what is wrong."""
        ...


def _meta(tenant: str, name: str) -> ObjectMeta:
    return ObjectMeta(name=name, namespace=tenant)


class _RunsInPostgres:
    def __init__(self, settings: CoreSettings) -> None:
        self.settings = settings

    def stop_job(self, session: Session, tenant: str, name: str) -> list[int]:
        """Cancel the active runs; cursors and loaded rows stay. The local controller stops the
        extract process; on Kubernetes the extract pod polls its run's phase and exits."""
        job = store.get_job(session, tenant, name, lock=True)
        return cancel_active_runs(session, job)


class LocalResources(_RunsInPostgres):
    """Writes the resource store (each write notifies the local controller)."""

    def readiness(self) -> str:
        return "ok (resource store in the database)"

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

    def credentials(self, session: Session, tenant: str, secret: str) -> dict[str, str] | None:
        try:
            return load_secret(session, self.settings, tenant, secret)
        except FatalError:
            return None

    def secret_names(self, session: Session, tenant: str) -> set[str]:
        return set(session.scalars(select(Secret.name).where(Secret.tenant == tenant)))


class KubernetesResources(_RunsInPostgres):
    """Writes the custom resources and Secrets through the Kubernetes API; the operator acts on them.

    Each write is mirrored into the same rows the operator keeps (an idempotent upsert), so the
    API's own reads see it at once instead of after the operator's next pass.
    """

    def __init__(self, settings: CoreSettings, api_client: Any | None = None) -> None:
        super().__init__(settings)
        self._client = api_client

    def _api(self) -> Any:
        if self._client is None:
            self._client = new_api_client()
        return self._client

    @property
    def _custom(self) -> Any:
        return kubernetes.client.CustomObjectsApi(self._api())

    @property
    def _core(self) -> Any:
        return kubernetes.client.CoreV1Api(self._api())

    def readiness(self) -> str:
        try:
            version = kubernetes.client.VersionApi(self._api()).get_code(_request_timeout=3)
        except Exception as exc:  # any failure to reach the API server means not ready
            return f"unavailable (Kubernetes API: {type(exc).__name__})"
        return f"ok (Kubernetes {version.git_version})"

    def _put(self, plural: str, resource: IntegrationResource | EtlJobResource) -> dict[str, Any]:
        """Create the object, or replace its spec (a PUT with its resourceVersion: no lost update)."""
        body = resource.to_document()
        tenant, name = str(resource.metadata.namespace), resource.metadata.name
        try:
            current = self._custom.get_namespaced_custom_object(GROUP, VERSION, tenant, plural, name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            created: dict[str, Any] = self._custom.create_namespaced_custom_object(
                GROUP, VERSION, tenant, plural, body
            )
            return created
        current["spec"] = body["spec"]
        replaced: dict[str, Any] = self._custom.replace_namespaced_custom_object(
            GROUP, VERSION, tenant, plural, name, current
        )
        return replaced

    def _delete(self, delete: Any, *args: Any) -> None:
        try:
            delete(*args)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def apply_integration(
        self, session: Session, tenant: str, name: str, spec: IntegrationSpec, secret: dict[str, str] | None
    ) -> None:
        if secret is not None:
            self._write_secret(tenant, spec.credentials.secret_ref.name, secret)
        body = self._put(INTEGRATIONS, IntegrationResource(metadata=_meta(tenant, name), spec=spec))
        store.ensure_tenant(session, tenant)
        store.mirror_integration(session, tenant, body)

    def _write_secret(self, tenant: str, name: str, values: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": tenant,
                "labels": {"app.kubernetes.io/managed-by": "quarry"},
            },
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
        try:
            self._core.create_namespaced_secret(tenant, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self._core.replace_namespaced_secret(name, tenant, body)

    def delete_integration(self, session: Session, tenant: str, name: str) -> None:
        integration = store.get_integration(session, tenant, name)
        secret = (integration.spec.get("credentials") or {}).get("secretRef", {}).get("name")
        self._delete(self._custom.delete_namespaced_custom_object, GROUP, VERSION, tenant, INTEGRATIONS, name)
        if secret:
            self._delete(self._core.delete_namespaced_secret, secret, tenant)
        store.delete_resource(session, "Integration", tenant, name)

    def apply_job(self, session: Session, tenant: str, name: str, spec: EtlJobSpec) -> None:
        body = self._put(ETLJOBS, EtlJobResource(metadata=_meta(tenant, name), spec=spec))
        store.mirror_job(session, tenant, body)

    def patch_job(self, session: Session, tenant: str, name: str, changes: dict[str, Any]) -> None:
        body = self._custom.patch_namespaced_custom_object(
            GROUP, VERSION, tenant, ETLJOBS, name, {"spec": changes}
        )
        store.mirror_job(session, tenant, body)

    def delete_job(self, session: Session, tenant: str, name: str) -> None:
        # The operator's finalizer deletes the extract Jobs; the runs are cancelled here at once.
        self._delete(self._custom.delete_namespaced_custom_object, GROUP, VERSION, tenant, ETLJOBS, name)
        store.delete_resource(session, "EtlJob", tenant, name)

    def credentials(self, session: Session, tenant: str, secret: str) -> dict[str, str] | None:
        try:
            found = self._core.read_namespaced_secret(secret, tenant)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {k: base64.b64decode(v).decode() for k, v in (found.data or {}).items()}

    def secret_names(self, session: Session, tenant: str) -> set[str]:
        found = self._core.list_namespaced_secret(tenant)
        return {item.metadata.name for item in found.items}


def new_api_client() -> Any:
    """In a pod: its service account; elsewhere: $KUBECONFIG or ~/.kube/config."""
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        return kubernetes.client.ApiClient()
    except kubernetes.config.ConfigException:
        return kubernetes.config.new_client_from_config()  # type: ignore[no-untyped-call]


def resources_for(settings: ApiSettings) -> ResourceBackend:
    if settings.resources == "kubernetes":
        return KubernetesResources(settings)
    return LocalResources(settings)


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
