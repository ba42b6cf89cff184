"""`quarry up --demo`: imitation Jira and GitHub, a `demo` tenant syncing both, and what got loaded."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.db.engine import redact, session_scope
from quarry_core.db.models import FINAL_TABLES, EtlJob, EtlRun, User
from quarry_core.db.tenancy import acting_as
from quarry_core.settings import CoreSettings
from quarry_core.store import apply_text, request_run

NAMESPACE = "demo"
JIRA_EMAIL, JIRA_TOKEN, GITHUB_TOKEN = "bot@quarry.dev", "demo-jira-token", "demo-github-token"
JOBS = ("demo-jira-sync", "demo-github-sync")
DEMO_ADMIN = "admin@demo.quarry.dev"

MANIFESTS = """\
apiVersion: v1
kind: Secret
metadata: {{name: jira-creds, namespace: demo}}
stringData: {{email: {jira_email}, token: {jira_token}}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: demo-jira, namespace: demo}}
spec:
  type: jira
  baseUrl: {jira_url}
  credentials: {{secretRef: {{name: jira-creds}}}}
  scope: {{projects: [ENG, OPS]}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: demo-jira-sync, namespace: demo}}
spec:
  integrationRef: {{name: demo-jira}}
  mode: incremental
  entities: [projects, issues, sprints]
  workers:
    transform: {{pollingSeconds: 1, cooldownSeconds: 60, stabilizationSeconds: 30}}
    load: {{pollingSeconds: 1, cooldownSeconds: 60, stabilizationSeconds: 30}}
---
apiVersion: v1
kind: Secret
metadata: {{name: github-creds, namespace: demo}}
stringData: {{token: {github_token}}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: demo-github, namespace: demo}}
spec:
  type: github
  baseUrl: {github_url}
  credentials: {{secretRef: {{name: github-creds}}}}
  scope: {{org: acme, repos: [api, web]}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: demo-github-sync, namespace: demo}}
spec:
  integrationRef: {{name: demo-github}}
  mode: incremental
  entities: [repositories, pull_requests, commits]
  workers:
    transform: {{pollingSeconds: 1, cooldownSeconds: 60, stabilizationSeconds: 30}}
    load: {{pollingSeconds: 1, cooldownSeconds: 60, stabilizationSeconds: 30}}
