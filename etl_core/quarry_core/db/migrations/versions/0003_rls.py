"""row-level security: every tenant-owned table is bound to the acting tenant

Revision ID: 0003_rls
Revises: 0002
Create Date: 2026-11-30

Every table with a `tenant` column (found at migration time, so tables added by earlier
revisions are covered whatever their order) gets FORCE ROW LEVEL SECURITY and two policies for
the runtime role `quarry_runtime` that every Quarry process switches to on connect:

- `quarry_tenant`: rows whose tenant equals `current_setting('quarry.tenant')`, set per
  transaction by `quarry_core.db.tenancy.acting_as`;
- `quarry_platform`: every row, only while `quarry.tenant` is `*` (platform-wide processes).

No other policy exists, so a session that has set no tenant sees and writes nothing, and the
table owner (when it is not a superuser) is bound as well. Composite keys tie a run, its raw
pages, counters and load batches to one tenant.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_rls"
down_revision = "0002"
branch_labels = None
depends_on = None

RUNTIME_ROLE = "quarry_runtime"

# (table, columns, referenced table, referenced columns): a row's tenant is its parent's tenant.
_TENANT_KEYS = [
    ("etl_runs", ("integration_id", "tenant"), "integrations", ("id", "tenant")),
    ("raw_extraction_data", ("run_id", "tenant"), "etl_runs", ("id", "tenant")),
    ("raw_extraction_data", ("integration_id", "tenant"), "integrations", ("id", "tenant")),
    ("etl_run_counters", ("run_id", "tenant"), "etl_runs", ("id", "tenant")),
    ("load_batches", ("run_id", "tenant"), "etl_runs", ("id", "tenant")),
    ("load_batches", ("raw_id", "tenant"), "raw_extraction_data", ("id", "tenant")),
]
_PARENTS = ["integrations", "etl_runs", "raw_extraction_data"]


def _tenant_tables() -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT c.table_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = current_schema() AND c.column_name = 'tenant' "
            "AND t.table_type = 'BASE TABLE' ORDER BY 1"
        )
    )
    return [r[0] for r in rows]


def upgrade() -> None:
    # Roles are cluster-wide: another database of the same server may have created it already.
    op.execute(
        f"""
        DO $$ BEGIN
          CREATE ROLE {RUNTIME_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$
        """
    )
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT pg_has_role(current_user, '{RUNTIME_ROLE}', 'MEMBER') THEN
            EXECUTE format('GRANT {RUNTIME_ROLE} TO %I', current_user);
          END IF;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {RUNTIME_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {RUNTIME_ROLE}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {RUNTIME_ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {RUNTIME_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {RUNTIME_ROLE}"
    )

    for parent in _PARENTS:
        op.create_unique_constraint(f"uq_{parent}_id_tenant", parent, ["id", "tenant"])
    for table, cols, ref, ref_cols in _TENANT_KEYS:
        op.create_foreign_key(
            f"fk_{table}_{cols[0]}_tenant",
            table,
            ref,
            list(cols),
            list(ref_cols),
            ondelete="CASCADE",
            onupdate="CASCADE",
        )

    for table in [*_tenant_tables(), "tenants"]:
        column = "name" if table == "tenants" else "tenant"
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY quarry_tenant ON {table} TO {RUNTIME_ROLE} "
            f"USING ({column} = current_setting('quarry.tenant', true)) "
            f"WITH CHECK ({column} = current_setting('quarry.tenant', true))"
        )
        op.execute(
            f"CREATE POLICY quarry_platform ON {table} TO {RUNTIME_ROLE} "
            "USING (current_setting('quarry.tenant', true) = '*') "
            "WITH CHECK (current_setting('quarry.tenant', true) = '*')"
        )


def downgrade() -> None:
    for table in [*_tenant_tables(), "tenants"]:
        op.execute(f"DROP POLICY IF EXISTS quarry_platform ON {table}")
        op.execute(f"DROP POLICY IF EXISTS quarry_tenant ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table, cols, _ref, _ref_cols in reversed(_TENANT_KEYS):
        op.drop_constraint(f"fk_{table}_{cols[0]}_tenant", table, type_="foreignkey")
    for parent in reversed(_PARENTS):
        op.drop_constraint(f"uq_{parent}_id_tenant", parent, type_="unique")
    # The role is shared by every database of the server: only this database's grants go.
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {RUNTIME_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {RUNTIME_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {RUNTIME_ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {RUNTIME_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {RUNTIME_ROLE}")
