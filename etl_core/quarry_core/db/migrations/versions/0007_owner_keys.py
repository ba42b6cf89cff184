"""each final row's (integration_id, tenant) names an integration of that tenant

The ten final tables had one foreign key to `tenants` and one to `integrations`, and an index on
`integration_id`. One composite key to `integrations (id, tenant)` replaces the two: a loaded row
pays one key check instead of two, and no row can pair one tenant with another tenant's
integration. Deleting or renaming a tenant still reaches the rows, through their integration. The
unique keys start with (tenant, integration_id), so they serve the cascade and every query the
dropped index served.

Adding the key checks the rows already there: a row whose tenant differs from its integration's
stops the upgrade (such a row would be a breach of the tenant boundary, not data to keep quietly).

Revision ID: 0007_owner_keys
Revises: 0006_fewer_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007_owner_keys"
down_revision = "0006_fewer_indexes"
branch_labels = None
depends_on = None

_FINAL_TABLES = (
    "projects",
    "people",
    "work_items",
    "work_item_transitions",
    "sprints",
    "repositories",
    "pull_requests",
    "pull_request_reviews",
    "commits",
    "pull_request_commits",
)


def upgrade() -> None:
    for table in _FINAL_TABLES:
        op.drop_constraint(f"fk_{table}_tenant_tenants", table, type_="foreignkey")
        op.drop_constraint(f"fk_{table}_integration_id_integrations", table, type_="foreignkey")
        op.drop_index(f"ix_{table}_integration_id", table_name=table)
        op.create_foreign_key(
            f"fk_{table}_integration_id_tenant",
            table,
            "integrations",
            ["integration_id", "tenant"],
            ["id", "tenant"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        )


def downgrade() -> None:
    for table in _FINAL_TABLES:
        op.drop_constraint(f"fk_{table}_integration_id_tenant", table, type_="foreignkey")
        op.create_index(f"ix_{table}_integration_id", table, ["integration_id"])
        op.create_foreign_key(
            f"fk_{table}_integration_id_integrations",
            table,
            "integrations",
            ["integration_id"],
            ["id"],
            ondelete="CASCADE",
        )
        op.create_foreign_key(
            f"fk_{table}_tenant_tenants",
            table,
            "tenants",
            ["tenant"],
            ["name"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        )
