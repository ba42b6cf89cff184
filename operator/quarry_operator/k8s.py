"""Thin, synchronous calls to the Kubernetes API (the official client), returning plain dicts.

Every call the operator makes is here, and `API_CALLS` lists them as RBAC rules by scope; a test
checks that the chart's Roles grant exactly these and that the operator uses nothing else.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException

from quarry_core.resources import GROUP, VERSION

MERGE_PATCH = "application/merge-patch+json"
ETLJOBS = "etljobs"
INTEGRATIONS = "integrations"

# (apiGroup, resource, verb) of every request the operator (kopf included) makes, by where it
# makes it. The chart grants each set only where it is needed (tests/operator/test_chart.py).
Calls = frozenset[tuple[str, str, str]]

# Cluster-scoped: kopf notices CRDs and namespaces (for --namespace globs) appearing and going.
CLUSTER_CALLS: Calls = frozenset(
    {
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }
)
# In every watched (tenant) namespace: the custom resources (kopf watches and patches them for
# finalizers and annotations; the operator reads them and writes their status), the Integration's
# credentials Secret (read by name, never listed), events kopf posts, and the Job watch kopf keeps
# in every namespace it serves (extract Jobs themselves exist only in the platform's namespace).
TENANT_CALLS: Calls = frozenset(
    {
        *{(GROUP, r, v) for r in (ETLJOBS, INTEGRATIONS) for v in ("get", "list", "watch", "patch")},
        (GROUP, "etljobs/status", "patch"),
        (GROUP, "integrations/status", "patch"),
        ("", "secrets", "get"),
        ("", "events", "create"),
        ("batch", "jobs", "list"),
        ("batch", "jobs", "watch"),
    }
)
# In the platform's (the release's) namespace only: extract Jobs, their pods' termination
# messages, their per-run credentials Secrets (created, never read back or changed), the shared
# worker Deployments and the HPAs that may own them.
PLATFORM_CALLS: Calls = frozenset(
    {
        ("batch", "jobs", "create"),
        ("batch", "jobs", "delete"),
        ("batch", "jobs", "list"),
        ("batch", "jobs", "watch"),
        ("", "pods", "list"),
        ("", "secrets", "create"),
        ("", "events", "create"),
        ("apps", "deployments", "list"),
        ("apps", "deployments", "patch"),
        ("autoscaling", "horizontalpodautoscalers", "list"),
    }
)
API_CALLS = CLUSTER_CALLS | TENANT_CALLS | PLATFORM_CALLS


USER_AGENT = "quarry-operator"


def new_api_client() -> kubernetes.client.ApiClient:
    """In a pod: the service account; elsewhere: $KUBECONFIG / ~/.kube/config."""
    client: kubernetes.client.ApiClient
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        client = kubernetes.client.ApiClient()
    except kubernetes.config.ConfigException:
        client = kubernetes.config.new_client_from_config()  # type: ignore[no-untyped-call]
    # Audit logs (and the tests' RBAC check) tell the operator's calls apart by it.
    client.user_agent = USER_AGENT
    return client


def is_status(exc: BaseException, *codes: int) -> bool:
    return isinstance(exc, ApiException) and exc.status in codes


class Kube:
    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.client = api_client
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.batch = kubernetes.client.BatchV1Api(api_client)
        self.apps = kubernetes.client.AppsV1Api(api_client)
        self.autoscaling = kubernetes.client.AutoscalingV2Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)

    def _plain(self, obj: Any) -> dict[str, Any]:
        plain: dict[str, Any] = self.client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return plain

    # --- custom resources -----------------------------------------------------------------

    def get_custom(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        found: dict[str, Any] = dict(obj)  # type: ignore[call-overload]
        return found

    def patch_custom_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> bool:
        """Merge-patch `.status` through the status subresource; False when the object is gone."""
        try:
            self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, plural, name, {"status": dict(status)}, _content_type=MERGE_PATCH
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- extract Jobs ---------------------------------------------------------------------

    def create_job(self, namespace: str, body: Mapping[str, Any]) -> str | None:
        """Create the Job and return its uid; None when it exists already (the name is deterministic)."""
        try:
            created = self.batch.create_namespaced_job(namespace, dict(body))  # type: ignore[arg-type]
        except ApiException as exc:
            if exc.status == 409:
                return None
            raise
        assert created.metadata is not None
        return str(created.metadata.uid)

    def list_jobs(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = self.batch.list_namespaced_job(namespace, label_selector=selector)
        return [self._plain(item) for item in result.items]

    def delete_job(self, namespace: str, name: str) -> bool:
        # Jobs deleted through the API orphan their pods by default; Background stops them.
        try:
            self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = self.core.list_namespaced_pod(namespace, label_selector=selector)
        return [self._plain(item) for item in result.items]

    # --- secrets --------------------------------------------------------------------------

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decoded data of a Secret, or None when it does not exist."""
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.data or {}).items()}
        # A real API server folds stringData into data on write; emulators may not.
        return data | dict(secret.string_data or {})

    def create_secret(self, namespace: str, body: Mapping[str, Any]) -> None:
        """Create the Secret; one that exists already (an earlier pass made it) is left as it is."""
        try:
            self.core.create_namespaced_secret(namespace, dict(body))  # type: ignore[arg-type]
        except ApiException as exc:
            if exc.status != 409:
                raise

    # --- worker Deployments ---------------------------------------------------------------

    def list_deployments(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = self.apps.list_namespaced_deployment(namespace, label_selector=selector)
        return [self._plain(item) for item in result.items]

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.apps.patch_namespaced_deployment(
            name, namespace, {"spec": {"replicas": replicas}}, _content_type=MERGE_PATCH
        )

    def hpa_targets(self, namespace: str) -> set[str]:
        """Names of the Deployments an HPA scales in `namespace` (we never fight an HPA)."""
        result = self.autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace)
        return {
            item.spec.scale_target_ref.name
            for item in result.items
            if item.spec.scale_target_ref.kind == "Deployment"
        }
