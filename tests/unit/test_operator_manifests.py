"""The pure builders of the operator's Kubernetes objects."""

from __future__ import annotations

from typing import Any

from quarry_core.resources import EtlJobSpec
from quarry_operator.manifests import (
    ExtractPodConfig,
    Owner,
    config_secret,
    extract_job,
    extract_job_name,
    job_selector,
)

CONFIG = ExtractPodConfig(
    image="quarry:1.2", config_secret="quarry-config", queue_prefix="qa", ttl_seconds=600
)
OWNER = Owner(name="acme-jira-sync", uid="0b9a-uid")


def spec(**extra: Any) -> EtlJobSpec:
    doc = {"integrationRef": {"name": "acme-jira"}, "entities": ["issues"], **extra}
    return EtlJobSpec.model_validate(doc)


def build(**extra: Any) -> dict[str, Any]:
    return extract_job(owner=OWNER, namespace="acme", run_id="42", attempt=2, spec=spec(**extra),
                       credentials_secret="jira-creds", config=CONFIG)


def test_job_name_is_deterministic_and_fits_a_label() -> None:
    assert extract_job_name("acme-jira-sync", 42, 2) == "acme-jira-sync-run-42-a2"
    long = "x" * 250
    name = extract_job_name(long, 123456789, 12)
    assert len(name) <= 63 and name.endswith("-run-123456789-a12")
    assert name == extract_job_name(long, 123456789, 12)
    assert name != extract_job_name("x" * 249 + "y", 123456789, 12)


def test_job_is_owned_by_the_etljob_and_runs_one_attempt() -> None:
    job = build()
    meta = job["metadata"]
    assert meta["name"] == "acme-jira-sync-run-42-a2" and meta["namespace"] == "acme"
    assert meta["ownerReferences"] == [{
        "apiVersion": "quarry.dev/v1alpha1", "kind": "EtlJob", "name": "acme-jira-sync", "uid": "0b9a-uid",
        "controller": True, "blockOwnerDeletion": True}]
    assert meta["labels"]["quarry.dev/run"] == "42" and meta["labels"]["quarry.dev/attempt"] == "2"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["ttlSecondsAfterFinished"] == 600
    assert job["spec"]["template"]["metadata"]["labels"] == meta["labels"]
    assert "activeDeadlineSeconds" not in job["spec"]


def test_pod_reads_credentials_from_the_mounted_secret_and_connections_by_reference() -> None:
    pod = build()["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["image"] == "quarry:1.2"
    assert container["command"] == ["quarry"] and container["args"] == ["extract", "--run-id", "42"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "quarry-config", "key": "DATABASE_URL", "optional": False}
    assert env["AMQP_URL"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["QUARRY_CREDENTIALS_DIR"]["value"] == "/var/run/quarry/credentials"
    assert env["QUARRY_QUEUE_PREFIX"]["value"] == "qa"
    assert not any("value" in e and "token" in e["value"] for e in container["env"])
    assert container["volumeMounts"] == [
        {"name": "credentials", "mountPath": "/var/run/quarry/credentials", "readOnly": True}]
    assert pod["volumes"][0]["secret"]["secretName"] == "jira-creds"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert "resources" not in container


def test_resources_come_from_the_spec() -> None:
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    container = build(extract={"resources": resources})["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == resources


def test_selector_and_config_secret() -> None:
    assert job_selector("acme-jira-sync", 42) == (
        "app.kubernetes.io/managed-by=quarry-operator,quarry.dev/etljob=acme-jira-sync,quarry.dev/run=42")
    secret = config_secret("acme", "quarry-config", database_url="postgresql://db/quarry", amqp_url=None)
    assert secret["stringData"] == {"DATABASE_URL": "postgresql://db/quarry"}
    assert secret["metadata"]["namespace"] == "acme"
