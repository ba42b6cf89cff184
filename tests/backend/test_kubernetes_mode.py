"""QUARRY_RESOURCES=kubernetes: the API writes Integration / EtlJob custom resources and the
credentials Secret to the Kubernetes API (the emulator of tests/kube), and reads PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quarry_backend.app import create_app
from quarry_backend.resource_backend import KubernetesResources
from quarry_backend.settings import ApiSettings
from quarry_core import store
from quarry_core.db.models import EtlRun
from quarry_core.runs import create_run, set_phase
from quarry_core.states import RunPhase
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.backend.conftest import Tenant, make_tenant
from tests.kube.harness import KubeHandle, run_emulator
from tests.operator.support import GROUP, VERSION

JOB = {"name": "acme-jira-sync", "integration": "acme-jira", "entities": ["projects", "issues"]}


@pytest.fixture(scope="module")
def jira() -> Iterator[JiraServer]:
    with JiraServer(JiraDataset.synthetic(5, projects=1, seed=3)) as server:
        yield server


@pytest.fixture
def kube_app(api_settings: ApiSettings) -> Iterator[FastAPI]:
    settings = api_settings.model_copy(update={"resources": "kubernetes"})
    application = create_app(settings)
    assert isinstance(application.state.resources, KubernetesResources)
    yield application
    application.state.db.dispose()


@pytest.fixture
def k8s(engine: Engine, kube_app: FastAPI) -> Iterator[tuple[TestClient, Tenant, KubeHandle]]:
    with TestClient(kube_app) as client:
        tenant = make_tenant(engine, client)
        with run_emulator(namespaces=("default", tenant.name)) as kube:
            yield client, tenant, kube


def _integration(jira: JiraServer, token: str) -> dict[str, Any]:
    return {
        "name": "acme-jira",
        "type": "jira",
        "baseUrl": jira.base_url,
        "scope": {"projects": ["ENG"]},
        "credentials": {"email": jira.config.email, "token": token},
    }


def _custom(kube: KubeHandle, plural: str, namespace: str, name: str) -> dict[str, Any]:
    obj = kube.get(f"{GROUP}/{VERSION}/{plural}", namespace, name)
    assert obj is not None, (plural, name)
    return obj


def test_integration_writes_the_custom_resource_and_the_secret(
    k8s: tuple[TestClient, Tenant, KubeHandle], jira: JiraServer, engine: Engine
) -> None:
    client, tenant, kube = k8s
    h = tenant.headers("editor")
    created = client.post("/api/v1/integrations", json=_integration(jira, "wrong-token"), headers=h)
    assert created.status_code == 201, created.text
    assert created.json()["credentials"] == {"secretName": "acme-jira-credentials", "set": True}
    assert "wrong-token" not in created.text

    integration = _custom(kube, "integrations", tenant.name, "acme-jira")
    assert integration["spec"]["baseUrl"] == jira.base_url
    assert integration["spec"]["credentials"]["secretRef"]["name"] == "acme-jira-credentials"
    secret = kube.get("v1/secrets", tenant.name, "acme-jira-credentials")
    assert secret is not None
    values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert values == {"email": jira.config.email, "token": "wrong-token"}
    with Session(engine) as session:  # nothing of the credentials in PostgreSQL
        assert store.get_integration(session, tenant.name, "acme-jira").spec["baseUrl"] == jira.base_url

    # The connection test reads the Secret from Kubernetes.
    failed = client.post("/api/v1/integrations/acme-jira/test", headers=h).json()
    assert (failed["ready"], failed["reason"]) == (False, "AuthFailed")
    update = {k: v for k, v in _integration(jira, jira.config.api_token).items() if k != "name"}
    assert client.put("/api/v1/integrations/acme-jira", json=update, headers=h).status_code == 200
    assert client.post("/api/v1/integrations/acme-jira/test", headers=h).json()["ready"] is True

    assert client.delete("/api/v1/integrations/acme-jira", headers=h).status_code == 204
    assert kube.get(f"{GROUP}/{VERSION}/integrations", tenant.name, "acme-jira") is None
    assert kube.get("v1/secrets", tenant.name, "acme-jira-credentials") is None
    assert client.get("/api/v1/integrations/acme-jira", headers=h).status_code == 404


def test_job_actions_write_the_etljob_spec(
    k8s: tuple[TestClient, Tenant, KubeHandle], jira: JiraServer, engine: Engine
) -> None:
    client, tenant, kube = k8s
    h = tenant.headers("editor")
    assert client.post("/api/v1/integrations", json=_integration(jira, "t"), headers=h).status_code == 201
    created = client.post("/api/v1/jobs", json=JOB, headers=h)
    assert created.status_code == 201, created.text
    etljob = _custom(kube, "etljobs", tenant.name, "acme-jira-sync")
    assert etljob["spec"]["integrationRef"] == {"name": "acme-jira"}
    assert etljob["spec"]["entities"] == ["projects", "issues"]

    token = client.post("/api/v1/jobs/acme-jira-sync/run", headers=h).json()["token"]
    assert _custom(kube, "etljobs", tenant.name, "acme-jira-sync")["spec"]["runRequest"] == token
    client.post("/api/v1/jobs/acme-jira-sync/pause", headers=h)
    assert _custom(kube, "etljobs", tenant.name, "acme-jira-sync")["spec"]["suspend"] is True
    assert client.get("/api/v1/jobs/acme-jira-sync", headers=h).json()["suspend"] is True
    client.post("/api/v1/jobs/acme-jira-sync/resume", headers=h)
    assert _custom(kube, "etljobs", tenant.name, "acme-jira-sync")["spec"]["suspend"] is False
    again = client.post("/api/v1/jobs/acme-jira-sync/retransform", headers=h).json()["token"]
    assert _custom(kube, "etljobs", tenant.name, "acme-jira-sync")["spec"]["retransform"] == again
    mapped = client.post("/api/v1/mappings/retransform", json={}, headers=h).json()["tokens"]
    assert (
        _custom(kube, "etljobs", tenant.name, "acme-jira-sync")["spec"]["retransform"] == mapped[JOB["name"]]
    )

    changed = client.put(
        "/api/v1/jobs/acme-jira-sync",
        json={
            "integration": "acme-jira",
            "entities": JOB["entities"],
            "mode": "full",
            "schedule": "*/5 * * * *",
        },
        headers=h,
    )
    assert changed.status_code == 200, changed.text
    spec = _custom(kube, "etljobs", tenant.name, "acme-jira-sync")["spec"]
    assert (spec["mode"], spec["schedule"]) == ("full", "*/5 * * * *")

    # stop: the active run ends Cancelled (its extract pod reads that and exits).
    with Session(engine) as session:
        job = store.get_job(session, tenant.name, "acme-jira-sync")
        integration = store.get_integration(session, tenant.name, "acme-jira")
        run = create_run(session, job, integration, mode="full", entities=["issues"], trigger="manual")
        set_phase(session, run.id, RunPhase.RUNNING)
        session.commit()
        run_id = run.id
    stopped = client.post("/api/v1/jobs/acme-jira-sync/stop", headers=h).json()
    assert stopped["cancelledRunIds"] == [run_id]
    with Session(engine) as session:
        assert session.get(EtlRun, run_id) is not None
        assert session.get(EtlRun, run_id).phase == RunPhase.CANCELLED.value  # type: ignore[union-attr]

    assert client.delete("/api/v1/jobs/acme-jira-sync", headers=h).status_code == 204
    assert kube.get(f"{GROUP}/{VERSION}/etljobs", tenant.name, "acme-jira-sync") is None
    assert client.get("/api/v1/jobs/acme-jira-sync", headers=h).status_code == 404


def test_readyz_asks_the_kubernetes_api(k8s: tuple[TestClient, Tenant, KubeHandle]) -> None:
    client, _, _ = k8s
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["resources"].startswith("ok (Kubernetes v1.30")


def test_readyz_is_not_ready_without_the_kubernetes_api(kube_app: FastAPI) -> None:
    with TestClient(kube_app) as client:  # no emulator: the kubeconfig points nowhere
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["resources"].startswith("unavailable (Kubernetes API")
