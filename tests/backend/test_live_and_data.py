"""Data endpoints (paging, lineage, flow), queues and dead letters, and the live WebSocket."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quarry_core import store
from quarry_core.db.models import DeadLetter, QueueMessage, WorkItem
from quarry_core.runs import add_counts, set_phase
from quarry_core.states import RunPhase
from tests.backend.conftest import Tenant, seed


def test_work_items_filter_sort_and_keyset_paging(client: TestClient, acme: Tenant, engine: Engine) -> None:
    seeded = seed(engine, client, acme)
    now = datetime.now(UTC)
    with Session(engine) as session:
        integration = store.get_integration(session, acme.name, "acme-jira")
        for i in range(2, 7):
            session.add(
                WorkItem(
                    tenant=acme.name,
                    integration_id=integration.id,
                    source_id=str(10000 + i),
                    key=f"ENG-{i}",
                    title=f"Item {i}",
                    type="Bug" if i % 2 else "Story",
                    status="Done",
                    updated_at=now - timedelta(hours=i),
                    resolved_at=now - timedelta(days=i),
                    cycle_time_seconds=3600.0 * i,
                    lead_time_seconds=7200.0 * i,
                )
            )
        session.commit()
    h = acme.headers("viewer")
    seen, cursor = [], None
    while True:
        url = "/api/v1/work-items?sort=updated&order=desc&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=h).json()
        seen += [i["key"] for i in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ["ENG-2", "ENG-3", "ENG-4", "ENG-5", "ENG-6", "ENG-1"]  # ENG-1 has no updated_at
    keys = [
        i["key"]
        for i in client.get("/api/v1/work-items?sort=key&order=asc&type=Bug", headers=h).json()["items"]
    ]
    assert keys == ["ENG-3", "ENG-5"]
    assert [i["key"] for i in client.get("/api/v1/work-items?q=item%204", headers=h).json()["items"]] == [
        "ENG-4"
    ]
    lineage = client.get(f"/api/v1/work-items/{seeded.work_item_id}/lineage", headers=h).json()
    assert lineage["rawPage"]["id"] == seeded.raw_id and lineage["run"]["id"] == seeded.run_id
    assert lineage["naturalKey"]["key"] == "ENG-1"
    pr = client.get(f"/api/v1/pull-requests/{seeded.pull_request_id}/lineage", headers=h).json()
    assert pr["naturalKey"] == {
        "integrationId": pr["naturalKey"]["integrationId"],
        "repository": "acme/api",
        "number": 7,
    }
    assert (
        client.get("/api/v1/pull-requests?repository=acme/api", headers=h).json()["items"][0]["number"] == 7
    )
    weeks = client.get("/api/v1/insights/flow?weeks=4", headers=h).json()["weeks"]
    assert sum(w["throughput"] for w in weeks) == 5
    assert all(w["cycleTimeP50Seconds"] > 0 for w in weeks)
    assert client.get("/api/v1/work-items?cursor=not-a-cursor", headers=h).status_code == 422


def test_flow_filters_by_project_and_type(client: TestClient, acme: Tenant, engine: Engine) -> None:
    seed(engine, client, acme)
    now = datetime.now(UTC)
    with Session(engine) as session:
        integration = store.get_integration(session, acme.name, "acme-jira")
        combinations = [("ENG", "STORY"), ("ENG", "BUG"), ("OPS", "STORY"), ("OPS", "BUG")]
        for i, (project, kind) in enumerate(combinations):
            for n in range(i + 1):  # 1, 2, 3 and 4 items: each combination has its own count
                session.add(
                    WorkItem(
                        tenant=acme.name,
                        integration_id=integration.id,
                        source_id=f"{project}-{kind}-{n}",
                        key=f"{project}-{100 * i + n}",
                        project_key=project,
                        type=kind,
                        status="Done",
                        resolved_at=now - timedelta(days=1),
                        cycle_time_seconds=3600.0 * (i + 1),
                    )
                )
        session.commit()
    h = acme.headers("viewer")

    def flow(**query: str) -> dict:  # type: ignore[type-arg]
        response = client.get("/api/v1/insights/flow", params={"weeks": "2", **query}, headers=h)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def throughput(**query: str) -> int:
        return sum(w["throughput"] for w in flow(**query)["weeks"])

    assert throughput() == 10
    assert throughput(project="ENG") == 3 and throughput(project="OPS") == 7
    assert throughput(type="BUG") == 6
    assert throughput(project="OPS", type="STORY") == 3
    assert throughput(project="NOPE") == 0
    only = flow(project="ENG", type="BUG")["weeks"]
    assert [w["cycleTimeP50Seconds"] for w in only] == [7200.0]
    everything = flow(project="OPS")
    # The choices are every project and type seen, whatever the filter (seed() adds a "Story" item).
    assert everything["projects"] == ["ENG", "OPS"]
    assert everything["types"] == ["BUG", "STORY", "Story"]
    assert client.get("/api/v1/insights/flow", params={"project": "x" * 256}, headers=h).status_code == 422


def test_queues_and_dead_letter_replay_and_discard(
    client: TestClient, acme: Tenant, engine: Engine, app
) -> None:  # type: ignore[no-untyped-def]
    seeded = seed(engine, client, acme)
    h = acme.headers("editor")
    queues = client.get("/api/v1/queues", headers=h).json()
    assert queues["backend"] == "postgresql"
    assert [q["stage"] for q in queues["queues"]] == ["extract", "transform", "load"]
    letters = client.get("/api/v1/dead-letters", headers=h).json()
    assert [(d["id"], d["stage"], d["error"]) for d in letters] == [(seeded.dead_letter_id, "load", "boom")]
    replayed = client.post(f"/api/v1/dead-letters/{seeded.dead_letter_id}/replay", headers=h)
    assert replayed.status_code == 200
    prefix = app.state.settings.queue_prefix
    with Session(engine) as session:
        assert session.get(DeadLetter, seeded.dead_letter_id) is None
        queued = session.scalars(
            select(QueueMessage.queue).where(QueueMessage.message_id == letters[0]["messageId"])
        ).all()
        assert queued == [f"{prefix}.load"]
        session.add(
            DeadLetter(
                tenant=acme.name,
                queue="quarry.transform.dlq",
                message_id="m2",
                body=b"{}",
                headers={},
                error="x",
                attempts=1,
            )
        )
        session.commit()
    second = client.get("/api/v1/dead-letters?stage=transform", headers=h).json()[0]["id"]
    assert client.delete(f"/api/v1/dead-letters/{second}", headers=h).status_code == 204
    assert client.get("/api/v1/dead-letters", headers=h).json() == []


def test_websocket_streams_this_tenants_run_progress(
    client: TestClient, acme: Tenant, other: Tenant, engine: Engine
) -> None:
    mine = seed(engine, client, acme)
    theirs = seed(engine, client, other)
    with client.websocket_connect("/api/v1/ws") as ws:
        ws.send_json({"token": acme.tokens["viewer"]})
        assert ws.receive_json() == {"kind": "subscribed", "tenant": acme.name}
        started = time.monotonic()
        with Session(engine) as session:
            set_phase(session, theirs.run_id, RunPhase.RUNNING)  # another tenant's: never delivered
            session.commit()
            set_phase(session, mine.run_id, RunPhase.RUNNING)
            session.commit()
            add_counts(session, acme.name, mine.run_id, "issues", loaded=5)
            session.commit()
        event = ws.receive_json()
        assert event["kind"] == "run" and event["runId"] == mine.run_id and event["phase"] == "Running"
        counters = ws.receive_json()
        assert counters["kind"] == "counters" and counters["loaded"] == 6 and counters["entity"] == "issues"
        assert time.monotonic() - started < 1.0
        assert "tenant" not in event


def test_websocket_without_a_valid_token_is_closed(client: TestClient) -> None:
    with client.websocket_connect(f"/api/v1/ws?token=bad-{uuid.uuid4().hex}") as ws:
        message = ws.receive()
        assert message["type"] == "websocket.close" and message["code"] == 4401


def test_time_filters_take_any_iso_offset(client: TestClient, acme: Tenant) -> None:
    h = acme.headers("viewer")
    for since in ("0201-05-04T07:05:59+19:10", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-23:00"):
        response = client.get("/api/v1/work-items", params={"updated_since": since}, headers=h)
        assert response.status_code == 200, (since, response.text)
