"""The whole pipeline as real processes: `quarry extract` -> `quarry worker transform` -> `quarry
worker load`, against imitation Jira (with 429/503 faults) and GitHub, on both queue backends.

Rows are created directly (no controller): each run is started by hand, so the test sees exactly
what one extract process and the workers make of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from quarry_core import runs
from quarry_core.db.models import EtlJob, Integration
from quarry_core.secrets import store_secret
from quarry_core.settings import CoreSettings
from quarry_sandbox.faults import FaultConfig
from quarry_sandbox.github_data import GithubDataset
from quarry_sandbox.github_server import GithubConfig, GithubServer
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraConfig, JiraServer

JIRA_ENTITIES = ["projects", "issue_types", "statuses", "fields", "boards", "sprints", "issues"]
GITHUB_ENTITIES = ["repositories", "pull_requests", "commits"]
SECRET_KEY = Fernet.generate_key().decode()


@dataclass
class Platform:
    engine: Engine
    env: dict[str, str]
    tenant: str


@pytest.fixture(params=["postgresql", "rabbitmq"])
def platform(
    request: pytest.FixtureRequest,
    database_url: str,
    engine: Engine,
    tenant: str,
    queue_prefix: str,
    tmp_path: Path,
) -> Iterator[Platform]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "QUARRY_SECRET_KEY": SECRET_KEY,
        "QUARRY_DATA_DIR": str(tmp_path / "data"),
        "QUARRY_QUEUE_PREFIX": queue_prefix,
        "QUARRY_EMBEDDER": "off",
        "QUARRY_LOG_LEVEL": "WARNING",
        "QUARRY_INCREMENTAL_OVERLAP_SECONDS": "0",
        "QUARRY_BACKOFF_BASE_SECONDS": "0.05",
        "QUARRY_BACKOFF_CAP_SECONDS": "0.2",
        "QUARRY_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "10",
    }
    env.pop("AMQP_URL", None)
    if request.param == "rabbitmq":
        env["AMQP_URL"] = request.getfixturevalue("amqp_url")
    workers = [
        subprocess.Popen([sys.executable, "-m", "quarry_cli.main", "worker", stage], env=env)
        for stage in ("transform", "load")
    ]
    try:
        yield Platform(engine, env, tenant)
    finally:
        for proc in workers:
            proc.terminate()  # by PID: SIGTERM, the workers' graceful stop
        for proc in workers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if "AMQP_URL" in env:
            from quarry_core.queue.rabbit import RabbitQueue

            rabbit = RabbitQueue(env["AMQP_URL"], prefix=queue_prefix)
            try:
                rabbit.delete_topology()
            finally:
                rabbit.close()


def add_integration(p: Platform, name: str, spec: dict[str, Any], credentials: dict[str, str]) -> None:
    with Session(p.engine) as s:
        s.add(Integration(tenant=p.tenant, name=name, uid=str(uuid.uuid4()), type=spec["type"], spec=spec))
        s.add(
            EtlJob(
                tenant=p.tenant,
                name=f"{name}-sync",
                uid=str(uuid.uuid4()),
                integration_name=name,
                spec={"integrationRef": {"name": name}},
            )
        )
        store_secret(s, CoreSettings(secret_key=SECRET_KEY), p.tenant, f"{name}-creds", credentials)
        s.commit()


def run_job(p: Platform, name: str, mode: str, entities: list[str], **env: str) -> int:
    """Create a run, extract it in a real `quarry extract` process, wait until it Succeeded."""
    with Session(p.engine) as s:
        job = s.query(EtlJob).filter_by(tenant=p.tenant, name=f"{name}-sync").one()
        integ = s.query(Integration).filter_by(tenant=p.tenant, name=name).one()
        run_id = runs.create_run(s, job, integ, mode=mode, entities=entities, trigger="manual").id
        s.commit()
    extract = subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", "extract", "--run-id", str(run_id)],
        env={**p.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert extract.returncode == 0, extract.stderr
    deadline = time.monotonic() + 30
    while (phase := scalar(p, "select phase from etl_runs where id = :r", r=run_id)) != "Succeeded":
        assert phase == "Running" and time.monotonic() < deadline, (
            phase,
            scalar(p, "select error from etl_runs where id = :r", r=run_id),
        )
        time.sleep(0.2)
    return run_id


def scalar(p: Platform, sql: str, **params: Any) -> Any:
    with p.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def count(p: Platform, table: str, name: str) -> int:
    return int(
        scalar(
            p,
            f"select count(*) from {table} t join integrations i on i.id = t.integration_id "
            "where t.tenant = :t and i.name = :n",
            t=p.tenant,
            n=name,
        )
    )


def fetched_keys(p: Platform, run_id: int) -> list[str]:
    """Issue keys on the run's search pages (not the id-only deletion sweep)."""
    with p.engine.connect() as conn:
        pages = conn.execute(
            text(
                "select response from raw_extraction_data where run_id = :r and entity = 'issues' "
                "and not coalesce((params->>'_sweep')::boolean, false)"
            ),
            {"r": run_id},
        ).scalars()
        return [issue["key"] for page in pages for issue in page["issues"]]


