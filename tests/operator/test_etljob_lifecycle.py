"""An EtlJob through its life: extract Job, status mirrored from the run, retries, suspend, delete."""

from __future__ import annotations

from typing import Any

import kubernetes.client
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlJob, EtlRun
from quarry_core.runs import add_counts, set_phase
from quarry_core.states import RunPhase
from quarry_sandbox.jira_server import JiraServer
from tests.kube.harness import KubeHandle
from tests.operator.support import GROUP, VERSION, apply, condition, jira_manifests

JOB = "acme-jira-sync"


def runs_of(engine: Engine, namespace: str) -> list[EtlRun]:
    with Session(engine) as session:
        return list(session.scalars(select(EtlRun).where(EtlRun.tenant == namespace).order_by(EtlRun.id)))


def phase_is(*phases: str) -> Any:
    return lambda o: (o.get("status") or {}).get("phase") in phases


def test_create_runs_extract_job_and_mirrors_the_run(
    kube: KubeHandle, run_operator: Any, namespace: str, jira: JiraServer, engine: Engine
) -> None:
    with run_operator():
        apply(kube, namespace, *jira_manifests(namespace, jira.base_url))
        integration = kube.wait_for_object("integrations", namespace, "acme-jira", phase_is("Ready"))
        assert condition(integration, "Ready")["reason"] == "Verified"

        etljob = kube.wait_for_object("etljobs", namespace, JOB, phase_is("Running"))
        [run] = runs_of(engine, namespace)
        name = f"{JOB}-run-{run.id}-a1"
        job = kube.wait_for_object("jobs", namespace, name)
        assert job["metadata"]["annotations"]["quarry.dev/etljob-uid"] == etljob["metadata"]["uid"]
        pod = job["spec"]["template"]["spec"]
        assert pod["containers"][0]["args"] == ["extract", "--run-id", str(run.id)]
        assert pod["volumes"][0]["secret"]["secretName"] == f"{name}-credentials"
        assert job["spec"]["backoffLimit"] == 0
        assert condition(etljob, "Running")["status"] == "True"
        assert etljob["status"]["currentRun"] == str(run.id)

        # The extractor and the workers move the run; the operator mirrors it into the status.
        kube.start_job(namespace, name)
        with Session(engine) as session, session.begin():
            set_phase(session, run.id, RunPhase.RUNNING)
            add_counts(session, namespace, run.id, "issues", extracted=20, transformed=20, loaded=20)
            set_phase(session, run.id, RunPhase.SUCCEEDED)
        kube.complete_job(namespace, name)
        done = kube.wait_for_object("etljobs", namespace, JOB, phase_is("Succeeded"))
        assert condition(done, "Succeeded")["status"] == "True"
        assert condition(done, "Running")["status"] == "False"
        assert done["status"]["counts"]["issues"]["loaded"] == 20
        assert done["status"]["progress"] == "20/20 loaded (100%)"
        assert done["status"]["lastSuccessfulRun"] == str(run.id)
        assert len(runs_of(engine, namespace)) == 1  # the timer re-reconciles without starting more


def test_failed_pod_is_retried_with_backoff_then_fails_with_its_reason(
    kube: KubeHandle, run_operator: Any, namespace: str, jira: JiraServer, engine: Engine
) -> None:
    retry = {"retry": {"maxAttempts": 2, "backoffSeconds": 1}}
    with run_operator():
        apply(kube, namespace, *jira_manifests(namespace, jira.base_url, job=retry))
        kube.wait_for_object("etljobs", namespace, JOB, phase_is("Running"))
        [run] = runs_of(engine, namespace)
        first = f"{JOB}-run-{run.id}-a1"
        kube.wait_for_object("jobs", namespace, first)

        # The pod of the first attempt ends with an error; its termination message is the reason.
        kube.start_job(namespace, first)
        pod = kube.create("pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{first}-x7k2p", "labels": {"job-name": first}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "extract", "image": "quarry:test"}]},
        }, namespace)
        terminated = {"exitCode": 3, "reason": "Error", "message": "jira answered 502 Bad Gateway 3 times"}
        kube.patch_status("pods", namespace, pod["metadata"]["name"], {
            "phase": "Failed", "containerStatuses": [{
            "name": "extract", "image": "quarry:test", "imageID": "", "ready": False, "restartCount": 0,
            "state": {"terminated": terminated}}]})
        kube.fail_job(namespace, first)
        retrying = kube.wait_for_object(
            "etljobs", namespace, JOB, lambda o: condition(o, "Running")["reason"] == "RetryBackoff")
        assert "jira answered 502 Bad Gateway 3 times" in retrying["status"]["message"]

        second = f"{JOB}-run-{run.id}-a2"
        kube.wait_for_object("jobs", namespace, second, timeout=10)
        [run] = runs_of(engine, namespace)
        assert run.attempt == 2 and run.attempt_error is None
        assert (run.updated_at - run.created_at).total_seconds() >= 1  # the backoff was honoured

        kube.fail_job(namespace, second, message="the extract pod was evicted")
        failed = kube.wait_for_object("etljobs", namespace, JOB, phase_is("Failed"))
        reason = condition(failed, "Failed")
        assert reason["status"] == "True"
        assert "attempt 2 of 2 failed" in reason["message"]
        assert "the extract pod was evicted" in reason["message"]
        [run] = runs_of(engine, namespace)
        assert run.phase == "Failed" and run.error.startswith("AttemptsExhausted")
        assert kube.get("jobs", namespace, f"{JOB}-run-{run.id}-a3") is None


