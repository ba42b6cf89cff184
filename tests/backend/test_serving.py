"""`quarry up` and `quarry api` serve the API; /readyz, /metrics by route template; CORS closed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from quarry_cli.commands.up import Health, build_app
from tests.backend.conftest import Tenant


def test_quarry_up_app_serves_the_api_beside_its_health(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path))
    health = Health()
    health.set(status="ok", controller="running")
    with TestClient(build_app(health)) as client:
        assert client.get("/healthz").json()["controller"] == "running"
        assert "/api/v1/jobs/{name}" in client.get("/api/v1/openapi.json").json()["paths"]
        assert client.get("/api/v1/jobs").status_code == 401
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok" and ready.json()["queue"] == "ok"


def test_metrics_label_latency_by_route_template(client: TestClient, acme: Tenant) -> None:
    client.get("/api/v1/jobs/some-job", headers=acme.headers())
    text = client.get("/metrics").text
    assert 'route="/api/v1/jobs/{name}"' in text and "some-job" not in text


def test_cors_is_closed_by_default(client: TestClient) -> None:
    preflight = client.options(
        "/api/v1/jobs", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_quarry_api_command_serves(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "QUARRY_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "quarry_cli.main", "api", "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90  # a loaded 2-core machine imports slowly
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert response.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/me").status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)
