"""compose.yaml's Quarry services, started one by one with podman exactly as the file defines
them (image, read-only root, user, dropped capabilities, command), against this machine's
PostgreSQL and RabbitMQ and an imitation Jira: migrate, the API, the local controller with its
workers, and a job created through the API that runs to Succeeded.

The database, broker and Qdrant services of the file are public images; no registry is reachable
here, so those three are this machine's own services instead (Qdrant: local mode)."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from quarry_sandbox import JiraConfig, JiraDataset, JiraServer
from tests.image.conftest import ROOT, TAG, podman
from tests.support.services import AMQP_URL, require, temporary_database

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
EMAIL, TOKEN, PASSWORD = "bot@acme.io", "single-host-token", "s3cret-passw0rd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_args(service: str, env: dict[str, str], command: list[str], *flags: str) -> list[str]:
    """`podman run` arguments for one compose service, its hardening taken from the file."""
    spec: dict[str, Any] = COMPOSE["services"][service]
    args = ["run", *flags, "--network=host", "--user", spec["user"]]
    if spec.get("read_only"):
        args.append("--read-only")
    args += [f"--cap-drop={c}" for c in spec.get("cap_drop", [])]
    args += [f"--security-opt={o}" for o in spec.get("security_opt", [])]
    args += [f"--tmpfs={t}" for t in spec.get("tmpfs", [])]
    for key in spec["environment"]:  # the file's keys, this machine's values
        if key in env:
            args += ["-e", f"{key}={env[key]}"]
    return [*args, TAG, *command]


def test_compose_runs_every_quarry_service_from_the_one_image_hardened() -> None:
    quarry = {n: s for n, s in COMPOSE["services"].items() if s.get("image", "").startswith("${QUARRY_IMAGE")}
    assert set(quarry) == {"migrate", "api", "controller"}
    for spec in quarry.values():
        assert spec["read_only"] and spec["cap_drop"] == ["ALL"] and not spec["user"].startswith("0")
    assert COMPOSE["services"]["api"]["environment"]["DATABASE_REPLICA_URL"].split("@")[1].startswith(
        "postgres-replica:"
    )
    assert {"postgres", "postgres-replica", "rabbitmq", "qdrant"} <= set(COMPOSE["services"])
    for script in ("postgres-primary.sh", "postgres-replica.sh"):
        assert (ROOT / "deploy" / "compose" / script).is_file()


@pytest.fixture
def platform(image: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    require("RabbitMQ", AMQP_URL)
    dataset = JiraDataset.synthetic(60, projects=1, seed=11, api_user_email=EMAIL)
    jira = JiraServer(dataset, JiraConfig(email=EMAIL, api_token=TOKEN)).start()
    names: list[str] = []
    with temporary_database("quarry_single_host") as url:
        env = {
            "DATABASE_URL": url,
            "AMQP_URL": AMQP_URL,
            "QUARRY_SECRET_KEY": Fernet.generate_key().decode(),
            "QUARRY_JWT_SECRET": uuid.uuid4().hex * 2,
            "QUARRY_LOG_FORMAT": "text",
            "QUARRY_RESOURCES": "local",
        }
        try:
            yield {"env": env, "names": names, "jira": jira, "url": url}
        finally:
            for name in names:
                podman(image, "rm", "-f", "-t", "2", name)
            jira.stop()


def start(image: dict[str, str], p: dict[str, Any], service: str, command: list[str]) -> str:
    name = f"quarry-{service}-{uuid.uuid4().hex[:6]}"
    p["names"].append(name)
    result = podman(image, *run_args(service, p["env"], command, "-d", "--name", name))
    assert result.returncode == 0, result.stderr
    return name


def wait_http(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200"
        time.sleep(0.5)


def test_migrate_api_and_controller_containers_run_a_job_to_succeeded(
    image: dict[str, str], platform: dict[str, Any]
) -> None:
    env, jira = platform["env"], platform["jira"]
    migrate = podman(image, *run_args("migrate", env, COMPOSE["services"]["migrate"]["command"], "--rm"))
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr

    api_port, controller_port = free_port(), free_port()
    api = start(image, platform, "api", ["api", "--host=127.0.0.1", f"--port={api_port}"])
    start(image, platform, "controller", ["up", "--host=127.0.0.1", f"--port={controller_port}"])
    base = f"http://127.0.0.1:{api_port}"
    wait_http(f"{base}/healthz")
    wait_http(f"http://127.0.0.1:{controller_port}/healthz")
    assert "/api/v1/jobs" in wait_http(f"{base}/api/v1/openapi.json").json()["paths"]

    assert podman(image, "exec", api, "quarry", "admin", "create-tenant", "acme").returncode == 0
    created = subprocess.run(
        ["podman", "exec", "-i", api, "quarry", "admin", "create-user", "--tenant", "acme",
         "--email", "admin@acme.io", "--role", "admin"],
        env=image, input=f"{PASSWORD}\n", capture_output=True, text=True, timeout=60,
    )
    assert created.returncode == 0, created.stderr
    credentials = {"username": "admin@acme.io", "password": PASSWORD}
    login = httpx.post(f"{base}/api/v1/auth/login", data=credentials)
    assert login.status_code == 200, login.text
    h = {"Authorization": f"Bearer {login.json()['access_token']}"}
    integration = {
        "name": "acme-jira", "type": "jira", "baseUrl": jira.base_url, "scope": {"projects": ["ENG"]},
        "credentials": {"email": EMAIL, "token": TOKEN},
    }
    assert httpx.post(f"{base}/api/v1/integrations", json=integration, headers=h).status_code == 201
    job = {"name": "acme-jira-sync", "integration": "acme-jira", "entities": ["projects", "issues"]}
    assert httpx.post(f"{base}/api/v1/jobs", json=job, headers=h).status_code == 201

    deadline = time.monotonic() + 120
    phase = None
    while phase != "Succeeded":
        assert time.monotonic() < deadline, f"the run did not succeed (last phase {phase})"
        runs = httpx.get(f"{base}/api/v1/jobs/acme-jira-sync/runs", headers=h).json()
        items = runs["items"] if isinstance(runs, dict) else runs
        phase = items[0]["phase"] if items else None
        assert phase not in ("Failed", "Cancelled"), items[0]
        time.sleep(1)
    engine = create_engine(platform["url"])
    with engine.connect() as conn:
        loaded = conn.execute(text("select count(*) from work_items where tenant = 'acme'")).scalar()
    engine.dispose()
    assert loaded == len(jira.dataset.issue_keys())

