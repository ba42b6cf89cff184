"""Benchmark of `quarry extract` against the imitation servers.

    .venv/bin/python bench/extract.py [--issues 50000 --prs 5000] [--latency-ms 0]

Runs the real extract process (a subprocess, as the pod runs it) for a Jira integration and a
GitHub integration on a fresh database, then fetches the very same pages again with a plain
sequential httpx loop (no storage, no queue) in the same run, and reports items/s, requests,
peak RSS of the extract process and the ratio extract time / plain fetch time.

Both times leave interpreter start-up out: the extract time runs from the run turning Running to
`extract_finished_at` (both written by the extract process); the process's whole wall time is
reported beside it. `--latency-ms` delays every imitation response (in both measurements) the
way a remote API does; at 0 the imitation answers at the speed of its own CPU.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from quarry_core import runs
from quarry_core.db.migrate import upgrade
from quarry_core.db.models import EtlJob, Integration, Tenant
from quarry_core.secrets import store_secret
from quarry_core.settings import CoreSettings
from quarry_sandbox.github_data import GithubDataset
from quarry_sandbox.github_server import GithubConfig, GithubServer
from quarry_sandbox.http import Request, Response
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer

PG_ADMIN = os.environ.get("QUARRY_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def make_run(
    url: str, key: str, tenant: str, spec: dict[str, Any], creds: dict[str, str], entities: list[str]
) -> int:
    engine = create_engine(url)
    with Session(engine) as s:
        if s.get(Tenant, tenant) is None:
            s.add(Tenant(name=tenant))
            s.flush()
        name = f"{spec['type']}-bench"
        integ = Integration(tenant=tenant, name=name, uid=str(uuid.uuid4()), type=spec["type"], spec=spec)
        job = EtlJob(
            tenant=tenant, name=f"{name}-sync", uid=str(uuid.uuid4()), integration_name=name, spec={}
        )
        s.add_all([integ, job])
        s.flush()
        store_secret(s, CoreSettings(secret_key=key), tenant, spec["credentials"]["secretRef"]["name"], creds)
        run = runs.create_run(s, job, integ, mode="full", entities=entities, trigger="manual")
        s.commit()
        run_id = run.id
    engine.dispose()
    return run_id


def extract(url: str, key: str, run_id: int) -> tuple[float, int, int]:
    """(seconds, exit code, peak RSS in KiB) of one `quarry extract` process."""
    env = dict(
        os.environ,
        DATABASE_URL=url,
        QUARRY_SECRET_KEY=key,
        QUARRY_QUEUE_PREFIX="bench",
        QUARRY_LOG_LEVEL="WARNING",
    )
    env.pop("AMQP_URL", None)
    start = time.perf_counter()
    command = [sys.executable, "-m", "quarry_cli.main", "extract", "--run-id", str(run_id)]
    proc = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, os.waitstatus_to_exitcode(status), int(usage.ru_maxrss)


def extract_seconds(url: str, run_id: int) -> float:
    """From the run turning Running to extract_finished_at: the extraction without start-up."""
    engine = create_engine(url)
    with engine.connect() as conn:
        seconds = conn.execute(
            text("select extract(epoch from extract_finished_at - started_at) from etl_runs where id = :r"),
            {"r": run_id},
        ).scalar_one()
    engine.dispose()
    return float(seconds)


def add_latency(server: JiraServer | GithubServer, seconds: float) -> None:
    """Every response of the imitation takes `seconds` longer (a sleep: no CPU, like a WAN)."""
    if seconds <= 0:
        return
    dispatch = server.dispatch

    def delayed(req: Request) -> Response:
        time.sleep(seconds)
        return dispatch(req)

    server.dispatch = delayed  # type: ignore[method-assign]


def plain_fetch(url: str, run_id: int, headers: dict[str, str]) -> tuple[float, int]:
    """Fetch every stored page of the run again, one after the other, storing nothing."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("select method, url, params from raw_extraction_data where run_id = :r order by id"),
            {"r": run_id},
        ).all()
    engine.dispose()
    start = time.perf_counter()
    with httpx.Client(headers=headers, timeout=60) as client:
        for method, page_url, params in rows:
            if method == "POST":
                body = {k: v for k, v in params.items() if not k.startswith("_")}
                client.post(page_url, json=body).raise_for_status()
            else:
                client.get(page_url).raise_for_status()
    return time.perf_counter() - start, len(rows)


