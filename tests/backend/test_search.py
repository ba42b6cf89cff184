"""Semantic search: Qdrant (local mode) through the API, always within the caller's tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quarry_backend.app import create_app
from quarry_backend.settings import ApiSettings
from quarry_core.vectors import HashingEmbedder, VectorRecord, VectorStore
from tests.backend.conftest import Tenant, make_tenant, seed


@pytest.fixture
def search_app(api_settings: ApiSettings, tmp_path: Path) -> Iterator[FastAPI]:
    settings = api_settings.model_copy(update={"data_dir": tmp_path, "embedder": "hashing"})
    application = create_app(settings)
    yield application
    vectors = getattr(application.state, "vectors", None)
    if vectors is not None:
        vectors.close()
    application.state.db.dispose()


def _points(path: Path, *records: VectorRecord) -> None:
    store = VectorStore(HashingEmbedder(), url=None, path=path)
    store.upsert(records)
    store.close()  # local mode: one process (here: one client) per directory at a time


def _record(tenant: str, key: str, text: str, kind: str = "work_item") -> VectorRecord:
    payload = {"key": key, "type": "STORY", "status": "Done"} if kind == "work_item" else {"key": key}
    return VectorRecord(tenant, 1, kind, key, text, payload)


def test_search_finds_the_tenants_own_points_only(
    engine: Engine, search_app: FastAPI, tmp_path: Path
) -> None:
    with TestClient(search_app) as client:
        acme, other = make_tenant(engine, client), make_tenant(engine, client)
        seed(engine, client, acme)  # rows not embedded yet
        _points(
            tmp_path / "qdrant",
            _record(acme.name, "ENG-1", "login page times out for SSO users"),
            _record(acme.name, "ENG-2", "dark mode colours for the dashboard"),
            _record(acme.name, "acme/api#7", "fix login timeout", kind="pull_request"),
            _record(other.name, "SEC-1", "login page times out for SSO users, secret plan"),
        )
        response = client.get(
            "/api/v1/search", params={"q": "login times out"}, headers=acme.headers("viewer")
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["embedder"] == "hashing-384" and body["vectors"] == "local"
        keys = [h["key"] for h in body["hits"]]
        # ENG-2 shares no word with the question: no answer, rather than one scored zero.
        assert keys == ["ENG-1", "acme/api#7"]
        assert all(h["score"] > 0 for h in body["hits"])
        assert body["hits"][0] | {"score": 0} == {
            "score": 0,
            "kind": "work_item",
            "key": "ENG-1",
            "integrationId": 1,
            "text": "login page times out for SSO users",
            "type": "STORY",
            "status": "Done",
            "state": None,
        }
        assert body["progress"]["pending"] == 2  # seed() adds a work item and a pull request
        assert body["progress"]["byKind"]["work_item"] == {"pending": 1, "embedded": 0}

        only_prs = client.get(
            "/api/v1/search", params={"q": "login", "kind": "pull_request"}, headers=acme.headers("viewer")
        ).json()
        assert [h["key"] for h in only_prs["hits"]] == ["acme/api#7"]

        # The other tenant's exact words still find only its own point, and never acme's.
        theirs = client.get(
            "/api/v1/search",
            params={"q": "login page times out for SSO users", "limit": 100},
            headers=other.headers("viewer"),
        ).json()
        assert [h["key"] for h in theirs["hits"]] == ["SEC-1"]
        assert (
            "secret plan"
            not in client.get(
                "/api/v1/search", params={"q": "secret plan", "limit": 100}, headers=acme.headers()
            ).text
        )


def test_search_validates_and_needs_a_login(search_app: FastAPI, engine: Engine) -> None:
    with TestClient(search_app) as client:
        tenant: Tenant = make_tenant(engine, client, roles=("viewer",))
        assert client.get("/api/v1/search", params={"q": "x"}).status_code == 401
        missing = client.get("/api/v1/search", headers=tenant.headers("viewer"))
        assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "q"]
        wrong = client.get(
            "/api/v1/search", params={"q": "x", "kind": "sprint"}, headers=tenant.headers("viewer")
        )
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "kind"]


def test_status_counts_the_tenants_points_and_shares_the_local_directory(
    engine: Engine, search_app: FastAPI, tmp_path: Path
) -> None:
    with TestClient(search_app) as client:
        acme, other = make_tenant(engine, client), make_tenant(engine, client)
        seed(engine, client, acme)
        _points(
            tmp_path / "qdrant",
            _record(acme.name, "ENG-1", "login page times out"),
            _record(acme.name, "acme/api#7", "fix login timeout", kind="pull_request"),
            _record(other.name, "SEC-1", "secret plan"),
        )
        status = client.get("/api/v1/search/status", headers=acme.headers("viewer")).json()
        assert status == {
            "available": True,
            "reason": None,
            "embedder": "hashing-384",
            "collection": "quarry_hashing_384",
            "points": 2,
            "vectors": "local",
            "progress": {
                "pending": 2,
                "embedded": 0,
                "byKind": {
                    "work_item": {"pending": 1, "embedded": 0},
                    "pull_request": {"pending": 1, "embedded": 0},
                },
            },
        }
        # Between requests the API holds no lock: another client (the embed worker) can write.
        _points(tmp_path / "qdrant", _record(acme.name, "ENG-2", "dark mode on the login page"))
        assert client.get("/api/v1/search/status", headers=acme.headers()).json()["points"] == 3

        # While another process holds the directory past the wait, search is busy and status says so.
        held = VectorStore(HashingEmbedder(), url=None, path=tmp_path / "qdrant")
        try:
            search_app.state.vectors.lock_wait = 0.2
            busy = client.get("/api/v1/search", params={"q": "login"}, headers=acme.headers())
            assert busy.status_code == 503 and "busy" in busy.json()["detail"]
            # The status, which the dashboard polls, says so within about a second, whatever
            # the store's own wait.
            search_app.state.vectors.lock_wait = 30.0
            started = time.monotonic()
            status = client.get("/api/v1/search/status", headers=acme.headers()).json()
            assert time.monotonic() - started < 5
            assert (status["available"], status["points"]) == (False, None)
            assert "busy" in status["reason"] and status["progress"]["pending"] == 2
            assert search_app.state.vectors.lock_wait == 30.0
        finally:
            held.close()
        found = client.get("/api/v1/search", params={"q": "login"}, headers=acme.headers()).json()
        assert {h["key"] for h in found["hits"]} == {"ENG-1", "ENG-2", "acme/api#7"}


def test_status_when_vector_search_is_off(api_settings: ApiSettings, engine: Engine, tmp_path: Path) -> None:
    settings = api_settings.model_copy(update={"data_dir": tmp_path, "embedder": "off"})
    application = create_app(settings)
    try:
        with TestClient(application) as client:
            tenant = make_tenant(engine, client, roles=("viewer",))
            status = client.get("/api/v1/search/status", headers=tenant.headers("viewer")).json()
            assert status["available"] is False and "off" in status["reason"]
            assert status["progress"] == {
                "pending": 0,
                "embedded": 0,
                "byKind": {
                    "work_item": {"pending": 0, "embedded": 0},
                    "pull_request": {"pending": 0, "embedded": 0},
                },
            }
            assert client.get("/api/v1/search/status").status_code == 401
    finally:
        application.state.db.dispose()
