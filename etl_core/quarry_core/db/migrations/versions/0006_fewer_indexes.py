"""the final tables lose the indexes their unique keys already cover

Every final table's unique key starts with the tenant (and the transitions' with tenant,
integration and item), so `ix_<table>_tenant` and `ix_work_item_transitions_item` served no
query the unique key does not, and cost every loaded row.

Revision ID: 0006_fewer_indexes
Revises: 0005_raw_json
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0006_fewer_indexes"
down_revision = "0005_raw_json"
branch_labels = None
depends_on = None

_TENANT_INDEXED = (
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
    for table in _TENANT_INDEXED:
        op.drop_index(f"ix_{table}_tenant", table_name=table)
    op.drop_index("ix_work_item_transitions_item", table_name="work_item_transitions")


def downgrade() -> None:
    op.create_index(
        "ix_work_item_transitions_item",
        "work_item_transitions",
        ["tenant", "integration_id", "work_item_source_id"],
    )
    for table in _TENANT_INDEXED:
        op.create_index(f"ix_{table}_tenant", table, ["tenant"])
