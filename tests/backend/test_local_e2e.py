"""The API driving the local runtime end to end: `quarry up` (controller, extract and worker
processes) against an imitation Jira, everything done through HTTP."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from quarry_backend.admin import create_tenant, create_user
from quarry_backend.app import create_app
from quarry_backend.settings import ApiSettings
from tests.backend.conftest import PASSWORD, login
from tests.e2e.test_local_e2e import (
    EMAIL,
    TOKEN,
    alive,
    environment,
    jira_server,
    scalar,
    start_up,
    wait_until,
)
from tests.support.services import temporary_database

NS = "acme"


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        # Every thread's own list: `quarry up` starts processes from more than one thread.
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = task.read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                found.add(child)
                todo.append(child)
    return found


def extract_processes(pid: int) -> list[int]:
    out = []
    for child in descendants(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"extract" in argv and alive(child):
            out.append(child)
    return out


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Engine, dict[str, str]]]:
    """A database of its own (the controller acts on every job it finds), the API in-process."""
    with temporary_database("quarry_api_e2e") as url:
        env = environment(url, tmp_path)
        engine = create_engine(url)
        with Session(engine) as session:
            create_tenant(session, NS)
            create_user(session, NS, "editor@acme.example", PASSWORD, "editor")
            session.commit()
        app = create_app(ApiSettings.model_validate(env))
        with TestClient(app) as client:
            token = login(client, "editor@acme.example")["access_token"]
            yield client, {"Authorization": f"Bearer {token}"}, engine, env
        app.state.db.dispose()
        engine.dispose()


def _integration(name: str, url: str, token: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "jira",
        "baseUrl": url,
        "scope": {"projects": ["ENG", "OPS"]},
        "credentials": {"email": EMAIL, "token": token},
    }


def _run_of(client: TestClient, h: dict[str, str], job: str, trigger: str, more_than: int = 0) -> int:
    holder: list[int] = []

    def found() -> bool:
        runs = client.get(f"/api/v1/jobs/{job}/runs", headers=h).json()["items"]
        holder.extend(r["id"] for r in runs if r["trigger"] == trigger and r["id"] > more_than)
        return bool(holder)

    wait_until(found, 60, f"a {trigger} run of {job}")
    return holder[0]


def _phase(client: TestClient, h: dict[str, str], run_id: int) -> str:
    phase: str = client.get(f"/api/v1/runs/{run_id}", headers=h).json()["phase"]
    return phase


def test_create_test_run_and_read_through_the_api_with_quarry_up(
    platform: tuple[TestClient, dict[str, str], Engine, dict[str, str]], tmp_path: Path
) -> None:
    client, h, db, env = platform
    server = jira_server(30)
    up = start_up({**env, "QUARRY_JIRA_PAGE_SIZE": "2"}, tmp_path, "up")
    try:
        wrong = client.post(
            "/api/v1/integrations", json=_integration("jira", server.base_url, "nope"), headers=h
        )
        assert wrong.status_code == 201, wrong.text
        check = client.post("/api/v1/integrations/jira/test", headers=h).json()
        assert (check["ready"], check["reason"]) == (False, "AuthFailed")
        fixed = {k: v for k, v in _integration("jira", server.base_url, TOKEN).items() if k != "name"}
        assert client.put("/api/v1/integrations/jira", json=fixed, headers=h).status_code == 200
        check = client.post("/api/v1/integrations/jira/test", headers=h).json()
        assert (check["ready"], check["reason"]) == (True, "Verified"), check

        job = {"name": "jira-sync", "integration": "jira", "entities": ["projects", "issues"]}
        assert client.post("/api/v1/jobs", json=job, headers=h).status_code == 201
        first = _run_of(client, h, "jira-sync", "create")
        wait_until(lambda: _phase(client, h, first) in ("Succeeded", "Failed"), 120, "the first sync")
        assert _phase(client, h, first) == "Succeeded", client.get(f"/api/v1/runs/{first}", headers=h).text
        assert client.post("/api/v1/jobs/jira-sync/run", headers=h).status_code == 202
        manual = _run_of(client, h, "jira-sync", "manual")
        wait_until(lambda: _phase(client, h, manual) in ("Succeeded", "Failed"), 120, "the manual run")
        assert _phase(client, h, manual) == "Succeeded"
        items = client.get("/api/v1/work-items?limit=200", headers=h).json()["items"]
        assert len(items) == 30
        assert {i["key"].split("-")[0] for i in items} == {"ENG", "OPS"}

        # A long run (pages of 2 issues, a budget of 12 requests an hour), stopped: its extract
        # process is gone within 5 s, the run is Cancelled, and what it loaded stays.
        slow = {**_integration("slow", server.base_url, TOKEN), "budget": {"requestsPerHour": 12}}
        assert client.post("/api/v1/integrations", json=slow, headers=h).status_code == 201
        long_job = {"name": "slow-sync", "integration": "slow", "entities": ["projects", "issues"]}
        assert client.post("/api/v1/jobs", json=long_job, headers=h).status_code == 201
        run_id = _run_of(client, h, "slow-sync", "create")

        def loaded() -> int:
            sql = "select count(*) from work_items w join integrations i on i.id = w.integration_id"
            return int(scalar(db, f"{sql} where i.name = 'slow'"))

        wait_until(lambda: loaded() > 0 and extract_processes(up.pid), 90, "the long run's first rows")
        [extract] = extract_processes(up.pid)
        assert _phase(client, h, run_id) == "Running"
        stopped = client.post("/api/v1/jobs/slow-sync/stop", headers=h).json()
        assert stopped["cancelledRunIds"] == [run_id]
        started = time.monotonic()
        wait_until(lambda: not alive(extract), 5, "the extract process to end")
        assert time.monotonic() - started < 5
        assert _phase(client, h, run_id) == "Cancelled"
        rows = loaded()
        time.sleep(2)
        assert loaded() == rows > 0
        assert len(client.get("/api/v1/work-items?limit=200", headers=h).json()["items"]) == 30 + rows
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(40)
        server.stop()