def counters(url: str, run_id: int) -> dict[str, dict[str, int]]:
    engine = create_engine(url)
    with Session(engine) as s:
        out = runs.counts(s, run_id)
    engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=50_000)
    parser.add_argument("--prs", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every response")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    db = f"quarry_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db}"
    key = Fernet.generate_key().decode()
    results: dict[str, Any] = {}
    try:
        eng = create_engine(url)
        upgrade(eng)
        eng.dispose()
        jira_ds = JiraDataset.synthetic(args.issues, projects=3, seed=1)
        gh_ds = GithubDataset.synthetic(repos=5, pulls=args.prs, seed=1)
        gh_config = GithubConfig(rest_limit=1_000_000, graphql_limit=1_000_000)
        with JiraServer(jira_ds) as jira, GithubServer(gh_ds, gh_config) as github:
            add_latency(jira, args.latency_ms / 1000)
            add_latency(github, args.latency_ms / 1000)
            cases = [
                (
                    "jira",
                    jira,
                    {
                        "type": "jira",
                        "baseUrl": jira.base_url,
                        "credentials": {"secretRef": {"name": "jira"}},
                        "scope": {"projects": [p.key for p in jira_ds.projects]},
                        "budget": {"requestsPerHour": 10**6},
                    },
                    {"email": "bot@quarry.dev", "token": "jira-token"},
                    ["projects", "issue_types", "statuses", "fields", "boards", "sprints", "issues"],
                    {"Authorization": "Basic " + base64.b64encode(b"bot@quarry.dev:jira-token").decode()},
                ),
                (
                    "github",
                    github,
                    {
                        "type": "github",
                        "baseUrl": github.base_url,
                        "credentials": {"secretRef": {"name": "gh"}},
                        "scope": {"org": gh_ds.org},
                        "budget": {"requestsPerHour": 10**6},
                    },
                    {"token": "gh-token"},
                    ["repositories", "pull_requests", "commits"],
                    {"Authorization": "Bearer gh-token"},
                ),
            ]
            for name, server, spec, creds, entities, headers in cases:
                run_id = make_run(url, key, "bench", spec, creds, entities)
                server.counters.reset()
                process_seconds, code, rss_kib = extract(url, key, run_id)
                seconds = extract_seconds(url, run_id)
                requests = server.counters.total()
                counts = counters(url, run_id)
                plain_seconds, pages = plain_fetch(url, run_id, headers)
                items = sum(c["extracted"] for c in counts.values())
                results[name] = {
                    "exit_code": code,
                    "seconds": round(seconds, 2),
                    "process_seconds": round(process_seconds, 2),
                    "items": items,
                    "items_per_second": round(items / seconds, 1),
                    "requests": requests,
                    "pages_stored": pages,
                    "peak_rss_mib": round(rss_kib / 1024, 1),
                    "plain_sequential_fetch_seconds": round(plain_seconds, 2),
                    "ratio_to_plain_fetch": round(seconds / plain_seconds, 2),
                    "per_entity": {k: v["extracted"] for k, v in sorted(counts.items())},
                }
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, r in results.items():
            print(
                f"{name}: {r['items']} items in {r['seconds']} s = {r['items_per_second']} items/s "
                f"(process {r['process_seconds']} s with start-up); "
                f"{r['requests']} requests ({r['pages_stored']} pages); peak RSS {r['peak_rss_mib']} MiB; "
                f"plain sequential fetch of the same pages {r['plain_sequential_fetch_seconds']} s "
                f"(ratio {r['ratio_to_plain_fetch']}); exit {r['exit_code']}"
            )
            print(f"    {r['per_entity']}")
    return 0 if all(r["exit_code"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
