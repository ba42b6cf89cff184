"""A Job may only speak for its own run: labels naming another tenant's run are ignored."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlRun
from quarry_sandbox.jira_server import JiraServer
from tests.kube.harness import KubeHandle
from tests.operator.support import apply, condition, jira_manifests

JOB = "acme-jira-sync"


def _run(engine: Engine, namespace: str) -> EtlRun:
    with Session(engine) as session:
        [run] = session.scalars(select(EtlRun).where(EtlRun.tenant == namespace))
        return run


def _forge(kube: KubeHandle, real: dict[str, Any], namespace: str, name: str) -> None:
    """A Job carrying the real one's labels and annotations (anyone may write those)."""
    meta = real["metadata"]
    kube.create(
        "jobs",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "labels": copy.deepcopy(meta["labels"]),
                "annotations": copy.deepcopy(meta.get("annotations") or {}),
            },
            "spec": copy.deepcopy(real["spec"]),
        },
        namespace,
    )


def test_a_job_elsewhere_naming_the_run_cannot_fail_it(
    kube: KubeHandle, run_operator: Any, namespace: str, jira: JiraServer, engine: Engine
) -> None:
    evil = f"evil-{uuid.uuid4().hex[:6]}"
    kube.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": evil}})
    with run_operator(evil):
        apply(kube, namespace, *jira_manifests(namespace, jira.base_url))
        kube.wait_for_object(
            "etljobs", namespace, JOB, lambda o: (o.get("status") or {}).get("phase") == "Running"
        )
        run = _run(engine, namespace)
        real_name = f"{JOB}-run-{run.id}-a1"
        real = kube.wait_for_object("jobs", namespace, real_name)

        # Another namespace (even under the real name), and the run's own namespace under another name.
        _forge(kube, real, evil, real_name)
        _forge(kube, real, namespace, f"{JOB}-decoy")
        kube.fail_job(evil, real_name, message="forged by evil")
        kube.fail_job(namespace, f"{JOB}-decoy", message="forged decoy")
        time.sleep(2.0)  # several event rounds of the operator
        run = _run(engine, namespace)
        assert run.attempt_error is None and run.phase in ("Pending", "Running"), run.error
        assert run.attempt == 1
        etljob = kube.get("etljobs", namespace, JOB)
        assert etljob is not None and condition(etljob, "Running")["reason"] != "RetryBackoff"

        # Its own Job still reports its failure.
        kube.fail_job(namespace, real_name, message="the extract pod was evicted")
        retrying = kube.wait_for_object(
            "etljobs", namespace, JOB, lambda o: condition(o, "Running")["reason"] == "RetryBackoff"
        )
        assert "the extract pod was evicted" in retrying["status"]["message"]
