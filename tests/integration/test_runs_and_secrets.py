"""The run store and local secrets on real PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlJob, Integration
from quarry_core.errors import FatalError
from quarry_core.runs import add_counts, counts, create_run, run_context, set_phase
from quarry_core.secrets import load_secret, read_mounted_secret, store_secret
from quarry_core.settings import CoreSettings
from quarry_core.states import IllegalTransition, RunPhase


def make_job(session: Session, tenant: str) -> tuple[EtlJob, Integration]:
    integration = Integration(tenant=tenant, name="jira", uid=str(uuid.uuid4()), type="jira", spec={})
    job = EtlJob(tenant=tenant, name="sync", uid=str(uuid.uuid4()), integration_name="jira", spec={})
    session.add_all([integration, job])
    session.flush()
    return job, integration


def test_run_lifecycle_and_atomic_counters(engine: Engine, tenant: str) -> None:
    with Session(engine) as session, session.begin():
        job, integration = make_job(session, tenant)
        run = create_run(session, job, integration, mode="full", entities=["issues"], trigger="manual")
        run_id = run.id
    with Session(engine) as session, session.begin():
        set_phase(session, run_id, RunPhase.RUNNING)
        add_counts(session, tenant, run_id, "issues", pages=1, extracted=50)
        add_counts(session, tenant, run_id, "issues", pages=1, extracted=20)
        add_counts(session, tenant, run_id, "issues", transformed=70)
    with Session(engine) as session, session.begin():
        assert counts(session, run_id) == {
            "issues": {"pages": 2, "extracted": 70, "transformed": 70, "loaded": 0, "failed": 0}
        }
        ctx = run_context(session, run_id)
        assert (ctx.run.phase, ctx.job.name, ctx.integration.type) == ("Running", "sync", "jira")
        assert ctx.run.started_at is not None
        set_phase(session, run_id, RunPhase.SUCCEEDED)
    with Session(engine) as session, session.begin(), pytest.raises(IllegalTransition):
        set_phase(session, run_id, RunPhase.RUNNING)


def test_secrets_are_encrypted_at_rest(engine: Engine, tenant: str, tmp_path: Path) -> None:
    settings = CoreSettings(QUARRY_DATA_DIR=tmp_path)
    with Session(engine) as session, session.begin():
        store_secret(session, settings, tenant, "jira-creds", {"email": "bot@acme.io", "token": "s3cr3t"})
        store_secret(session, settings, tenant, "jira-creds", {"email": "bot@acme.io", "token": "rotated"})
    with engine.connect() as conn:
        raw = conn.execute(text("select data from secrets where tenant = :t"), {"t": tenant}).scalar_one()
    assert b"rotated" not in bytes(raw) and b"bot@acme.io" not in bytes(raw)
    with Session(engine) as session:
        assert load_secret(session, settings, tenant, "jira-creds")["token"] == "rotated"
        other = CoreSettings(QUARRY_DATA_DIR=tmp_path / "other")
        with pytest.raises(FatalError, match="cannot be decrypted"):
            load_secret(session, other, tenant, "jira-creds")
        with pytest.raises(FatalError, match="not found"):
            load_secret(session, settings, tenant, "missing")


def test_mounted_secret_reads_one_file_per_key(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    (tmp_path / "..data").mkdir()
    assert read_mounted_secret(tmp_path) == {"token": "abc"}
