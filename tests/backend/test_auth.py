"""Login, refresh rotation, logout, API keys, rate limits, and the admin bootstrap commands."""

from __future__ import annotations

import io
import uuid

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from quarry_cli.main import main
from tests.backend.conftest import PASSWORD, Tenant, login


def test_login_returns_bearer_tokens_and_me_names_the_tenant(client: TestClient, acme: Tenant) -> None:
    tokens = login(client, acme.emails["editor"])
    assert set(tokens) >= {"access_token", "refresh_token", "token_type"} and tokens["token_type"] == "bearer"
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["tenant"] == acme.name and claims["exp"] - claims["iat"] <= 15 * 60
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["tenant"] == acme.name and me["role"] == "editor" and me["apiKey"] is False


def test_bad_credentials_and_tokens_are_401(client: TestClient, acme: Tenant) -> None:
    bad = client.post(
        "/api/v1/auth/login", data={"username": acme.emails["viewer"], "password": "wrong-password!"}
    )
    assert bad.status_code == 401
    assert client.get("/api/v1/jobs").status_code == 401
    assert client.get("/api/v1/jobs", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    forged = jwt.encode({"sub": "1", "tenant": acme.name, "type": "access", "exp": 9999999999}, "x" * 32)
    assert client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(
    client: TestClient, acme: Tenant
) -> None:
    first = login(client, acme.emails["viewer"])
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    )
    # Reuse of a rotated token revoked the whole family, the new one included.
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code == 401
    )


def test_logout_revokes_the_refresh_token(client: TestClient, acme: Tenant) -> None:
    tokens = login(client, acme.emails["viewer"])
    assert (
        client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    )
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )


def test_api_key_is_shown_once_works_and_can_be_revoked(client: TestClient, acme: Tenant) -> None:
    created = client.post("/api/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=acme.headers())
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("qk_")
    listed = client.get("/api/v1/api-keys", headers=acme.headers()).json()
    assert all("key" not in k for k in listed) and key not in str(listed)
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/me", headers=auth).json()["apiKey"] is True
    assert client.post("/api/v1/jobs/x/run", headers=auth).status_code == 403  # a viewer key
    assert (
        client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=acme.headers()).status_code == 204
    )
    assert client.get("/api/v1/me", headers=auth).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key[:-2]}xx"}).status_code == 401


def test_logins_are_limited_per_account(client: TestClient, acme: Tenant) -> None:
    email = acme.emails["admin"]
    for _ in range(5):
        assert (
            client.post("/api/v1/auth/login", data={"username": email, "password": "nope-nope"}).status_code
            == 401
        )
    blocked = client.post("/api/v1/auth/login", data={"username": email, "password": PASSWORD})
    assert blocked.status_code == 429 and "retry-after" in blocked.headers


def test_preferences_are_validated_and_kept(client: TestClient, acme: Tenant) -> None:
    h = acme.headers("viewer")
    fresh = client.get("/api/v1/me/preferences", headers=h).json()
    assert (fresh["theme"], fresh["timeZone"]) == ("system", None)  # no zone chosen: the browser's
    bad = client.put("/api/v1/me/preferences", json={"theme": "dark", "timeZone": "Mars/Olympus"}, headers=h)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "timeZone"
    ok = client.put("/api/v1/me/preferences", json={"theme": "dark", "timeZone": "Europe/Berlin"}, headers=h)
    assert ok.status_code == 200
    assert client.get("/api/v1/me/preferences", headers=h).json()["timeZone"] == "Europe/Berlin"


def test_admin_commands_bootstrap_a_tenant_and_user(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    name, email = f"t-{uuid.uuid4().hex[:8]}", f"root-{uuid.uuid4().hex[:6]}@example.org"
    assert main(["admin", "create-tenant", name]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["admin", "create-user", "--tenant", name, "--email", email, "--role", "admin"]) == 0
    assert PASSWORD not in capsys.readouterr().out
    assert (
        client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {login(client, email)['access_token']}"}
        ).json()["role"]
        == "admin"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["admin", "create-user", "--tenant", name, "--email", "x@y.z", "--role", "admin"]) == 2


def test_security_headers_and_body_limit(client: TestClient, acme: Tenant, engine: Engine) -> None:
    response = client.get("/api/v1/me", headers=acme.headers())
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "access-control-allow-origin" not in response.headers
    big = client.post(
        "/api/v1/integrations",
        content=b"x" * 2_000_000,
        headers={**acme.headers(), "content-type": "application/json"},
    )
    assert big.status_code == 413
