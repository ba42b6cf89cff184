"""Pure builders of the Kubernetes objects the operator creates: no I/O, no clock.

The extract Job of a run is named deterministically from (EtlJob, run, attempt), so creating it
twice answers 409 and never starts a second pod for one attempt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quarry_core.resources import API_VERSION, EtlJobSpec, ResourceRequirements

MANAGED_BY = "quarry-operator"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_ETLJOB = "quarry.dev/etljob"
LABEL_RUN = "quarry.dev/run"
LABEL_ATTEMPT = "quarry.dev/attempt"
ANNOTATION_ETLJOB = "quarry.dev/etljob"
STAGE_LABEL = "quarry.dev/stage"
"""On a worker Deployment: the queue stage (transform|load) whose depth sizes it."""

MAX_NAME = 63  # Job names end up in the pods' job-name label, which is limited to 63
EXTRACT_CONTAINER = "extract"
CREDENTIALS_VOLUME = "credentials"


@dataclass(frozen=True)
class Owner:
    """The EtlJob that owns the objects (its uid makes garbage collection exact)."""

    name: str
    uid: str
    api_version: str = API_VERSION
    kind: str = "EtlJob"

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


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


def job_selector(etljob: str, run_id: str | int | None = None) -> str:
    """Label selector of the extract Jobs of an EtlJob (or of one of its runs)."""
    selector = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_ETLJOB}={label_value(etljob)}"
    return selector if run_id is None else f"{selector},{LABEL_RUN}={run_id}"


def foreign_extract_job(
    namespace: str, meta: Mapping[str, Any], *, run_tenant: str, owner: Owner, run_id: int, attempt: int
) -> str | None:
    """Why this Job may not speak for the run it names (None: it is that run's own extract Job).

    Labels are anyone's to write: a Job in another namespace, or one not created by the operator
    for this EtlJob, must not fail (or otherwise move) a run by naming it in its labels.
    """
    if namespace != run_tenant:
        return f"the Job is in namespace {namespace!r}, run {run_id} belongs to {run_tenant!r}"
    if meta.get("name") != extract_job_name(owner.name, run_id, attempt):
        return f"the Job is not named as the extract Job of run {run_id} attempt {attempt}"
    controllers = [r for r in meta.get("ownerReferences") or [] if r.get("controller")]
    if [(r.get("kind"), r.get("uid")) for r in controllers] != [(owner.kind, owner.uid)]:
        return f"the Job is not controlled by EtlJob {owner.name!r} (uid {owner.uid})"
    return None


def _resources(spec: ResourceRequirements | None) -> dict[str, Any]:
    if spec is None:
        return {}
    doc = spec.to_document()
    return {k: {name: str(q) for name, q in v.items()} for k, v in doc.items() if v}


def extract_job(
    *,
    owner: Owner,
    namespace: str,
    run_id: str | int,
    attempt: int,
    spec: EtlJobSpec,
    credentials_secret: str,
    config: ExtractPodConfig,
) -> dict[str, Any]:
    """The batch/v1 Job running `quarry extract --run-id RUN` for one attempt of one run.

    backoffLimit is 0 because the reconcile core owns retries (with the EtlJob's backoff), and
    each attempt gets a Job of its own so its pod and logs stay inspectable.
    """
    name = extract_job_name(owner.name, run_id, attempt)
    labels = {
        "app.kubernetes.io/name": "quarry",
        LABEL_COMPONENT: "extract",
        LABEL_MANAGED_BY: MANAGED_BY,
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
        "containers": [container],
        "volumes": [
            {
                "name": CREDENTIALS_VOLUME,
                "secret": {"secretName": credentials_secret, "defaultMode": 0o440},
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
            "annotations": {ANNOTATION_ETLJOB: owner.name},
            "ownerReferences": [owner.reference()],
        },
        "spec": job_spec,
    }


def _secret_env(name: str, secret: str, *, optional: bool) -> dict[str, Any]:
    ref = {"name": secret, "key": name, "optional": optional}
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def config_secret(
    namespace: str, name: str, *, database_url: str, amqp_url: str | None
) -> dict[str, Any]:
    """The copy of the operator's connection settings that extract pods of `namespace` read."""
    data = {"DATABASE_URL": database_url}
    if amqp_url:
        data["AMQP_URL"] = amqp_url
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: "config"},
        },
        "stringData": data,
    }


def replicas_patch(replicas: int) -> dict[str, Any]:
    return {"spec": {"replicas": replicas}}
