"""Every route of the OpenAPI document, walked as another tenant (404) and as each role (403 or not)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quarry_backend.security import role_rank
from tests.backend.conftest import Seeded, Tenant, seed

# The policy, written out: a new route fails these tests until it has a line here.
MIN_ROLE = {
    ("get", "/api/v1/me"): "viewer",
    ("get", "/api/v1/me/preferences"): "viewer",
    ("put", "/api/v1/me/preferences"): "viewer",
    ("get", "/api/v1/users"): "admin",
    ("post", "/api/v1/users"): "admin",
    ("patch", "/api/v1/users/{user_id}"): "admin",
    ("delete", "/api/v1/users/{user_id}"): "admin",
    ("get", "/api/v1/api-keys"): "admin",
    ("post", "/api/v1/api-keys"): "admin",
    ("delete", "/api/v1/api-keys/{key_id}"): "admin",
    ("get", "/api/v1/integrations"): "viewer",
    ("post", "/api/v1/integrations"): "editor",
    ("get", "/api/v1/integrations/{name}"): "viewer",
    ("put", "/api/v1/integrations/{name}"): "editor",
    ("delete", "/api/v1/integrations/{name}"): "editor",
    ("post", "/api/v1/integrations/{name}/test"): "editor",
    ("get", "/api/v1/jobs"): "viewer",
    ("post", "/api/v1/jobs"): "editor",
    ("get", "/api/v1/jobs/{name}"): "viewer",
    ("put", "/api/v1/jobs/{name}"): "editor",
    ("delete", "/api/v1/jobs/{name}"): "editor",
    ("post", "/api/v1/jobs/{name}/run"): "editor",
    ("post", "/api/v1/jobs/{name}/retransform"): "editor",
    ("post", "/api/v1/jobs/{name}/pause"): "editor",
    ("post", "/api/v1/jobs/{name}/resume"): "editor",
    ("post", "/api/v1/jobs/{name}/stop"): "editor",
    ("get", "/api/v1/jobs/{name}/runs"): "viewer",
    ("get", "/api/v1/runs"): "viewer",
    ("get", "/api/v1/runs/{run_id}"): "viewer",
    ("get", "/api/v1/runs/{run_id}/raw-pages"): "viewer",
    ("get", "/api/v1/raw-pages/{page_id}"): "viewer",
    ("get", "/api/v1/work-items"): "viewer",
    ("get", "/api/v1/work-items/{item_id}"): "viewer",
    ("get", "/api/v1/work-items/{item_id}/lineage"): "viewer",
    ("get", "/api/v1/pull-requests"): "viewer",
    ("get", "/api/v1/pull-requests/{pr_id}"): "viewer",
    ("get", "/api/v1/pull-requests/{pr_id}/lineage"): "viewer",
    ("get", "/api/v1/insights/flow"): "viewer",
    ("get", "/api/v1/queues"): "viewer",
    ("get", "/api/v1/dead-letters"): "viewer",
    ("post", "/api/v1/dead-letters/{letter_id}/replay"): "editor",
    ("delete", "/api/v1/dead-letters/{letter_id}"): "editor",
    ("get", "/api/v1/mappings/types"): "viewer",
    ("post", "/api/v1/mappings/types"): "editor",
    ("put", "/api/v1/mappings/types/{type_mapping_id}"): "editor",
    ("delete", "/api/v1/mappings/types/{type_mapping_id}"): "editor",
    ("get", "/api/v1/mappings/hierarchies"): "viewer",
    ("post", "/api/v1/mappings/hierarchies"): "editor",
    ("put", "/api/v1/mappings/hierarchies/{hierarchy_id}"): "editor",
    ("delete", "/api/v1/mappings/hierarchies/{hierarchy_id}"): "editor",
    ("get", "/api/v1/mappings/statuses"): "viewer",
    ("post", "/api/v1/mappings/statuses"): "editor",
    ("put", "/api/v1/mappings/statuses/{status_mapping_id}"): "editor",
    ("delete", "/api/v1/mappings/statuses/{status_mapping_id}"): "editor",
    ("get", "/api/v1/mappings/workflows"): "viewer",
    ("post", "/api/v1/mappings/workflows"): "editor",
    ("get", "/api/v1/mappings/workflows/{workflow_name}"): "viewer",
    ("put", "/api/v1/mappings/workflows/{workflow_name}"): "editor",
    ("delete", "/api/v1/mappings/workflows/{workflow_name}"): "editor",
    ("post", "/api/v1/mappings/retransform"): "editor",
    ("get", "/api/v1/search"): "viewer",
    ("get", "/api/v1/search/status"): "viewer",
    ("get", "/api/v1/queues/dead-letters"): "viewer",
    ("post", "/api/v1/queues/dead-letters/{message_id}/replay"): "editor",
    ("delete", "/api/v1/queues/dead-letters/{message_id}"): "editor",
}
PUBLIC = {
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/healthz",
    "/readyz",
    "/metrics",
}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, methods in app.openapi()["paths"].items():
        for method, op in methods.items():
            if path not in PUBLIC:
                out.append((method, path, op))
    return out


def example_body(app: FastAPI, op: dict[str, Any]) -> Any:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"]["$ref"].split("/")[-1]
    return app.openapi()["components"]["schemas"][ref]["examples"][0]


def concrete(path: str, seeded: Seeded, owner: Tenant, key_id: int) -> str:
    values = {
        "run_id": seeded.run_id,
        "page_id": seeded.raw_id,
        "item_id": seeded.work_item_id,
        "pr_id": seeded.pull_request_id,
        "letter_id": seeded.dead_letter_id,
        "user_id": owner.user_ids["viewer"],
        "key_id": key_id,
        "type_mapping_id": seeded.type_mapping_id,
        "hierarchy_id": seeded.hierarchy_id,
        "status_mapping_id": seeded.status_mapping_id,
        "workflow_name": seeded.workflow_name,
        "message_id": seeded.dead_letter_message_id,
        "name": seeded.integration if path.startswith("/api/v1/integrations") else seeded.job,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


@pytest.fixture
def world(engine: Engine, client: TestClient, acme: Tenant) -> tuple[Seeded, int]:
    seeded = seed(engine, client, acme)
    key = client.post("/api/v1/api-keys", json={"name": "k", "role": "viewer"}, headers=acme.headers()).json()
    return seeded, key["id"]


def test_every_operation_has_a_declared_role(app: FastAPI) -> None:
    declared = {(m, p) for m, p, _ in operations(app)}
    assert declared == set(MIN_ROLE)
    for method, path, op in operations(app):
        if MIN_ROLE[(method, path)] != "viewer":
            assert op.get("x-quarry-role") == MIN_ROLE[(method, path)], (method, path)


def test_another_tenants_objects_are_404_on_every_route_with_a_path_parameter(
    app: FastAPI, client: TestClient, acme: Tenant, other: Tenant, world: tuple[Seeded, int]
) -> None:
    seeded, key_id = world
    walked = 0
    for method, path, op in operations(app):
        if "{" not in path:
            continue
        url = concrete(path, seeded, acme, key_id)
        response = client.request(method, url, json=example_body(app, op), headers=other.headers("admin"))
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert "s3cret" not in response.text
        walked += 1
    assert walked >= 20
    # ...and the owner sees them all.
    for url in (
        f"/api/v1/runs/{seeded.run_id}",
        f"/api/v1/raw-pages/{seeded.raw_id}",
        "/api/v1/jobs/acme-jira-sync",
    ):
        assert client.get(url, headers=acme.headers("viewer")).status_code == 200


def test_lists_never_show_another_tenants_rows(
    client: TestClient, other: Tenant, world: tuple[Seeded, int]
) -> None:
    for url in (
        "/api/v1/integrations",
        "/api/v1/jobs",
        "/api/v1/dead-letters",
        "/api/v1/users",
        "/api/v1/api-keys",
    ):
        body = client.get(url, headers=other.headers("admin")).json()
        assert all("acme" not in str(item) for item in body), url
    for url in ("/api/v1/runs", "/api/v1/work-items", "/api/v1/pull-requests"):
        assert client.get(url, headers=other.headers("admin")).json()["items"] == [], url


def test_roles_matrix(app: FastAPI, client: TestClient, acme: Tenant, world: tuple[Seeded, int]) -> None:
    seeded, key_id = world
    for role in ("viewer", "editor", "admin"):
        for method, path, op in operations(app):
            url = concrete(path, seeded, acme, key_id)
            response = client.request(method, url, json=example_body(app, op), headers=acme.headers(role))
            allowed = role_rank(role) >= role_rank(MIN_ROLE[(method, path)])
            assert response.status_code < 500, (role, method, url, response.text)
            if allowed:
                assert response.status_code != 403, (role, method, url, response.text)
            else:
                assert response.status_code == 403, (role, method, url, response.status_code)
