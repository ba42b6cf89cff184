"""The pure builders of the operator's Kubernetes objects."""

from __future__ import annotations

from typing import Any

from quarry_core.resources import EtlJobSpec
from quarry_operator.manifests import (
    ExtractPodConfig,
    Owner,
    extract_job,
    extract_job_name,
    foreign_extract_job,
    job_selector,
    run_credentials_secret,
)

CONFIG = ExtractPodConfig(
    image="quarry:1.2", config_secret="quarry-config", queue_prefix="qa", ttl_seconds=600
)
OWNER = Owner(name="acme-jira-sync", uid="0b9a-uid")


def spec(**extra: Any) -> EtlJobSpec:
    doc = {"integrationRef": {"name": "acme-jira"}, "entities": ["issues"], **extra}
    return EtlJobSpec.model_validate(doc)


def build(**extra: Any) -> dict[str, Any]:
    return extract_job(owner=OWNER, tenant="acme", namespace="quarry", run_id="42", attempt=2,
                       spec=spec(**extra), config=CONFIG)


def test_job_name_is_deterministic_and_fits_a_label() -> None:
    assert extract_job_name("acme-jira-sync", 42, 2) == "acme-jira-sync-run-42-a2"
    long = "x" * 250
    name = extract_job_name(long, 123456789, 12)
    assert len(name) <= 63 and name.endswith("-run-123456789-a12")
    assert name == extract_job_name(long, 123456789, 12)
    assert name != extract_job_name("x" * 249 + "y", 123456789, 12)


def test_job_runs_in_the_platform_namespace_for_one_attempt_of_the_tenants_run() -> None:
    job = build()
    meta = job["metadata"]
    assert meta["name"] == "acme-jira-sync-run-42-a2" and meta["namespace"] == "quarry"
    assert "ownerReferences" not in meta  # they cannot cross namespaces
    assert meta["annotations"] == {"quarry.dev/etljob": "acme-jira-sync", "quarry.dev/etljob-uid": "0b9a-uid"}
    assert meta["labels"]["quarry.dev/tenant"] == "acme"
    assert meta["labels"]["quarry.dev/run"] == "42" and meta["labels"]["quarry.dev/attempt"] == "2"
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["ttlSecondsAfterFinished"] == 600
    assert job["spec"]["template"]["metadata"]["labels"] == meta["labels"]
    assert "activeDeadlineSeconds" not in job["spec"]


def test_pod_reads_credentials_from_the_mounted_secret_and_connections_by_reference() -> None:
    pod = build()["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    # Non-root, yet able to read the 0440 credential files (group-owned through fsGroup).
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert security["fsGroup"] == security["runAsGroup"] == security["runAsUser"]
    assert pod["automountServiceAccountToken"] is False
    [container] = pod["containers"]
    assert container["image"] == "quarry:1.2"
    assert container["command"] == ["quarry"] and container["args"] == ["extract", "--run-id", "42"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "quarry-config", "key": "DATABASE_URL", "optional": False}
    assert env["AMQP_URL"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["QUARRY_CREDENTIALS_DIR"]["value"] == "/var/run/quarry/credentials"
    assert env["QUARRY_QUEUE_PREFIX"]["value"] == "qa"
    assert env["QUARRY_EGRESS_ALLOW_PRIVATE"]["value"] == "false"  # the operator's setting
    assert not any("value" in e and "token" in e["value"] for e in container["env"])
    assert container["volumeMounts"] == [
        {"name": "credentials", "mountPath": "/var/run/quarry/credentials", "readOnly": True}]
    assert pod["volumes"][0]["secret"] == {
        "secretName": "acme-jira-sync-run-42-a2-credentials", "defaultMode": 0o440}
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert "resources" not in container


def test_resources_come_from_the_spec() -> None:
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    container = build(extract={"resources": resources})["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == resources


def test_selector_and_the_per_run_credentials_secret() -> None:
    assert job_selector("acme", "acme-jira-sync", 42) == (
        "app.kubernetes.io/managed-by=quarry-operator,quarry.dev/tenant=acme,quarry.dev/etljob=acme-jira-sync,"
        "quarry.dev/run=42")
    job = build()
    secret = run_credentials_secret(job, "job-uid", {"email": "bot@acme.io", "token": "t0k"})
    assert secret["stringData"] == {"email": "bot@acme.io", "token": "t0k"}
    assert secret["metadata"]["namespace"] == "quarry"
    assert secret["metadata"]["name"] == job["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
    assert secret["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"], "uid": "job-uid",
         "controller": True}]


def test_only_the_runs_own_job_speaks_for_it() -> None:
    meta = build()["metadata"]

    def why(namespace: str = "quarry", tenant: str = "acme", **changes: Any) -> str | None:
        return foreign_extract_job(
            namespace, {**meta, **changes}, platform_namespace="quarry", run_tenant=tenant, owner=OWNER,
            run_id=42, attempt=2,
        )

    assert why() is None
    assert "extract Jobs run in 'quarry'" in (why("evil") or "")
    assert "not 'globex'" in (why(tenant="globex") or "")
    assert "not named as the extract Job" in (why(name="acme-jira-sync-decoy") or "")
    assert "was not made for EtlJob" in (why(annotations={"quarry.dev/etljob-uid": "other"}) or "")
