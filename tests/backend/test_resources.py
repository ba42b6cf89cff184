"""Integrations and jobs through the API write the resource store; actions reach the runs."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quarry_core import store
from quarry_core.db.models import EtlRun, Secret
from quarry_core.runs import create_run
from tests.backend.conftest import JIRA_INTEGRATION, JIRA_JOB, Tenant, seed


def test_integration_crud_keeps_credentials_write_only(
    client: TestClient, acme: Tenant, engine: Engine
) -> None:
    h = acme.headers("editor")
    created = client.post("/api/v1/integrations", json=JIRA_INTEGRATION, headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["credentials"] == {"secretName": "acme-jira-credentials", "set": True}
    assert "s3cret-token-value" not in created.text
    assert client.post("/api/v1/integrations", json=JIRA_INTEGRATION, headers=h).status_code == 409
    with Session(engine) as session:
        secret = session.scalar(select(Secret).where(Secret.tenant == acme.name))
        assert secret is not None and b"s3cret-token-value" not in secret.data  # stored encrypted
    update = {k: v for k, v in JIRA_INTEGRATION.items() if k not in ("name", "credentials")}
    update["scope"] = {"projects": ["ENG", "OPS"]}
    updated = client.put("/api/v1/integrations/acme-jira", json=update, headers=h)
    assert updated.status_code == 200 and updated.json()["scope"]["projects"] == ["ENG", "OPS"]
    assert updated.json()["credentials"]["set"] is True and updated.json()["generation"] == 2
    listed = client.get("/api/v1/integrations", headers=acme.headers("viewer")).json()
    assert [i["name"] for i in listed] == ["acme-jira"]
    assert client.delete("/api/v1/integrations/acme-jira", headers=h).status_code == 204
    assert client.get("/api/v1/integrations/acme-jira", headers=h).status_code == 404
    with Session(engine) as session:
        assert session.scalar(select(Secret).where(Secret.tenant == acme.name)) is None


def test_bad_input_is_422_naming_the_field(client: TestClient, acme: Tenant) -> None:
    h = acme.headers("editor")
    bad = client.post("/api/v1/integrations", json={**JIRA_INTEGRATION, "baseUrl": "ftp://x"}, headers=h)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "baseUrl"]
    wrong_scope = client.post(
        "/api/v1/integrations", json={**JIRA_INTEGRATION, "scope": {"org": "acme"}}, headers=h
    )
    assert wrong_scope.status_code == 422 and "scope" in wrong_scope.text
    no_integration = client.post("/api/v1/jobs", json=JIRA_JOB, headers=h)
    assert no_integration.status_code == 422 and no_integration.json()["detail"][0]["loc"] == [
        "body",
        "integration",
    ]
    client.post("/api/v1/integrations", json=JIRA_INTEGRATION, headers=h)
    github_entities = client.post("/api/v1/jobs", json={**JIRA_JOB, "entities": ["commits"]}, headers=h)
    assert github_entities.status_code == 422 and github_entities.json()["detail"][0]["loc"] == [
        "body",
        "entities",
    ]
    bad_cron = client.post("/api/v1/jobs", json={**JIRA_JOB, "schedule": "every day"}, headers=h)
    assert bad_cron.status_code == 422 and bad_cron.json()["detail"][0]["loc"] == ["body", "schedule"]
    no_minute_61 = client.post("/api/v1/jobs", json={**JIRA_JOB, "schedule": "61 * * * *"}, headers=h)
    assert no_minute_61.status_code == 422
    assert no_minute_61.json()["detail"][0]["loc"] == ["body", "schedule"]
    assert "not a valid cron expression" in no_minute_61.json()["detail"][0]["msg"]


def test_job_crud_and_actions(client: TestClient, acme: Tenant, engine: Engine) -> None:
    h = acme.headers("editor")
    client.post("/api/v1/integrations", json=JIRA_INTEGRATION, headers=h)
    created = client.post("/api/v1/jobs", json={**JIRA_JOB, "schedule": "*/30 * * * *"}, headers=h)
    assert created.status_code == 201, created.text
    assert created.json()["schedule"] == "*/30 * * * *"
    run = client.post("/api/v1/jobs/acme-jira-sync/run", headers=h)
    assert run.status_code == 202
    with Session(engine) as session:
        job = store.get_job(session, acme.name, "acme-jira-sync")
        assert job.spec["runRequest"] == run.json()["token"]
    retransform = client.post("/api/v1/jobs/acme-jira-sync/retransform", headers=h).json()
    assert client.post("/api/v1/jobs/acme-jira-sync/pause", headers=h).status_code == 202
    assert client.get("/api/v1/jobs/acme-jira-sync", headers=h).json()["suspend"] is True
    assert client.post("/api/v1/jobs/acme-jira-sync/resume", headers=h).status_code == 202
    updated = client.put(
        "/api/v1/jobs/acme-jira-sync",
        json={"integration": "acme-jira", "entities": ["issues"], "mode": "full"},
        headers=h,
    )
    assert updated.status_code == 200 and updated.json()["mode"] == "full"
    with Session(engine) as session:
        spec = store.get_job(session, acme.name, "acme-jira-sync").spec
        # An edit keeps the tokens other writers own.
        assert spec["retransform"] == retransform["token"] and spec["runRequest"] == run.json()["token"]
    assert client.delete("/api/v1/jobs/acme-jira-sync", headers=h).status_code == 204
    assert client.get("/api/v1/jobs/acme-jira-sync", headers=h).status_code == 404


def test_stop_cancels_the_active_run_and_keeps_loaded_rows(
    client: TestClient, acme: Tenant, engine: Engine
) -> None:
    seeded = seed(engine, client, acme)
    with Session(engine) as session:
        session.get_one(EtlRun, seeded.run_id).phase = "Running"
        session.commit()
    stopped = client.post("/api/v1/jobs/acme-jira-sync/stop", headers=acme.headers("editor"))
    assert stopped.status_code == 202 and stopped.json()["cancelledRunIds"] == [seeded.run_id]
    run = client.get(f"/api/v1/runs/{seeded.run_id}", headers=acme.headers("viewer")).json()
    assert run["phase"] == "Cancelled" and run["finishedAt"] is not None
    assert (
        client.get(f"/api/v1/work-items/{seeded.work_item_id}", headers=acme.headers("viewer")).status_code
        == 200
    )


def test_run_history_shows_counts_attempts_errors_and_pages(
    client: TestClient, acme: Tenant, engine: Engine
) -> None:
    seeded = seed(engine, client, acme)
    with Session(engine) as session:
        job = store.get_job(session, acme.name, "acme-jira-sync")
        integration = store.get_integration(session, acme.name, "acme-jira")
        newer_id = create_run(
            session, job, integration, mode="incremental", entities=["issues"], trigger="schedule"
        ).id
        session.commit()
    h = acme.headers("viewer")
    first = client.get("/api/v1/jobs/acme-jira-sync/runs?limit=1", headers=h).json()
    assert [r["id"] for r in first["items"]] == [newer_id] and first["nextCursor"]
    second = client.get(
        f"/api/v1/jobs/acme-jira-sync/runs?limit=1&cursor={first['nextCursor']}", headers=h
    ).json()
    run = second["items"][0]
    assert run["id"] == seeded.run_id and second["nextCursor"] is None
    assert run["counts"]["issues"] == {"pages": 1, "extracted": 2, "transformed": 2, "loaded": 1, "failed": 0}
    assert run["attempt"] == 1 and run["deadLetters"] == 1 and run["job"] == "acme-jira-sync"
    assert client.get("/api/v1/runs?phase=Pending", headers=h).json()["items"][0]["phase"] == "Pending"
    pages = client.get(f"/api/v1/runs/{seeded.run_id}/raw-pages", headers=h).json()["items"]
    assert [p["id"] for p in pages] == [seeded.raw_id] and "response" not in pages[0]
    page = client.get(f"/api/v1/raw-pages/{seeded.raw_id}", headers=h).json()
    assert page["response"]["issues"][0]["key"] == "ENG-1"
    assert client.get("/api/v1/runs?cursor=zz", headers=h).status_code == 422
