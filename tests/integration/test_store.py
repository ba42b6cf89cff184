"""The local resource store: `quarry apply` semantics on real PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlJob, EtlRun, Integration, Secret, Tenant
from quarry_core.manifests import ManifestError
from quarry_core.secrets import load_secret
from quarry_core.settings import CoreSettings
from quarry_core.store import apply_text, delete_resource, request_run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> CoreSettings:
    return CoreSettings(
        database_url=database_url, data_dir=tmp_path, secret_key=Fernet.generate_key().decode()
    )


def ns_text(path: Path, namespace: str) -> str:
    return path.read_text().replace("namespace: acme", f"namespace: {namespace}")


def test_examples_apply_verbatim_then_unchanged(engine: Engine, settings: CoreSettings) -> None:
    ns = f"acme-{uuid.uuid4().hex[:6]}"
    text = ns_text(EXAMPLES / "acme-jira.yaml", ns) + "---\n" + ns_text(EXAMPLES / "acme-github.yaml", ns)
    with Session(engine) as s, s.begin():
        first = [str(a) for a in apply_text(s, settings, text)]
    assert first == [
        "secret/jira-creds created",
        "integration.quarry.dev/acme-jira created",
        "etljob.quarry.dev/acme-jira-sync created",
        "secret/github-creds created",
        "integration.quarry.dev/acme-github created",
        "etljob.quarry.dev/acme-github-sync created",
    ]
    with Session(engine) as s, s.begin():
        again = [a.action for a in apply_text(s, settings, text)]
        assert again == ["unchanged"] * 6
        assert s.get(Tenant, ns) is not None  # the namespace became a tenant
        secret = s.scalar(select(Secret).where(Secret.tenant == ns, Secret.name == "jira-creds"))
        assert secret is not None and b"bot@acme.io" not in secret.data  # stored encrypted
        assert load_secret(s, settings, ns, "jira-creds") == {"email": "bot@acme.io", "token": "..."}
        job = s.scalar(select(EtlJob).where(EtlJob.tenant == ns, EtlJob.name == "acme-jira-sync"))
        assert job is not None and (job.generation, job.resource_version) == (1, 1)
        assert job.integration_name == "acme-jira" and job.spec["schedule"] == "*/30 * * * *"


def test_generation_moves_only_on_spec_change(engine: Engine, settings: CoreSettings) -> None:
    ns = f"gen-{uuid.uuid4().hex[:6]}"
    text = ns_text(EXAMPLES / "acme-jira.yaml", ns)
    with Session(engine) as s, s.begin():
        apply_text(s, settings, text)
        uid = s.scalar(select(EtlJob.uid).where(EtlJob.tenant == ns))
    old = f"metadata: {{name: acme-jira-sync, namespace: {ns}}}"
    labelled = text.replace(old, old[:-1] + ", labels: {team: a}}")
    with Session(engine) as s, s.begin():
        assert [a.action for a in apply_text(s, settings, labelled)][2] == "configured"
        job = s.scalar(select(EtlJob).where(EtlJob.tenant == ns))
        assert job is not None and (job.generation, job.resource_version, job.uid) == (1, 2, uid)
    # `quarry run` sets spec.runRequest; a later re-apply keeps it (kubectl apply keeps fields it never set).
    with Session(engine) as s, s.begin():
        _, token = request_run(s, ns, "acme-jira-sync")
    changed = labelled.replace("mode: incremental", "mode: full")
    with Session(engine) as s, s.begin():
        apply_text(s, settings, changed)
        job = s.scalar(select(EtlJob).where(EtlJob.tenant == ns))
        assert job is not None and job.generation == 3 and job.resource_version == 4
        assert job.spec["mode"] == "full" and job.spec["runRequest"] == token


def test_invalid_manifest_names_the_field_and_changes_nothing(engine: Engine, settings: CoreSettings) -> None:
    ns = f"bad-{uuid.uuid4().hex[:6]}"
    text = ns_text(EXAMPLES / "acme-jira.yaml", ns).replace("mode: incremental", "mode: sometimes")
    with pytest.raises(ManifestError, match=r"spec\.mode"), Session(engine) as s, s.begin():
        apply_text(s, settings, text)
    with Session(engine) as s:
        assert s.scalar(select(Integration).where(Integration.tenant == ns)) is None
        assert s.get(Tenant, ns) is None


def test_delete_job_cancels_its_active_run(engine: Engine, settings: CoreSettings) -> None:
    ns = f"del-{uuid.uuid4().hex[:6]}"
    with Session(engine) as s, s.begin():
        apply_text(s, settings, ns_text(EXAMPLES / "acme-jira.yaml", ns))
        job = s.scalar(select(EtlJob).where(EtlJob.tenant == ns))
        integ = s.scalar(select(Integration).where(Integration.tenant == ns))
        assert job is not None and integ is not None
        s.add(EtlRun(tenant=ns, job_id=job.id, integration_id=integ.id, phase="Running"))
    with Session(engine) as s, s.begin():
        assert (
            str(delete_resource(s, "EtlJob", ns, "acme-jira-sync"))
            == "etljob.quarry.dev/acme-jira-sync deleted"
        )
    with Session(engine) as s:
        assert s.scalar(select(EtlJob).where(EtlJob.tenant == ns)) is None
        assert s.scalar(select(EtlRun).where(EtlRun.tenant == ns)) is None
