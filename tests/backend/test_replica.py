"""DATABASE_REPLICA_URL: read-only data routes read from the replica; writes and auth use the primary."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from quarry_backend.app import create_app
from quarry_backend.settings import ApiSettings
from quarry_core import store
from quarry_core.settings import CoreSettings
from tests.backend.conftest import JIRA_INTEGRATION, make_tenant
from tests.support.services import temporary_database


def test_reads_come_from_the_replica(database_url: str, tmp_path: Path) -> None:
    with temporary_database("quarry_replica") as replica_url:
        settings = ApiSettings.model_validate(
            {
                "DATABASE_URL": database_url,
                "DATABASE_REPLICA_URL": replica_url,
                "QUARRY_DATA_DIR": str(tmp_path),
            }
        )
        app = create_app(settings)
        primary, replica = create_engine(database_url), create_engine(replica_url)
        try:
            with TestClient(app) as client:
                tenant = make_tenant(primary, client, roles=("editor",))
                # The replica has a job the primary lacks (as if replication were ahead, for the test).
                manifest = f"""
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: only-on-replica, namespace: {tenant.name}}}
spec: {{integrationRef: {{name: x}}, entities: [issues]}}
"""
                with Session(replica) as session:
                    store.apply_text(session, CoreSettings(QUARRY_DATA_DIR=str(tmp_path)), manifest)
                    session.commit()
                h = tenant.headers("editor")
                assert [j["name"] for j in client.get("/api/v1/jobs", headers=h).json()] == [
                    "only-on-replica"
                ]
                assert (
                    client.post("/api/v1/integrations", json=JIRA_INTEGRATION, headers=h).status_code == 201
                )
                with Session(primary) as session:
                    assert store.get_integration(session, tenant.name, "acme-jira") is not None
            app.state.db.dispose()
        finally:
            primary.dispose()
            replica.dispose()
