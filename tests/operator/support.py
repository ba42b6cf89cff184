"""Manifests and small helpers shared by the operator tests."""

from __future__ import annotations

from typing import Any

from tests.kube.harness import KubeHandle

GROUP, VERSION = "quarry.dev", "v1alpha1"


def jira_manifests(namespace: str, jira_url: str, *, job: dict[str, Any] | None = None,
                   token: str = "jira-token") -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    secret = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "jira-creds", "namespace": namespace},
        "stringData": {"email": "bot@quarry.dev", "token": token},
    }
    integration = {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Integration",
        "metadata": {"name": "acme-jira", "namespace": namespace},
        "spec": {"type": "jira", "baseUrl": jira_url, "credentials": {"secretRef": {"name": "jira-creds"}},
                 "scope": {"projects": ["ENG"]}},
    }
    etljob = {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "EtlJob",
        "metadata": {"name": "acme-jira-sync", "namespace": namespace},
        "spec": {"integrationRef": {"name": "acme-jira"}, "entities": ["projects", "issues"],
                 **(job or {})},
    }
    return secret, integration, etljob


def apply(kube: KubeHandle, namespace: str, *docs: dict[str, Any]) -> None:
    """Create the documents through the official client, as the backend does."""
    for doc in docs:
        if doc["kind"] == "Secret":
            kube.core_v1.create_namespaced_secret(namespace, doc)
        else:
            plural = {"Integration": "integrations", "EtlJob": "etljobs"}[doc["kind"]]
            kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, doc)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)

