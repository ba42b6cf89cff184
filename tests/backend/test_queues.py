"""Queues through the API: dead letters of both queue backends (real RabbitMQ and PostgreSQL),
worker counts, and the per-client-address login limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quarry_backend.app import create_app
from quarry_backend.settings import ApiSettings
from quarry_core import store
from quarry_core.messages import TransformMessage
from quarry_core.queue.base import QueueBackend
from quarry_core.queue.factory import open_queue
from quarry_core.queue.rabbit import RabbitQueue
from quarry_core.states import Stage
from tests.backend.conftest import PASSWORD, Tenant, make_tenant, seed


@pytest.fixture(params=["rabbitmq", "postgresql"])
def queue_app(request: pytest.FixtureRequest, api_settings: ApiSettings) -> Iterator[FastAPI]:
    update: dict[str, object] = {"queue_prefix": f"qd{uuid.uuid4().hex[:8]}"}
    if request.param == "rabbitmq":
        update["amqp_url"] = SecretStr(request.getfixturevalue("amqp_url"))  # model_copy does not validate
    application = create_app(api_settings.model_copy(update=update))
    yield application
    if request.param == "rabbitmq":
        with open_queue(application.state.settings) as queue:
            assert isinstance(queue, RabbitQueue)
            queue.delete_topology()
    application.state.db.dispose()


def _dead(queue: QueueBackend, tenant: str, run_id: int) -> str:
    """A message of `tenant` that failed for good, as a worker leaves it."""
    message = TransformMessage(tenant=tenant, run_id=run_id, integration_id=1, raw_id=1, entity="issues")
    queue.publish(Stage.TRANSFORM, message.to_bytes(), message_id=message.message_id)
    [delivery] = queue.receive(Stage.TRANSFORM, timeout=5)
    queue.dead_letter(delivery, f"boom for {tenant}")
    return message.message_id


def test_dead_letters_of_the_queue_backend_are_listed_replayed_and_discarded_per_tenant(
    queue_app: FastAPI, engine: Engine
) -> None:
    with TestClient(queue_app) as client, open_queue(queue_app.state.settings) as queue:
        acme, other = make_tenant(engine, client), make_tenant(engine, client)
        queue.declare()
        mine, theirs = _dead(queue, acme.name, 41), _dead(queue, other.name, 42)
        url = "/api/v1/queues/dead-letters"

        listed = client.get(url, headers=acme.headers("viewer")).json()
        assert [(d["messageId"], d["stage"], d["error"], d["runId"]) for d in listed] == [
            (mine, "transform", f"boom for {acme.name}", 41)
        ]
        assert [
            d["messageId"] for d in client.get(f"{url}?stage=transform", headers=other.headers()).json()
        ] == [theirs]
        assert client.get(f"{url}?stage=load", headers=acme.headers()).json() == []
        depth = {q["stage"]: q for q in client.get("/api/v1/queues", headers=acme.headers()).json()["queues"]}
        assert depth["transform"]["dead"] == 2

        # Another tenant's letter is as invisible as any object of theirs, and stays put.
        assert client.post(f"{url}/{theirs}/replay", headers=acme.headers("editor")).status_code == 404
        assert client.delete(f"{url}/{theirs}", headers=acme.headers("editor")).status_code == 404
        assert client.post(f"{url}/{mine}/replay", headers=acme.headers("viewer")).status_code == 403

        replayed = client.post(f"{url}/{mine}/replay?stage=transform", headers=acme.headers("editor"))
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["messageId"] == mine
        [again] = queue.receive(Stage.TRANSFORM, timeout=5)
        assert (again.message_id, again.attempt) == (mine, 1)  # back on its queue with fresh attempts
        queue.ack(again)
        assert client.get(url, headers=acme.headers()).json() == []
        assert client.post(f"{url}/{mine}/replay", headers=acme.headers("editor")).status_code == 404

        assert client.delete(f"{url}/{theirs}", headers=other.headers("editor")).status_code == 204
        assert client.get(url, headers=other.headers()).json() == []
        assert queue.depth(Stage.TRANSFORM).dead == 0


def test_queues_show_the_workers_the_scaler_recorded(
    engine: Engine, client: TestClient, acme: Tenant
) -> None:
    seed(engine, client, acme)
    before = client.get("/api/v1/queues", headers=acme.headers("viewer")).json()
    assert {q["stage"]: q["consumers"] for q in before["queues"]} == {
        "extract": None,
        "transform": None,
        "load": None,
    }
    with Session(engine) as session:
        job = store.get_job(session, acme.name, "acme-jira-sync")
        job.status = {**(job.status or {}), "workers": {"transform": {"replicas": 3, "desired": 3}}}
        session.commit()
    after = client.get("/api/v1/queues", headers=acme.headers("viewer")).json()
    assert {q["stage"]: q["consumers"] for q in after["queues"]}["transform"] == 3
    assert after["workers"][0] | {"reason": None} == {
        "job": "acme-jira-sync",
        "stage": "transform",
        "replicas": 3,
        "desired": 3,
        "queueDepth": None,
        "reason": None,
    }


def test_failed_logins_are_limited_per_client_address(app: FastAPI, engine: Engine, acme: Tenant) -> None:
    limit = app.state.settings.login_max_failures_per_client
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    with TestClient(app, client=(address, 40000)) as noisy:
        for i in range(limit):
            # Different accounts each time: only the address ties them together.
            wrong = {"username": f"nobody-{i}-{uuid.uuid4().hex[:6]}@x.example", "password": "nope-nope"}
            assert noisy.post("/api/v1/auth/login", data=wrong).status_code == 401
        right = {"username": acme.emails["viewer"], "password": PASSWORD}
        blocked = noisy.post("/api/v1/auth/login", data=right)
        assert blocked.status_code == 429, blocked.text
        assert int(blocked.headers["retry-after"]) > 0
    with TestClient(app, client=("192.0.2.77", 40001)) as elsewhere:
        assert elsewhere.post("/api/v1/auth/login", data=right).status_code == 200
