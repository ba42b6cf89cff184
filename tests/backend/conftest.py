"""The API against a real PostgreSQL: an app per test session, tenants and users per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quarry_backend.admin import create_tenant, create_user
from quarry_backend.app import create_app
from quarry_backend.settings import ApiSettings
from quarry_core import store
from quarry_core.db.models import (
    DeadLetter,
    PullRequest,
    RawExtractionData,
    StatusMapping,
    WitHierarchy,
    WitMapping,
    Workflow,
    WorkflowStep,
    WorkItem,
)
from quarry_core.runs import add_counts, create_run
from quarry_core.settings import CoreSettings

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def api_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> ApiSettings:
    data_dir: Path = tmp_path_factory.mktemp("api-data")
    return ApiSettings.model_validate(
        {
            "DATABASE_URL": database_url,
            "QUARRY_DATA_DIR": str(data_dir),
            "QUARRY_QUEUE_PREFIX": f"qa{uuid.uuid4().hex[:8]}",
            "QUARRY_SECRET_KEY": "8Mu5ab8lB0Y3kKqVQ7VJqYbQzqkFqYH2u8Q2s0JHcZI=",
        }
    )


@pytest.fixture(scope="session")
def app(api_settings: ApiSettings) -> Iterator[FastAPI]:
    application = create_app(api_settings)
    yield application
    application.state.db.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/v1/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Tenant:
    name: str
    tokens: dict[str, str] = field(default_factory=dict)  # role -> access token
    emails: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_tenant(
    engine: Engine, client: TestClient, roles: tuple[str, ...] = ("admin", "editor", "viewer")
) -> Tenant:
    name = f"t-{uuid.uuid4().hex[:10]}"
    tenant = Tenant(name)
    with Session(engine) as session:
        create_tenant(session, name)
        for role in roles:
            email = f"{role}-{uuid.uuid4().hex[:6]}@{name}.example"
            user = create_user(session, name, email, PASSWORD, role)
            tenant.emails[role], tenant.user_ids[role] = email, user.id
        session.commit()
    for role, email in tenant.emails.items():
        tenant.tokens[role] = login(client, email)["access_token"]
    return tenant


@pytest.fixture
def acme(engine: Engine, client: TestClient) -> Tenant:
    return make_tenant(engine, client)


@pytest.fixture
def other(engine: Engine, client: TestClient) -> Tenant:
    return make_tenant(engine, client)


JIRA_INTEGRATION = {
    "name": "acme-jira",
    "type": "jira",
    "baseUrl": "https://jira.invalid",
    "scope": {"projects": ["ENG"]},
    "credentials": {"email": "bot@acme.io", "token": "s3cret-token-value"},
}
JIRA_JOB = {"name": "acme-jira-sync", "integration": "acme-jira", "entities": ["projects", "issues"]}


@dataclass
class Seeded:
    integration: str
    job: str
    run_id: int
    raw_id: int
    work_item_id: int
    pull_request_id: int
    dead_letter_id: int
    dead_letter_message_id: str
    type_mapping_id: int
    hierarchy_id: int
    status_mapping_id: int
    workflow_name: str


def seed(engine: Engine, client: TestClient, tenant: Tenant) -> Seeded:
    """An integration and job through the API; a run, a raw page, final rows and a dead letter below it."""
    h = tenant.headers("editor")
    assert client.post("/api/v1/integrations", json=JIRA_INTEGRATION, headers=h).status_code == 201
    assert client.post("/api/v1/jobs", json=JIRA_JOB, headers=h).status_code == 201
    with Session(engine) as session:
        job = store.get_job(session, tenant.name, "acme-jira-sync")
        integration = store.get_integration(session, tenant.name, "acme-jira")
        run = create_run(session, job, integration, mode="full", entities=["issues"], trigger="manual")
        add_counts(session, tenant.name, run.id, "issues", pages=1, extracted=2, transformed=2, loaded=1)
        raw = RawExtractionData(
            tenant=tenant.name,
            integration_id=integration.id,
            run_id=run.id,
            entity="issues",
            stream="issues:ENG",
            page_seq=0,
            url="https://jira.invalid/rest/api/3/search/jql",
            params={"jql": "project = ENG"},
            status=200,
            response={"issues": [{"key": "ENG-1"}, {"key": "ENG-2"}]},
            item_count=2,
        )
        session.add(raw)
        session.flush()
        item = WorkItem(
            tenant=tenant.name,
            integration_id=integration.id,
            source_id="10001",
            key="ENG-1",
            title="First",
            type="Story",
            status="Done",
            raw_id=raw.id,
        )
        pr = PullRequest(
            tenant=tenant.name,
            integration_id=integration.id,
            repository="acme/api",
            number=7,
            title="Fix",
            raw_id=raw.id,
        )
        letter = DeadLetter(
            tenant=tenant.name,
            queue="quarry.load.dlq",
            message_id=f"m-{uuid.uuid4().hex[:8]}",
            body=b"{}",
            headers={},
            error="boom",
            attempts=5,
            run_id=run.id,
        )
        type_mapping = WitMapping(tenant=tenant.name, source_type="Story", standard_type="STORY")
        hierarchy = WitHierarchy(tenant=tenant.name, standard_type="STORY", level=0)
        status_mapping = StatusMapping(
            tenant=tenant.name, work_item_type="*", source_status="Done", standard_status="Done"
        )
        workflow = Workflow(tenant=tenant.name, name="delivery", work_item_type="*")
        session.add_all([item, pr, letter, type_mapping, hierarchy, status_mapping, workflow])
        session.flush()
        session.add(
            WorkflowStep(
                tenant=tenant.name, workflow_id=workflow.id, position=0, name="Done", standard_status="Done"
            )
        )
        session.commit()
        return Seeded(
            "acme-jira",
            "acme-jira-sync",
            run.id,
            raw.id,
            item.id,
            pr.id,
            letter.id,
            letter.message_id,
            type_mapping.id,
            hierarchy.id,
            status_mapping.id,
            workflow.name,
        )


__all__ = ["PASSWORD", "CoreSettings", "Seeded", "Tenant", "login", "make_tenant", "seed"]
