"""Pure builders of the Kubernetes objects the operator creates: no I/O, no clock.

The extract Job of a run is named deterministically from (EtlJob, run, attempt), so creating it
twice answers 409 and never starts a second pod for one attempt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quarry_core.resources import EtlJobSpec, ResourceRequirements

MANAGED_BY = "quarry-operator"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_ETLJOB = "quarry.dev/etljob"
LABEL_RUN = "quarry.dev/run"
LABEL_ATTEMPT = "quarry.dev/attempt"
ANNOTATION_ETLJOB = "quarry.dev/etljob"
ANNOTATION_ETLJOB_UID = "quarry.dev/etljob-uid"
LABEL_TENANT = "quarry.dev/tenant"
STAGE_LABEL = "quarry.dev/stage"
"""On a worker Deployment: the queue stage (transform|load) whose depth sizes it."""

MAX_NAME = 63  # Job names end up in the pods' job-name label, which is limited to 63
EXTRACT_CONTAINER = "extract"
CREDENTIALS_VOLUME = "credentials"
EXTRACT_UID = 10001


@dataclass(frozen=True)
class Owner:
    """The EtlJob an extract Job is made for (its uid tells a re-created one of the same name apart)."""

    name: str
    uid: str


@dataclass(frozen=True)
class ExtractPodConfig:
    """Operator-wide settings of extract pods (from OperatorSettings)."""

    image: str
    config_secret: str
    image_pull_policy: str = "IfNotPresent"
    credentials_mount_path: str = "/var/run/quarry/credentials"
    queue_prefix: str = "quarry"
    ttl_seconds: int = 3600
    active_deadline_seconds: int | None = None
    service_account: str | None = None
    log_format: str = "json"
    egress_allow_private: bool = False


def _short(value: str, limit: int) -> str:
    """`value` if it fits, else a prefix plus a stable hash (names and label values stay unique)."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{value[: limit - 9].rstrip('-.')}-{digest}"


def label_value(value: str) -> str:
    return _short(value, 63)


def extract_job_name(etljob: str, run_id: str | int, attempt: int) -> str:
    suffix = f"-run-{run_id}-a{attempt}"
    return _short(etljob, MAX_NAME - len(suffix)) + suffix


def job_selector(tenant: str, etljob: str, run_id: str | int | None = None) -> str:
    """Label selector of the extract Jobs of a tenant's EtlJob (or of one of its runs)."""
    selector = (
        f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_TENANT}={label_value(tenant)},"
        f"{LABEL_ETLJOB}={label_value(etljob)}"
    )
    return selector if run_id is None else f"{selector},{LABEL_RUN}={run_id}"


def credentials_secret_name(job_name: str) -> str:
    return _short(job_name, MAX_NAME - len("-credentials")) + "-credentials"


def foreign_extract_job(
    namespace: str,
    meta: Mapping[str, Any],
    *,
    platform_namespace: str,
    run_tenant: str,
    owner: Owner,
    run_id: int,
    attempt: int,
) -> str | None:
    """Why this Job may not speak for the run it names (None: it is that run's own extract Job).

    Labels are anyone's to write: a Job outside the platform's namespace (where only the operator
    creates extract Jobs), or one not made for this tenant's EtlJob, must not fail (or otherwise
    move) a run by naming it in its labels.
    """
    if namespace != platform_namespace:
        return f"the Job is in namespace {namespace!r}; extract Jobs run in {platform_namespace!r}"
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    tenant = labels.get(LABEL_TENANT)
    if tenant != label_value(run_tenant):
        return f"the Job is labelled for tenant {tenant!r}, not {run_tenant!r} of run {run_id}"
    if meta.get("name") != extract_job_name(owner.name, run_id, attempt):
        return f"the Job is not named as the extract Job of run {run_id} attempt {attempt}"
    if annotations.get(ANNOTATION_ETLJOB_UID) != owner.uid:
        return f"the Job was not made for EtlJob {owner.name!r} (uid {owner.uid})"
    return None


def _resources(spec: ResourceRequirements | None) -> dict[str, Any]:
    if spec is None:
        return {}
    doc = spec.to_document()
    return {k: {name: str(q) for name, q in v.items()} for k, v in doc.items() if v}


