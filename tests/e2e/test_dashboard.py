"""The dashboard in a real browser: `quarry up` on the test PostgreSQL with imitation Jira servers,
driven by frontend/e2e/run.mjs (playwright-core and Debian's Chromium). Screenshots of every page,
at 1280 px and 390 px, land in test-results/dashboard/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from quarry_backend.admin import create_tenant, create_user
from quarry_core.db.models import DeadLetter
from quarry_sandbox import FaultConfig, JiraConfig, JiraDataset, JiraServer
from tests.e2e.test_demo import free_port
from tests.support.services import in_ci, temporary_database

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
BUILT = ROOT / "services/backend/quarry_backend/static/index.html"
CHROMIUM = os.environ.get("QUARRY_CHROMIUM", "/usr/bin/chromium")
EMAIL, TOKEN = "bot@quarry.dev", "e2e-dashboard-token"
PASSWORD = "dashboard e2e password"

pytestmark = [pytest.mark.services, pytest.mark.slow]


def missing(what: str) -> None:
    message = f"the dashboard test needs {what} (scripts/system-deps, scripts/frontend build)"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def jira(issues: int, faults: FaultConfig | None = None) -> JiraServer:
    dataset = JiraDataset.synthetic(issues, projects=2, seed=11, api_user_email=EMAIL)
    config = JiraConfig(email=EMAIL, api_token=TOKEN, faults=faults or FaultConfig())
    return JiraServer(dataset, config).start()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """`quarry up` on a database of its own: (url, database url, queue prefix)."""
    with temporary_database("quarry_ui") as db_url:
        port, prefix = free_port(), f"qu{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "QUARRY_DATA_DIR": str(tmp_path / "data"),
            "QUARRY_SECRET_KEY": Fernet.generate_key().decode(),
            "QUARRY_EMBEDDER": "hashing",
            "QUARRY_QUEUE_PREFIX": prefix,
            "QUARRY_STOP_GRACE_SECONDS": "5",
        }
        env.pop("AMQP_URL", None)
        log = (tmp_path / "quarry-up.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "quarry_cli.main", "up", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).json().get("controller") == "running":
                        break
                except (httpx.TransportError, ValueError):
                    pass
                time.sleep(0.2)
            else:
                pytest.fail(f"quarry up did not start: {(tmp_path / 'quarry-up.log').read_text()}")
            yield url, db_url, prefix
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def test_dashboard_in_a_real_browser(platform: tuple[str, str, str], tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        missing("Node")
    if not Path(CHROMIUM).exists():
        missing(f"Chromium at {CHROMIUM}")
    if not (FRONTEND / "node_modules/playwright-core").is_dir() or not BUILT.exists():
        missing("the frontend's node_modules and build")
    url, db_url, prefix = platform
    assert "<script" in httpx.get(f"{url}/jobs/anything", timeout=5).text  # the SPA fallback

    tenant, email = "ui-e2e", "admin@ui-e2e.example"
    fast = jira(40)
    slow = jira(40, FaultConfig(quota=1_000_000, window_seconds=3600))
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            create_tenant(session, tenant)
            create_user(session, tenant, email, PASSWORD, "admin")
            letter = DeadLetter(
                tenant=tenant,
                queue=f"{prefix}.load.dlq",
                message_id=f"m-{uuid.uuid4().hex[:8]}",
                body=b"{}",
                headers={},
                error="ValidationError: a broken message",
                attempts=5,
            )
            session.add(letter)
            session.commit()
            letter_id = letter.id
        token = httpx.post(
            f"{url}/api/v1/auth/login", data={"username": email, "password": PASSWORD}, timeout=10
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{url}/api/v1/integrations",
            headers=headers,
            timeout=10,
            json={
                "name": "slow-jira",
                "type": "jira",
                "baseUrl": slow.base_url,
                "scope": {"projects": ["ENG"]},
                "credentials": {"email": EMAIL, "token": TOKEN},
            },
        )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = httpx.get(f"{url}/api/v1/integrations/slow-jira", headers=headers, timeout=10).json()
            if got["phase"] == "Ready":
                break
            time.sleep(0.5)
        # Its quota used up once the connection is checked: the run waits out a long rate limit until stopped.
        assert slow.quota is not None
        slow.quota.exhaust(1800)
        job = {"name": "slow-sync", "integration": "slow-jira", "entities": ["issues"]}
        created = httpx.post(f"{url}/api/v1/jobs", headers=headers, json=job, timeout=10)
        assert created.status_code == 201, created.text

        artifacts = ROOT / "test-results" / "dashboard"
        shutil.rmtree(artifacts, ignore_errors=True)
        env = {
            **os.environ,
            "QUARRY_URL": url,
            "QUARRY_EMAIL": email,
            "QUARRY_PASSWORD": PASSWORD,
            "JIRA_URL": fast.base_url,
            "JIRA_EMAIL": EMAIL,
            "JIRA_TOKEN": TOKEN,
            "DEAD_LETTER_ID": str(letter_id),
            "ARTIFACTS": str(artifacts),
            "CHROMIUM": CHROMIUM,
        }
        result = subprocess.run(
            [node, "e2e/run.mjs"], cwd=FRONTEND, env=env, capture_output=True, text=True, timeout=900
        )
        output = result.stdout + result.stderr
        print(output)
        assert result.returncode == 0, output
        shots = {p.name for p in artifacts.glob("*.png")}
        pages = (
            "login home integrations job run work-items queues insights preferences search"
            " mappings-types mappings-hierarchies mappings-statuses mappings-workflows admin"
        )
        for name in pages.split():
            assert {f"{name}-desktop.png", f"{name}-narrow.png"} <= shots, name
    finally:
        fast.stop()
        slow.stop()
        engine.dispose()
