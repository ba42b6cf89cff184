"""Mappings through the API: CRUD with validation, defaults for unmapped values, and re-transform."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect

from quarry_core import store
from quarry_core.db.models import WorkItem, WorkItemTransition
from quarry_core.mappings import load_mappings
from tests.backend.conftest import JIRA_INTEGRATION, JIRA_JOB, Tenant, seed

API = "/api/v1/mappings"


def _items(engine: Engine, tenant: str, *rows: tuple[str, str, str, str, int]) -> None:
    """Work items as the transform leaves them: (source type, standard type, status, category, level)."""
    integration = None
    with Session(engine) as session:
        integration = store.get_integration(session, tenant, JIRA_INTEGRATION["name"])
        for i, (source_type, standard, status, category, level) in enumerate(rows):
            session.add(
                WorkItem(
                    tenant=tenant,
                    integration_id=integration.id,
                    source_id=f"s{i}",
                    key=f"ENG-{100 + i}",
                    source_type=source_type,
                    type=standard,
                    hierarchy_level=level,
                    source_status=status,
                    status_category=category,
                )
            )
        session.commit()


def _setup(client: TestClient, acme: Tenant) -> dict[str, str]:
    h = acme.headers("editor")
    assert client.post("/api/v1/integrations", json=JIRA_INTEGRATION, headers=h).status_code == 201
    assert client.post("/api/v1/jobs", json=JIRA_JOB, headers=h).status_code == 201
    return h


def test_statuses_met_only_in_histories_are_listed_with_their_default(
    engine: Engine, client: TestClient, acme: Tenant
) -> None:
    _setup(client, acme)
    _items(engine, acme.name, ("Story", "STORY", "Done", "done", 0))
    with Session(engine) as session:
        integration = store.get_integration(session, acme.name, JIRA_INTEGRATION["name"])
        for seq, (before, after, before_cat, after_cat) in enumerate(
            [("Backlog", "In Review", "new", "indeterminate"), ("In Review", "done", "indeterminate", "done")]
        ):
            session.add(
                WorkItemTransition(
                    tenant=acme.name,
                    integration_id=integration.id,
                    work_item_source_id="s0",
                    history_id=f"h{seq}",
                    from_source_status=before,
                    to_source_status=after,
                    from_status_category=before_cat,
                    to_status_category=after_cat,
                    transitioned_at=datetime.now(UTC),
                )
            )
        session.commit()
    statuses = client.get(f"{API}/statuses", headers=acme.headers("viewer")).json()
    # "done" is the current "Done" (folded); the history adds two statuses no item is in now.
    fields = ("workItemType", "sourceStatus", "standardStatus", "rule", "items")
    assert [tuple(s[f] for f in fields) for s in statuses] == [
        ("STORY", "Done", "Done", "category", 1),
        ("STORY", "Backlog", "To Do", "category", 0),
        ("STORY", "In Review", "In Progress", "category", 0),
    ]


def test_lists_show_the_default_for_every_unmapped_value_seen(
    engine: Engine, client: TestClient, acme: Tenant
) -> None:
    h = _setup(client, acme)
    _items(
        engine,
        acme.name,
        ("User Story", "USER STORY", "In Review", "indeterminate", 0),
        ("User Story", "USER STORY", "Backlog", "new", 0),
        ("Epic", "EPIC", "Closed", "done", 1),
        ("Epic", "EPIC", "Closed", "done", 1),
    )
    types = client.get(f"{API}/types", headers=acme.headers("viewer")).json()
    assert {(t["sourceType"], t["standardType"], t["mapped"], t["rule"], t["items"]) for t in types} == {
        ("User Story", "USER STORY", False, "upper-case", 2),
        ("Epic", "EPIC", False, "upper-case", 2),
    }
    statuses = client.get(f"{API}/statuses", headers=acme.headers("viewer")).json()
    by_status = {s["sourceStatus"]: s for s in statuses}
    assert by_status["In Review"]["standardStatus"] == "In Progress"
    assert by_status["Backlog"]["standardStatus"] == "To Do"
    assert by_status["Closed"] | {"id": None} == {
        "id": None,
        "workItemType": "EPIC",
        "sourceStatus": "Closed",
        "standardStatus": "Done",
        "workflowStep": "Closed",
        "statusCategory": "done",
        "mapped": False,
        "rule": "category",
        "items": 2,
    }
    levels = {x["standardType"]: x for x in client.get(f"{API}/hierarchies", headers=h).json()}
    assert (levels["EPIC"]["level"], levels["EPIC"]["rule"], levels["EPIC"]["mapped"]) == (1, "source", False)

    # Mapping a value moves it from the defaults to the mappings, and names the jobs to re-transform.
    created = client.post(
        f"{API}/statuses",
        json={"workItemType": "USER STORY", "sourceStatus": "in review", "standardStatus": "Done"},
        headers=h,
    )
    assert created.status_code == 201, created.text
    assert created.json()["affectedJobs"] == ["acme-jira-sync"]
    assert created.json()["item"] | {"id": 0} == {
        "id": 0,
        "workItemType": "USER STORY",
        "sourceStatus": "in review",
        "standardStatus": "Done",
        "workflowStep": None,
        "statusCategory": None,
        "mapped": True,
        "rule": "mapping",
        "items": 1,
    }
    statuses = client.get(f"{API}/statuses?workItemType=user story", headers=h).json()
    assert [(s["sourceStatus"], s["mapped"]) for s in statuses] == [("in review", True), ("Backlog", False)]

    # A workflow step of the status's name is the default before the category.
    flow = {
        "name": "stories",
        "workItemType": "USER STORY",
        "steps": [
            {"name": "Backlog", "standardStatus": "In Progress", "commitmentPoint": True},
            {"name": "Shipped", "standardStatus": "Done", "deliveryPoint": True},
        ],
    }
    assert client.post(f"{API}/workflows", json=flow, headers=h).status_code == 201
    backlog = next(
        s for s in client.get(f"{API}/statuses", headers=h).json() if s["sourceStatus"] == "Backlog"
    )
    assert (backlog["standardStatus"], backlog["rule"], backlog["workflowStep"]) == (
        "In Progress",
        "workflow",
        "Backlog",
    )


def test_type_and_hierarchy_crud_reaches_the_workers_mappings(
    engine: Engine, client: TestClient, acme: Tenant
) -> None:
    h = _setup(client, acme)
    created = client.post(f"{API}/types", json={"sourceType": "Story", "standardType": "FEATURE"}, headers=h)
    assert created.status_code == 201, created.text
    mapping_id = created.json()["item"]["id"]
    duplicate = client.post(f"{API}/types", json={"sourceType": "STORY", "standardType": "X"}, headers=h)
    assert duplicate.status_code == 409
    changed = client.put(
        f"{API}/types/{mapping_id}", json={"sourceType": "Story", "standardType": "STORY"}, headers=h
    )
    assert changed.json()["item"]["standardType"] == "STORY"
    level = client.post(f"{API}/hierarchies", json={"standardType": "EPIC", "level": 2}, headers=h)
    assert level.status_code == 201
    with Session(engine) as session:
        mappings = load_mappings(session, acme.name)
    assert mappings.map_type("story") == "STORY"
    assert mappings.hierarchy_level("EPIC", 1, subtask=False) == 2

    assert client.delete(f"{API}/types/{mapping_id}", headers=h).json()["affectedJobs"] == ["acme-jira-sync"]
    assert client.delete(f"{API}/types/{mapping_id}", headers=h).status_code == 404
    with Session(engine) as session:
        assert load_mappings(session, acme.name).map_type("Story") == "STORY"  # the default again


def _error_locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json()["detail"]]


def test_invalid_mappings_are_422_naming_the_field(client: TestClient, acme: Tenant) -> None:
    h = acme.headers("editor")
    bad_status = {"sourceStatus": "Open", "standardStatus": "Started"}
    assert ["body", "standardStatus"] in _error_locs(
        client.post(f"{API}/statuses", json=bad_status, headers=h)
    )
    assert ["body", "level"] in _error_locs(
        client.post(f"{API}/hierarchies", json={"standardType": "EPIC", "level": 99}, headers=h)
    )
    assert ["body", "sourceType"] in _error_locs(
        client.post(f"{API}/types", json={"sourceType": "  ", "standardType": "X"}, headers=h)
    )
    step = {"name": "Done", "standardStatus": "Done"}
    for steps, message in (
        ([], "at least 1"),
        ([step, {**step, "name": "done"}], "unique"),
        (
            [{**step, "commitmentPoint": True}, {**step, "name": "B", "commitmentPoint": True}],
            "one commitment",
        ),
        (
            [{**step, "deliveryPoint": True}, {**step, "name": "B", "commitmentPoint": True}],
            "after the delivery",
        ),
    ):
        response = client.post(f"{API}/workflows", json={"name": "w", "steps": steps}, headers=h)
        assert _error_locs(response) == [["body", "steps"]]
        assert message in response.json()["detail"][0]["msg"]


def test_workflow_crud_and_one_workflow_per_type(engine: Engine, client: TestClient, acme: Tenant) -> None:
    h = _setup(client, acme)
    flow = {
        "name": "delivery",
        "steps": [
            {"name": "To Do", "standardStatus": "To Do"},
            {"name": "Doing", "standardStatus": "In Progress", "commitmentPoint": True},
            {"name": "Done", "standardStatus": "Done", "deliveryPoint": True},
        ],
    }
    created = client.post(f"{API}/workflows", json=flow, headers=h)
    assert created.status_code == 201, created.text
    assert [s["position"] for s in created.json()["item"]["steps"]] == [0, 1, 2]
    assert created.json()["item"]["workItemType"] == "*"
    assert client.post(f"{API}/workflows", json=flow, headers=h).status_code == 409
    same_type = client.post(f"{API}/workflows", json={**flow, "name": "other"}, headers=h)
    assert same_type.status_code == 409 and "applies to type" in same_type.text

    flow["steps"] = [flow["steps"][0], {"name": "Review", "standardStatus": "In Progress"}, flow["steps"][2]]
    replaced = client.put(f"{API}/workflows/delivery", json={**flow, "name": "flow"}, headers=h)
    assert replaced.status_code == 200, replaced.text
    assert client.get(f"{API}/workflows/delivery", headers=h).status_code == 404
    got = client.get(f"{API}/workflows/flow", headers=acme.headers("viewer")).json()
    assert [(s["name"], s["commitmentPoint"]) for s in got["steps"]] == [
        ("To Do", False),
        ("Review", False),
        ("Done", False),
    ]
    with Session(engine) as session:
        workflow = load_mappings(session, acme.name).workflow("ANY")
    assert workflow is not None and workflow.delivery is not None and workflow.delivery.name == "Done"
    assert client.delete(f"{API}/workflows/flow", headers=h).status_code == 200
    assert client.get(f"{API}/workflows", headers=h).json() == []


def test_retransform_writes_a_token_to_each_affected_job(
    engine: Engine, client: TestClient, acme: Tenant
) -> None:
    h = _setup(client, acme)
    github_like = {**JIRA_JOB, "name": "projects-only", "entities": ["projects"]}
    assert client.post("/api/v1/jobs", json=github_like, headers=h).status_code == 201
    response = client.post(f"{API}/retransform", json={}, headers=h)
    assert response.status_code == 202, response.text
    assert response.json()["jobs"] == ["acme-jira-sync"]
    token = response.json()["tokens"]["acme-jira-sync"]
    with Session(engine) as session:
        assert store.get_job(session, acme.name, "acme-jira-sync").spec["retransform"] == token
        assert "retransform" not in store.get_job(session, acme.name, "projects-only").spec
    named = client.post(f"{API}/retransform", json={"jobs": ["projects-only"]}, headers=h)
    assert named.json()["jobs"] == ["projects-only"]
    missing = client.post(f"{API}/retransform", json={"jobs": ["nope"]}, headers=h)
    assert _error_locs(missing) == [["body", "jobs", 0]]


def test_mappings_are_invisible_to_other_tenants(
    engine: Engine, client: TestClient, acme: Tenant, other: Tenant
) -> None:
    seeded = seed(engine, client, acme)
    for kind in ("types", "hierarchies", "statuses", "workflows"):
        assert client.get(f"{API}/{kind}", headers=other.headers()).json() == [], kind
        assert client.get(f"{API}/{kind}", headers=acme.headers()).json() != [], kind
    moved = client.put(
        f"{API}/types/{seeded.type_mapping_id}",
        json={"sourceType": "Story", "standardType": "MINE"},
        headers=other.headers(),
    )
    assert moved.status_code == 404
    assert client.post(f"{API}/retransform", json={}, headers=other.headers()).json()["jobs"] == []


def test_nul_characters_are_422_naming_where(client: TestClient, acme: Tenant) -> None:
    h = acme.headers("editor")
    body = {"sourceType": "Story\u0000", "standardType": "STORY"}
    assert _error_locs(client.post(f"{API}/types", json=body, headers=h)) == [["body", "sourceType"]]
    flow = {"name": "w", "steps": [{"name": "A\u0000", "standardStatus": "Done"}]}
    assert _error_locs(client.post(f"{API}/workflows", json=flow, headers=h)) == [
        ["body", "steps", 0, "name"]
    ]
    assert _error_locs(client.get("/api/v1/work-items?status=%00", headers=h)) == [["query", "status"]]
    assert _error_locs(client.get("/api/v1/jobs/a%00b", headers=h)) == [["path", "name"]]
    login = client.post("/api/v1/auth/login", data={"username": "a\u0000@x.io", "password": "x"})
    assert _error_locs(login) == [["body", "username"]]
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/api/v1/ws?token=a%00b"):
        pass
    assert closed.value.code == 1008