def status_changes(ds: JiraDataset) -> int:
    return sum(len(ds.status_transitions(rec.key)) for rec in ds.live_issues())


def commit_shas(ds: GithubDataset) -> set[tuple[str, str]]:
    """Default-branch commits and the commits of every pull request (first 250), once each."""
    return {(r.full_name, c.sha) for r in ds.repos for c in r.commits} | {
        (r.full_name, c.sha) for r in ds.repos for pr in r.pulls for c in pr.commits[:250]
    }


def work_item_status(p: Platform, key: str) -> str | None:
    sql = "select source_status from work_items where tenant = :t and key = :k"
    status = scalar(p, sql, t=p.tenant, k=key)
    return None if status is None else str(status)


def test_extract_transform_load_incremental_and_deletion(platform: Platform) -> None:
    p = platform
    jira_ds = JiraDataset.synthetic(300, projects=2, seed=31, long_changelog_rate=0.15)
    faults = FaultConfig(seed=5, rate_429=0.05, rate_503=0.05, retry_after=0, retry_after_503=0)
    gh_ds = GithubDataset.synthetic(repos=2, pulls=40, seed=31)
    with (
        JiraServer(jira_ds, JiraConfig(faults=faults)) as jira,
        GithubServer(gh_ds, GithubConfig()) as github,
    ):
        add_integration(
            p,
            "jira",
            {
                "type": "jira",
                "baseUrl": jira.base_url,
                "credentials": {"secretRef": {"name": "jira-creds"}},
                "scope": {"projects": [pr.key for pr in jira_ds.projects]},
            },
            {"email": "bot@quarry.dev", "token": "jira-token"},
        )
        add_integration(
            p,
            "github",
            {
                "type": "github",
                "baseUrl": github.base_url,
                "credentials": {"secretRef": {"name": "github-creds"}},
                "scope": {"org": gh_ds.org},
            },
            {"token": "gh-token"},
        )
        run_job(p, "jira", "full", JIRA_ENTITIES)
        run_job(p, "github", "full", GITHUB_ENTITIES)
        assert jira.counters.by_status[429] + jira.counters.by_status[503] > 0  # faults were survived

        truth = jira_ds.truth()
        assert count(p, "work_items", "jira") == truth["issues"]
        assert count(p, "work_item_transitions", "jira") == status_changes(jira_ds)
        assert count(p, "sprints", "jira") == truth["sprints"]
        assert count(p, "projects", "jira") == truth["projects"]
        assert count(p, "people", "jira") == truth["users"]
        gh = gh_ds.truth()
        assert count(p, "pull_requests", "github") == gh["pull_requests"]
        assert count(p, "pull_request_reviews", "github") == gh["reviews"]
        assert count(p, "commits", "github") == len(commit_shas(gh_ds)) > gh["commits"]

        # Incremental: only the changed issues are fetched again, and their new status lands.
        changed = jira_ds.transition_some(3, seed=7)
        run2 = run_job(p, "jira", "incremental", JIRA_ENTITIES)
        fetched = fetched_keys(p, run2)
        # `updated >= cursor` also returns each project's newest issue of the last run (same ms).
        assert set(changed) <= set(fetched) and len(fetched) <= len(changed) + len(jira_ds.projects)
        assert len(set(fetched)) == len(fetched)
        for key in changed:
            assert work_item_status(p, key) == jira_ds.issue(key)["fields"]["status"]["name"]
        assert count(p, "work_item_transitions", "jira") == status_changes(jira_ds)

        # A full run after a deletion at the source removes the issue.
        gone = changed[0]
        jira_ds.delete_issue(gone)
        run_job(p, "jira", "full", JIRA_ENTITIES)
        assert work_item_status(p, gone) is None
        assert count(p, "work_items", "jira") == jira_ds.truth()["issues"]
        assert count(p, "work_item_transitions", "jira") == status_changes(jira_ds)

        # An incremental run cannot see deletions; its periodic id-only sweep does.
        also_gone = changed[1]
        jira_ds.delete_issue(also_gone)
        run_job(p, "jira", "incremental", JIRA_ENTITIES)
        assert work_item_status(p, also_gone) is not None  # swept recently: no sweep this time
        run_job(p, "jira", "incremental", JIRA_ENTITIES, QUARRY_JIRA_SWEEP_HOURS="0")
        assert work_item_status(p, also_gone) is None
        assert count(p, "work_items", "jira") == jira_ds.truth()["issues"]
        assert count(p, "work_item_transitions", "jira") == status_changes(jira_ds)