def extract_job(
    *,
    owner: Owner,
    tenant: str,
    namespace: str,
    run_id: str | int,
    attempt: int,
    spec: EtlJobSpec,
    config: ExtractPodConfig,
) -> dict[str, Any]:
    """The batch/v1 Job running `quarry extract --run-id RUN` for one attempt of one tenant's run.

    It runs in the platform's `namespace`, beside the connection Secret it reads, so nothing
    that grants more than the tenant's own data is ever placed in the tenant's namespace; the
    tenant's integration credentials reach it through a per-run Secret the Job owns
    (`run_credentials_secret`). An owner reference cannot cross namespaces: the EtlJob is named
    in labels and annotations, and the operator deletes the Jobs of a deleted EtlJob itself.
    backoffLimit is 0 because the reconcile core owns retries (with the EtlJob's backoff), and
    each attempt gets a Job of its own so its pod and logs stay inspectable.
    """
    name = extract_job_name(owner.name, run_id, attempt)
    labels = {
        "app.kubernetes.io/name": "quarry",
        LABEL_COMPONENT: "extract",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_TENANT: label_value(tenant),
        LABEL_ETLJOB: label_value(owner.name),
        LABEL_RUN: str(run_id),
        LABEL_ATTEMPT: str(attempt),
    }
    env: list[dict[str, Any]] = [
        _secret_env("DATABASE_URL", config.config_secret, optional=False),
        _secret_env("AMQP_URL", config.config_secret, optional=True),
        {"name": "QUARRY_CREDENTIALS_DIR", "value": config.credentials_mount_path},
        {"name": "QUARRY_QUEUE_PREFIX", "value": config.queue_prefix},
        {"name": "QUARRY_RUN_ID", "value": str(run_id)},
        {"name": "QUARRY_RUN_ATTEMPT", "value": str(attempt)},
        {"name": "QUARRY_LOG_FORMAT", "value": config.log_format},
        {"name": "QUARRY_EGRESS_ALLOW_PRIVATE", "value": "true" if config.egress_allow_private else "false"},
    ]
    container: dict[str, Any] = {
        "name": EXTRACT_CONTAINER,
        "image": config.image,
        "imagePullPolicy": config.image_pull_policy,
        "command": ["quarry"],
        "args": ["extract", "--run-id", str(run_id)],
        "env": env,
        "volumeMounts": [
            {"name": CREDENTIALS_VOLUME, "mountPath": config.credentials_mount_path, "readOnly": True}
        ],
        # The last log lines become the pod's termination message: the run's error text.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    resources = _resources(spec.extract.resources)
    if resources:
        container["resources"] = resources
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # Numeric ids so that runAsNonRoot can be verified; fsGroup makes the mounted credentials
        # (mode 0440, root-owned otherwise) readable by that user.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": EXTRACT_UID,
            "runAsGroup": EXTRACT_UID,
            "fsGroup": EXTRACT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "automountServiceAccountToken": False,
        "containers": [container],
        "volumes": [
            {
                "name": CREDENTIALS_VOLUME,
                "secret": {"secretName": credentials_secret_name(name), "defaultMode": 0o440},
            }
        ],
    }
    if config.service_account:
        pod_spec["serviceAccountName"] = config.service_account
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": config.ttl_seconds,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }
    if config.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = config.active_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {ANNOTATION_ETLJOB: owner.name, ANNOTATION_ETLJOB_UID: owner.uid},
        },
        "spec": job_spec,
    }


def run_credentials_secret(job: Mapping[str, Any], job_uid: str, data: Mapping[str, str]) -> dict[str, Any]:
    """The tenant's integration credentials for one extract Job, deleted with it (owner reference)."""
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": credentials_secret_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {**meta["labels"], LABEL_COMPONENT: "credentials"},
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": job_uid,
                 "controller": True}
            ],
        },
        "stringData": dict(data),
    }


def _secret_env(name: str, secret: str, *, optional: bool) -> dict[str, Any]:
    ref = {"name": secret, "key": name, "optional": optional}
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def replicas_patch(replicas: int) -> dict[str, Any]:
    return {"spec": {"replicas": replicas}}