def test_suspend_resume_and_delete(
    kube: KubeHandle, run_operator: Any, namespace: str, jira: JiraServer, engine: Engine
) -> None:
    api = kube.custom_objects
    with run_operator():
        apply(kube, namespace, *jira_manifests(namespace, jira.base_url))
        kube.wait_for_object("etljobs", namespace, JOB, phase_is("Running"))
        [run] = runs_of(engine, namespace)
        kube.wait_for_object("jobs", namespace, f"{JOB}-run-{run.id}-a1")

        suspend = {"spec": {"suspend": True}}
        api.patch_namespaced_custom_object(GROUP, VERSION, namespace, "etljobs", JOB, suspend)
        kube.wait_for_object("etljobs", namespace, JOB, phase_is("Suspended"))
        kube.wait_for_absence("jobs", namespace, f"{JOB}-run-{run.id}-a1")
        assert [r.phase for r in runs_of(engine, namespace)] == ["Cancelled"]

        # Resume with a run request: a new run and a new extract Job.
        patch = {"spec": {"suspend": False, "runRequest": "now-1"}}
        api.patch_namespaced_custom_object(GROUP, VERSION, namespace, "etljobs", JOB, patch)
        kube.wait_for_object("etljobs", namespace, JOB, phase_is("Running"))
        runs = runs_of(engine, namespace)
        assert [(r.phase, r.trigger) for r in runs] == [("Cancelled", "create"), ("Pending", "manual")]
        second = f"{JOB}-run-{runs[1].id}-a1"
        kube.wait_for_object("jobs", namespace, second)
        kube.start_job(namespace, second)

        # Delete: the finalizer stops the pod, cancels the run and removes the job's rows.
        api.delete_namespaced_custom_object(GROUP, VERSION, namespace, "etljobs", JOB)
        kube.wait_for_absence("etljobs", namespace, JOB)
        kube.wait_for_absence("jobs", namespace, second)
        with Session(engine) as session:
            assert session.scalar(select(EtlJob).where(EtlJob.tenant == namespace)) is None
        assert runs_of(engine, namespace) == []


def test_integration_with_bad_credentials_is_not_ready_and_holds_its_jobs(
    kube: KubeHandle, run_operator: Any, namespace: str, jira: JiraServer
) -> None:
    with run_operator():
        apply(kube, namespace, *jira_manifests(namespace, jira.base_url, token="wrong"))
        integration = kube.wait_for_object("integrations", namespace, "acme-jira", phase_is("Error"))
        ready = condition(integration, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "AuthFailed")
        assert "wrong" not in ready["message"]
        job = kube.wait_for_object(
            "etljobs", namespace, JOB, lambda o: (condition(o, "Ready") or {}).get("status") == "False")
        assert condition(job, "Ready")["reason"] == "IntegrationNotReady"
        assert kube.list("jobs", namespace) == []


def test_invalid_etljob_is_rejected_by_the_schema(kube: KubeHandle, namespace: str) -> None:
    _, _, etljob = jira_manifests(namespace, "http://127.0.0.1:1", job={"mode": "sometimes"})
    with pytest.raises(kubernetes.client.ApiException) as caught:
        apply(kube, namespace, etljob)
    assert caught.value.status == 422
    assert "spec.mode" in caught.value.body
