"""The alembic migration builds exactly the models' schema, upgrades idempotently, downgrades cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from quarry_core.db.migrate import current_revision, downgrade, head_revision, upgrade
from quarry_core.db.models import FINAL_TABLES, Base
from tests.support.services import temporary_database


def test_upgrade_matches_models_and_downgrade_is_clean() -> None:
    with temporary_database("quarry_mig") as url:
        engine = create_engine(url)
        try:
            assert current_revision(engine) == head_revision()
            with engine.connect() as conn:
                diff = compare_metadata(
                    MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
                )
            assert diff == [], f"models and migration disagree: {diff}"

            before, after = upgrade(engine)
            assert before == after == head_revision()  # a second upgrade does nothing

            downgrade(engine, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            assert current_revision(engine) is None

            upgrade(engine)
            assert set(FINAL_TABLES) <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()


def test_every_table_has_a_tenant_except_queue_plumbing() -> None:
    exempt = {"tenants", "queue_messages"}
    for name, table in Base.metadata.tables.items():
        if name in exempt:
            continue
        assert "tenant" in table.columns, f"{name} has no tenant column"


def test_final_tables_keep_lineage_and_a_natural_key() -> None:
    for name in FINAL_TABLES:
        table = Base.metadata.tables[name]
        assert "raw_id" in table.columns, f"{name} does not keep the raw page it came from"
        uniques = [c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"]
        assert any("tenant" in c.columns for c in uniques), f"{name} has no tenant-scoped natural key"
