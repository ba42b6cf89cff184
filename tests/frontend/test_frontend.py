"""The dashboard's build chain: the OpenAPI document it is typed from, its unit tests, its serving."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from quarry_backend.app import create_app
from quarry_backend.dashboard import mount_dashboard
from quarry_backend.settings import ApiSettings
from tests.support.services import in_ci

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"


def settings(tmp_path: Path) -> ApiSettings:
    return ApiSettings.model_validate({"QUARRY_DATA_DIR": str(tmp_path)})


def test_checked_in_openapi_document_matches_the_api(tmp_path: Path) -> None:
    current = create_app(settings(tmp_path)).openapi()
    checked_in = json.loads((FRONTEND / "openapi.json").read_text())
    assert checked_in == current, "frontend/openapi.json is stale: run `bash scripts/frontend generate`"


def test_unit_tests_pass() -> None:
    npx = shutil.which("npx")
    if npx is None or not (FRONTEND / "node_modules").is_dir():
        message = "the dashboard's unit tests need Node and `bash scripts/frontend deps`"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    result = subprocess.run([npx, "vitest", "run"], cwd=FRONTEND, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " failed" not in result.stdout


def _app(tmp_path: Path, static: Path) -> TestClient:
    app = create_app(settings(tmp_path))
    # The route create_app mounted serves the package's own build; serve a known one instead.
    app.router.routes = [r for r in app.router.routes if getattr(r, "name", "") != "dashboard"]
    mount_dashboard(app, static)
    return TestClient(app)


def test_the_dashboard_is_served_at_root_with_a_fallback_for_its_routes(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><script src=/assets/app-1.js></script>")
    (static / "assets/app-1.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside the build")
    client = _app(tmp_path, static)

    for path in ("/", "/jobs/acme-sync", "/runs/12?x=1"):
        page = client.get(path)
        assert page.status_code == 200 and "app-1.js" in page.text, path
        assert page.headers["cache-control"] == "no-cache"
        assert "script-src 'self'" in page.headers["content-security-policy"]
    asset = client.get("/assets/app-1.js")
    assert asset.text == "console.log(1)" and "immutable" in asset.headers["cache-control"]
    assert "outside the build" not in client.get("/../secret.txt").text
    assert "outside the build" not in client.get("/%2e%2e/secret.txt").text

    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/me").status_code == 401
    assert "/{path}" not in client.get("/api/v1/openapi.json").json()["paths"]


def test_without_a_build_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    page = _app(tmp_path, tmp_path / "not-built").get("/")
    assert page.status_code == 200 and "scripts/frontend build" in page.text
