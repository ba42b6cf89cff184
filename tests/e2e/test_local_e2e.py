"""End to end on one machine: the real `quarry` CLI, extract and worker processes, imitation servers.

Each test has a database of its own (the controller acts on every job it finds) and, on RabbitMQ,
queues of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text

from quarry_sandbox import FaultConfig, JiraConfig, JiraDataset, JiraServer
from tests.support.services import AMQP_URL, require, temporary_database

EMAIL, TOKEN = "bot@quarry.dev", "e2e-jira-token"
SEARCH = "/rest/api/3/search/jql"

MANIFEST = """
apiVersion: v1
kind: Secret
metadata: {{name: jira-creds, namespace: {ns}}}
stringData: {{email: {email}, token: {token}}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: jira, namespace: {ns}}}
spec:
  type: jira
  baseUrl: {url}
  credentials: {{secretRef: {{name: jira-creds}}}}
  scope: {{projects: [ENG, OPS]}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: jira-sync, namespace: {ns}}}
spec:
  integrationRef: {{name: jira}}
  mode: incremental
  entities: [projects, issues, sprints]
  workers:
    transform: {{pollingSeconds: 1, cooldownSeconds: 30}}
    load: {{pollingSeconds: 1, cooldownSeconds: 30}}
"""


@pytest.fixture
def db_url() -> Iterator[str]:
    with temporary_database("quarry_e2e") as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def jira_server(issues: int, faults: FaultConfig | None = None) -> JiraServer:
    dataset = JiraDataset.synthetic(issues, projects=2, seed=3, api_user_email=EMAIL)
    return JiraServer(
        dataset, JiraConfig(email=EMAIL, api_token=TOKEN, faults=faults or FaultConfig())
    ).start()


def environment(db_url: str, tmp: Path, amqp: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "QUARRY_DATA_DIR": str(tmp / "data"),
        "QUARRY_SECRET_KEY": Fernet.generate_key().decode(),
        "QUARRY_EMBEDDER": "hashing",
        "QUARRY_INCREMENTAL_OVERLAP_SECONDS": "0",
        "QUARRY_BACKOFF_BASE_SECONDS": "0.05",
        "QUARRY_STOP_GRACE_SECONDS": "15",
        "QUARRY_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "10",
        "QUARRY_ERROR_RECHECK_SECONDS": "1",
        "QUARRY_QUEUE_PREFIX": f"qe{uuid.uuid4().hex[:8]}",
        **extra,
    }
    env.pop("AMQP_URL", None)
    if amqp:
        env["AMQP_URL"] = amqp
    return env


def quarry(env: dict[str, str], *args: str, timeout: float = 120, stdin: str | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def apply(env: dict[str, str], ns: str, url: str) -> None:
    doc = MANIFEST.format(ns=ns, url=url, email=EMAIL, token=TOKEN)
    result = quarry(env, "apply", "-f", "-", stdin=doc)
    assert result.returncode == 0, result.stderr
    assert "etljob.quarry.dev/jira-sync created" in result.stdout


def scalar(db: Engine, sql: str, **params: Any) -> Any:
    with db.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def issue_keys(db: Engine, run_id: int) -> list[str]:
    """Issue keys of the run's search pages (not the deletion sweep's id-only pages)."""
    with db.connect() as conn:
        pages = conn.execute(
            text(
                "select response from raw_extraction_data where run_id = :r and entity = 'issues' "
                "and not coalesce((params->>'_sweep')::boolean, false) and response->'issues' IS NOT NULL"
            ),
            {"r": run_id},
        ).scalars()
        return [issue["key"] for page in pages for issue in page["issues"]]


@pytest.mark.parametrize("backend", ["postgresql", "rabbitmq"])
def test_apply_and_run_wait_then_incremental(backend: str, db_url: str, db: Engine, tmp_path: Path) -> None:
    amqp = None
    if backend == "rabbitmq":
        require("RabbitMQ", AMQP_URL)
        amqp = AMQP_URL
    env = environment(db_url, tmp_path, amqp)
    server = jira_server(120)
    ns = f"e2e-{uuid.uuid4().hex[:6]}"
    try:
        apply(env, ns, server.base_url)
        first = quarry(env, "run", "jira-sync", "-n", ns, "--wait", "-o", "json", "--timeout", "90")
        assert first.returncode == 0, first.stderr[-3000:]
        result = json.loads(first.stdout)
        assert result["phase"] == "Succeeded" and result["error"] is None
        assert result["counts"]["issues"]["loaded"] >= 120
        assert scalar(db, "select count(*) from work_items where tenant = :t", t=ns) == 120
        assert sorted(set(issue_keys(db, result["run"]))) == sorted(server.dataset.issue_keys())
        first_searches = server.counters.by_path[SEARCH]

        changed = server.dataset.transition_some(3, seed=5)
        server.counters.reset()
        second = quarry(env, "run", "jira-sync", "-n", ns, "--wait", "-o", "json", "--timeout", "90")
        assert second.returncode == 0, second.stderr[-3000:]
        again = json.loads(second.stdout)
        assert again["phase"] == "Succeeded" and again["run"] != result["run"]
        fetched = set(issue_keys(db, again["run"]))
        # Only the changed issues come back, plus at most one per project: the one whose update
        # time is that project's cursor (Jira's JQL compares minutes, so the cursor is inclusive).
        assert set(changed) <= fetched and len(fetched) <= len(changed) + 2, fetched
        # No more search pages than the first run (which needed no id-only sweep: it walked them all).
        assert server.counters.by_path[SEARCH] <= first_searches
        assert scalar(db, "select count(*) from work_items where tenant = :t", t=ns) == 120
        statuses = {
            k: scalar(db, "select source_status from work_items where tenant = :t and key = :k", t=ns, k=k)
            for k in changed
        }
        assert statuses == {k: server.dataset.issue(k)["fields"]["status"]["name"] for k in changed}

        listing = quarry(env, "get", "runs", "-n", ns)
        assert listing.returncode == 0 and listing.stdout.count("Succeeded") == 2
        jobs = json.loads(quarry(env, "get", "jobs", "-n", ns, "-o", "json").stdout)
        assert jobs["items"][0]["status"]["phase"] == "Succeeded"
    finally:
        server.stop()
        if amqp:
            from quarry_core.queue.rabbit import RabbitQueue

            RabbitQueue(amqp, prefix=env["QUARRY_QUEUE_PREFIX"]).delete_topology()


def test_run_wait_exits_non_zero_when_the_run_fails(db_url: str, db: Engine, tmp_path: Path) -> None:
    env = environment(db_url, tmp_path)
    server = jira_server(40)
    ns = f"e2e-{uuid.uuid4().hex[:6]}"
    try:
        doc = MANIFEST.format(ns=ns, url=server.base_url, email=EMAIL, token=TOKEN)
        applied = quarry(env, "apply", "-f", "-", stdin=doc.replace("[ENG, OPS]", "[ENG, NOPE]"))
        assert applied.returncode == 0, applied.stderr
        result = quarry(env, "run", "jira-sync", "-n", ns, "--wait", "-o", "json", "--timeout", "90")
        assert result.returncode == 1, result.stderr[-3000:]
        run = json.loads(result.stdout)
        assert run["phase"] == "Failed" and "NOPE" in run["error"], run
        # the failed run commits no cursor: the next run starts from the same place
        assert scalar(db, "select count(*) from sync_cursors where tenant = :t", t=ns) == 0
    finally:
        server.stop()


def children_of(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def start_up(env: dict[str, str], tmp: Path, name: str) -> subprocess.Popen[bytes]:
    log = (tmp / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "quarry_cli.main", "up", "--port", "0"], env=env, stdout=log, stderr=log
    )


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_sigterm_mid_run_then_restart_completes_nothing_lost_or_doubled(
    db_url: str, db: Engine, tmp_path: Path
) -> None:
    # Slow the source down (small pages, some 429s) so there is a "mid-run" to interrupt.
    server = jira_server(300, FaultConfig(seed=1, rate_429=0.2, retry_after=1))
    env = environment(db_url, tmp_path, QUARRY_JIRA_PAGE_SIZE="10")
    ns = f"e2e-{uuid.uuid4().hex[:6]}"
    try:
        apply(env, ns, server.base_url)
        up = start_up(env, tmp_path, "up1")

        def pages() -> int:
            return int(scalar(db, "select count(*) from raw_extraction_data where tenant = :t", t=ns))

        wait_until(lambda: pages() >= 5, 60, "the first pages")
        assert scalar(db, "select extract_finished_at from etl_runs where tenant = :t", t=ns) is None
        kids = children_of(up.pid)
        assert kids, "quarry up has no child processes"
        up.send_signal(signal.SIGTERM)
        assert up.wait(40) == 0
        time.sleep(0.3)
        assert not [p for p in kids if alive(p)], "orphaned processes"
        run_id, phase, attempt = (
            db.connect()
            .execute(text("select id, phase, attempt from etl_runs where tenant = :t"), {"t": ns})
            .one()
        )
        assert phase in ("Pending", "Running")

        up = start_up(env, tmp_path, "up2")
        wait_until(
            lambda: (
                scalar(db, "select phase from etl_runs where id = :r", r=run_id) in ("Succeeded", "Failed")
            ),
            90,
            "the run to finish after the restart",
        )
        up.send_signal(signal.SIGTERM)
        assert up.wait(40) == 0
        assert scalar(db, "select phase from etl_runs where id = :r", r=run_id) == "Succeeded"
        assert scalar(db, "select attempt from etl_runs where id = :r", r=run_id) == attempt  # not a failure
        keys = issue_keys(db, run_id)
        assert len(keys) == len(set(keys)) == 300  # every issue stored once
        assert scalar(db, "select count(*) from work_items where tenant = :t", t=ns) == 300
        assert scalar(db, "select count(*) from etl_runs where tenant = :t", t=ns) == 1
    finally:
        server.stop()


def test_invalid_manifest_is_refused_with_the_field_named(db_url: str, tmp_path: Path) -> None:
    env = environment(db_url, tmp_path)
    ns = f"e2e-{uuid.uuid4().hex[:6]}"
    good = MANIFEST.format(ns=ns, url="http://jira.invalid", email=EMAIL, token=TOKEN)
    bad = good.replace("mode: incremental", "mode: sometimes").replace("entities: [projects,", "entitie: [")
    result = quarry(env, "apply", "-f", "-", stdin=bad)
    assert result.returncode == 1
    assert "spec.mode" in result.stderr and "spec.entitie: unknown field" in result.stderr
    assert f"EtlJob {ns}/jira-sync" in result.stderr
    listing = quarry(env, "get", "integrations", "-n", ns, "-o", "json")
    assert json.loads(listing.stdout)["items"] == []  # the valid documents before it were not applied


def test_custom_secret_keys_reach_both_the_check_and_the_extraction(
    db_url: str, db: Engine, tmp_path: Path
) -> None:
    """`credentials.secretRef.keys` names other Secret keys: the Integration turns Ready and the run
    authenticates with the same header (built in one place for both)."""
    env = environment(db_url, tmp_path)
    server = jira_server(30)
    ns = f"e2e-{uuid.uuid4().hex[:6]}"
    doc = (
        MANIFEST.format(ns=ns, url=server.base_url, email=EMAIL, token=TOKEN)
        .replace(f"{{email: {EMAIL}, token: {TOKEN}}}", f"{{user: {EMAIL}, apitoken: {TOKEN}}}")
        .replace(
            "{secretRef: {name: jira-creds}}",
            "{secretRef: {name: jira-creds, keys: {username: user, token: apitoken}}}",
        )
    )
    assert "apitoken" in doc and "keys: {username: user" in doc
    try:
        applied = quarry(env, "apply", "-f", "-", stdin=doc)
        assert applied.returncode == 0, applied.stderr
        run = quarry(env, "run", "jira-sync", "-n", ns, "--wait", "-o", "json", "--timeout", "90")
        assert run.returncode == 0, run.stderr[-3000:]
        assert json.loads(run.stdout)["phase"] == "Succeeded"
        assert scalar(db, "select count(*) from work_items where tenant = :t", t=ns) == 30
        status = json.loads(quarry(env, "get", "integrations", "-n", ns, "-o", "json").stdout)
        assert status["items"][0]["status"]["phase"] == "Ready"
        assert server.counters.by_status[401] == 0
    finally:
        server.stop()