"""


@dataclass
class Sandboxes:
    jira: Any
    github: Any

    def stop(self) -> None:
        self.jira.stop()
        self.github.stop()


def start_sandboxes(issues: int = 150, pulls: int = 40, seed: int = 7) -> Sandboxes:
    from quarry_sandbox import GithubConfig, GithubDataset, GithubServer, JiraConfig, JiraDataset, JiraServer

    jira = JiraServer(
        JiraDataset.synthetic(issues, projects=2, seed=seed, api_user_email=JIRA_EMAIL),
        JiraConfig(email=JIRA_EMAIL, api_token=JIRA_TOKEN),
    ).start()
    github = GithubServer(
        GithubDataset.synthetic(2, pulls, seed=seed, org="acme"), GithubConfig(tokens=(GITHUB_TOKEN,))
    ).start()
    return Sandboxes(jira, github)


def manifests(jira_url: str, github_url: str) -> str:
    return MANIFESTS.format(
        jira_url=jira_url,
        github_url=github_url,
        jira_email=JIRA_EMAIL,
        jira_token=JIRA_TOKEN,
        github_token=GITHUB_TOKEN,
    )


def demo_admin(session: Session) -> str:
    """The demo tenant's admin for the dashboard; its password is QUARRY_DEMO_PASSWORD or new each start."""
    from quarry_backend.admin import MIN_PASSWORD, AdminError, create_user
    from quarry_backend.security import hash_password

    password = os.environ.get("QUARRY_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD:
        raise AdminError(f"QUARRY_DEMO_PASSWORD must have at least {MIN_PASSWORD} characters")
    acting_as(session, NAMESPACE)
    user = session.scalar(select(User).where(User.tenant == NAMESPACE, User.email == DEMO_ADMIN))
    if user is None:
        create_user(session, NAMESPACE, DEMO_ADMIN, password, "admin")
    else:
        user.password_hash = hash_password(password)
    return password


def table_counts(session: Session, namespace: str) -> dict[str, int]:
    return {
        table: session.execute(
            text(f"select count(*) from {table} where tenant = :t"), {"t": namespace}
        ).scalar_one()
        for table in FINAL_TABLES
    }


def vector_progress(session: Session, namespace: str) -> tuple[int, int]:
    """(embedded, total) work items and pull requests of the tenant."""
    embedded = total = 0
    for table in ("work_items", "pull_requests"):
        row = session.execute(
            text(f"select count(embedded_at), count(*) from {table} where tenant = :t"), {"t": namespace}
        ).one()
        embedded, total = embedded + row[0], total + row[1]
    return embedded, total


def _report_vectors(sessions: sessionmaker[Session], out: TextIO, stop: threading.Event, wait: float) -> None:
    """Vectors catch up after the tables (their own stage); show them doing so, briefly."""
    deadline = time.monotonic() + wait
    while True:
        with sessions() as session:
            embedded, total = vector_progress(session, NAMESPACE)
        if embedded >= total or time.monotonic() >= deadline or stop.is_set():
            break
        time.sleep(0.5)
    state = "all embedded" if embedded >= total else "still catching up in the embed worker"
    what = f"of {total} work items and pull requests, {state}"
    print(f"  vectors (Qdrant)       {embedded:>6} {what}", file=out)


def run_demo(
    settings: CoreSettings,
    sessions: sessionmaker[Session],
    out: TextIO,
    stop: threading.Event,
    api_url: str,
    timeout: float = 600.0,
    on_sandboxes: Callable[[Sandboxes], None] | None = None,
) -> bool:
    """Start the sandboxes, apply the demo tenant, run both jobs to the end; True when both succeeded."""
    boxes = start_sandboxes()
    if on_sandboxes is not None:
        on_sandboxes(boxes)
    print(
        f"demo: imitation Jira at {boxes.jira.base_url}, imitation GitHub at {boxes.github.base_url}",
        file=out,
    )
    with session_scope(sessions) as session:
        for line in apply_text(session, settings, manifests(boxes.jira.base_url, boxes.github.base_url)):
            print(f"demo: {line}", file=out)
        password = demo_admin(session)
        tokens = {}
        for job in JOBS:
            _, tokens[job] = request_run(session, NAMESPACE, job)
    login = f"log in as {DEMO_ADMIN} with password {password}"
    print(f"demo: the dashboard is at {api_url}/ ({login})", file=out)
    print("demo: running the first sync of both jobs (quarry get runs -n demo shows them)", file=out)
    outcome = _wait(sessions, tokens, out, stop, time.monotonic() + timeout)
    if outcome is None:
        return False
    with sessions() as session:
        counts = table_counts(session, NAMESPACE)
    print("\ndemo: loaded into PostgreSQL (tenant 'demo'):", file=out)
    for table, n in counts.items():
        print(f"  {table:<24} {n:>6} rows", file=out)
    _report_vectors(sessions, out, stop, wait=30.0)
    ok = all(phase == "Succeeded" for phase in outcome.values())
    for job, phase in outcome.items():
        print(f"demo: {job}: {phase}", file=out)
    print(
        "\nwhere to look:\n"
        f"  the dashboard:       {api_url}/  ({login})\n"
        f"  DATABASE_URL={redact(str(sessions.kw['bind'].url.render_as_string(hide_password=False)))}\n"
        f"  health and metrics:  {api_url}/healthz  {api_url}/metrics\n"
        "  quarry get jobs -n demo;  quarry get runs -n demo;  quarry get integrations -n demo\n"
        "  quarry run demo-jira-sync -n demo --wait   (an incremental re-sync)\n"
        f"  logs of every process: {settings.data_dir / 'logs'}",
        file=out,
    )
    return ok


def _wait(
    sessions: sessionmaker[Session],
    tokens: dict[str, str],
    out: TextIO,
    stop: threading.Event,
    deadline: float,
) -> dict[str, str] | None:
    """Each job's run phase once all have ended (None if stopped or timed out)."""
    shown: dict[str, str] = {}
    while not stop.is_set():
        phases: dict[str, str] = {}
        with sessions() as session:
            for job, token in tokens.items():
                job_id = session.scalar(
                    select(EtlJob.id).where(EtlJob.tenant == NAMESPACE, EtlJob.name == job)
                )
                run = session.execute(
                    select(EtlRun.id, EtlRun.phase)
                    .where(EtlRun.job_id == job_id, (EtlRun.token == token) | (EtlRun.trigger == "create"))
                    .order_by(EtlRun.id.desc())
                    .limit(1)
                ).first()
                loaded = 0
                if run is not None:
                    loaded = session.scalar(
                        text("select coalesce(sum(loaded), 0) from etl_run_counters where run_id = :r"),
                        {"r": run.id},
                    )
                phases[job] = run.phase if run is not None else "Pending"
                line = f"{phases[job]}, {loaded} records loaded" + (f" (run {run.id})" if run else "")
                if shown.get(job) != line:
                    print(f"demo: {job}: {line}", file=out)
                    shown[job] = line
        if all(p in ("Succeeded", "Failed", "Cancelled") for p in phases.values()):
            return phases
        if time.monotonic() > deadline:
            print("demo: timed out waiting for the first runs", file=out)
            return None
        stop.wait(1.0)
    return None
