"""Fixtures of the extractor tests: imitation servers, runs with their rows, fast settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from quarry_core import runs
from quarry_core.db.models import EtlJob, EtlRun, Integration, RawExtractionData
from quarry_core.secrets import store_secret
from quarry_extractor.settings import ExtractorSettings
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer

SECRET_KEY = Fernet.generate_key().decode()

MakeSettings = Callable[..., ExtractorSettings]
MakeRun = Callable[..., int]


@pytest.fixture
def make_settings(database_url: str, queue_prefix: str) -> MakeSettings:
    def make(**overrides: Any) -> ExtractorSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "secret_key": SECRET_KEY,
            "queue_prefix": queue_prefix,
            "backoff_base_seconds": 0.02,
            "backoff_cap_seconds": 0.2,
            "github_secondary_wait_seconds": 0.2,
            "max_attempts": 12,
        }
        values.update(overrides)
        return ExtractorSettings(**values)

    return make


@pytest.fixture
def make_run(engine: Engine, tenant: str, make_settings: MakeSettings) -> MakeRun:
    """Integration + EtlJob + Secret + a Pending run; returns the run id. Reuses the integration by name."""

    def make(
        spec: dict[str, Any],
        credentials: dict[str, str],
        *,
        entities: list[str],
        mode: str = "full",
        name: str = "src",
    ) -> int:
        with Session(engine) as s:
            integ = s.scalar(
                select(Integration).where(Integration.tenant == tenant, Integration.name == name)
            )
            if integ is None:
                integ = Integration(
                    tenant=tenant, name=name, uid=str(uuid.uuid4()), type=spec["type"], spec=spec
                )
                s.add(integ)
                job = EtlJob(
                    tenant=tenant,
                    name=f"{name}-sync",
                    uid=str(uuid.uuid4()),
                    integration_name=name,
                    spec={"integrationRef": {"name": name}, "mode": mode, "entities": entities},
                )
                s.add(job)
                s.flush()
            else:
                integ.spec = spec
                job = s.scalars(
                    select(EtlJob).where(EtlJob.tenant == tenant, EtlJob.integration_name == name)
                ).one()
            secret = spec["credentials"]["secretRef"]["name"]
            store_secret(s, make_settings(), tenant, secret, credentials)
            run = runs.create_run(s, job, integ, mode=mode, entities=entities, trigger="manual")
            s.commit()
            return run.id

    return make


def commit_cursors(engine: Engine, run_id: int) -> None:
    """What the workers do when a run completes: candidate cursors become the committed ones."""
    with engine.begin() as conn:
        run = conn.execute(
            text("select tenant, integration_id, candidate_cursors from etl_runs where id = :id"),
            {"id": run_id},
        ).one()
        for scope, entity, value in (
            (scope, entity, value)
            for scope, per_entity in run.candidate_cursors.items()
            for entity, value in per_entity.items()
        ):
            conn.execute(
                text(
                    "insert into sync_cursors (tenant, integration_id, scope, entity, value, run_id) "
                    "values (:t, :i, :s, :e, CAST(:v AS jsonb), :r) "
                    "on conflict (integration_id, scope, entity) "
                    "do update set value = excluded.value, run_id = excluded.run_id"
                ),
                {
                    "t": run.tenant,
                    "i": run.integration_id,
                    "s": scope,
                    "e": entity,
                    "v": _json(value),
                    "r": run_id,
                },
            )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def raw_pages(engine: Engine, run_id: int, entity: str | None = None) -> list[RawExtractionData]:
    with Session(engine) as s:
        q = select(RawExtractionData).where(RawExtractionData.run_id == run_id)
        if entity is not None:
            q = q.where(RawExtractionData.entity == entity)
        return list(s.scalars(q.order_by(RawExtractionData.id)).all())


def run_row(engine: Engine, run_id: int) -> EtlRun:
    with Session(engine) as s:
        run = s.get(EtlRun, run_id)
        assert run is not None
        s.expunge(run)
        return run


def issue_keys(pages: list[RawExtractionData]) -> list[str]:
    return [i["key"] for p in pages if not p.params.get("_sweep") for i in p.response["issues"]]


def changelog_ids(pages: list[RawExtractionData]) -> dict[str, set[str]]:
    """Issue id -> history ids, from search pages (embedded) and changelog pages."""
    out: dict[str, set[str]] = {}
    for p in pages:
        if p.entity == "issues" and not p.params.get("_sweep"):
            for i in p.response["issues"]:
                out.setdefault(i["id"], set()).update(h["id"] for h in i["changelog"]["histories"])
        elif p.entity == "issue_changelogs":
            if "issueChangeLogs" in p.response:
                for log in p.response["issueChangeLogs"]:
                    out.setdefault(log["issueId"], set()).update(h["id"] for h in log["changeHistories"])
            else:
                out.setdefault(p.params["_issue_id"], set()).update(h["id"] for h in p.response["values"])
    return out


def bulk_history_ids(pages: list[RawExtractionData]) -> list[str]:
    """Every history id of the bulkfetch pages, repeats included."""
    return [h["id"] for p in pages for log in p.response["issueChangeLogs"] for h in log["changeHistories"]]


@pytest.fixture
def jira_factory() -> Iterator[Callable[..., JiraServer]]:
    servers: list[JiraServer] = []

    def make(dataset: JiraDataset | None = None, **kwargs: Any) -> JiraServer:
        server = JiraServer(dataset or JiraDataset.synthetic(300, projects=2, seed=1), **kwargs).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


def jira_spec(server: JiraServer, projects: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "jira",
        "baseUrl": server.base_url,
        "credentials": {"secretRef": {"name": "jira-creds"}},
        "scope": {"projects": projects},
        **extra,
    }


JIRA_CREDS = {"email": "bot@quarry.dev", "token": "jira-token"}
