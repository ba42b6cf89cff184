"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=True),
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_queue", "dead_letters", ["queue", "id"], unique=False)
    op.create_index(op.f("ix_dead_letters_run_id"), "dead_letters", ["run_id"], unique=False)
    op.create_index(op.f("ix_dead_letters_tenant"), "dead_letters", ["tenant"], unique=False)
    op.create_table(
        "queue_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "available_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_messages")),
    )
    op.create_index(
        "ix_queue_messages_ready", "queue_messages", ["queue", "available_at", "id"], unique=False
    )
    op.create_table(
        "tenants",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'", name=op.f("ck_tenants_dns_label")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tenants")),
    )
    op.create_table(
        "etl_jobs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("integration_name", sa.String(length=253), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("resource_version", sa.BigInteger(), nullable=False),
        sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("annotations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_etl_jobs_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etl_jobs")),
        sa.UniqueConstraint("tenant", "name", name=op.f("uq_etl_jobs_tenant_name")),
    )
    op.create_index(op.f("ix_etl_jobs_tenant"), "etl_jobs", ["tenant"], unique=False)
    op.create_table(
        "integrations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("resource_version", sa.BigInteger(), nullable=False),
        sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("annotations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("type in ('jira','github')", name=op.f("ck_integrations_type")),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_integrations_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint("tenant", "name", name=op.f("uq_integrations_tenant_name")),
    )
    op.create_index(op.f("ix_integrations_tenant"), "integrations", ["tenant"], unique=False)
    op.create_table(
        "secrets",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_secrets_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secrets")),
        sa.UniqueConstraint("tenant", "name", name=op.f("uq_secrets_tenant_name")),
    )
    op.create_index(op.f("ix_secrets_tenant"), "secrets", ["tenant"], unique=False)
    op.create_table(
        "status_mappings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("work_item_type", sa.String(length=64), nullable=False),
        sa.Column("source_status", sa.String(length=255), nullable=False),
        sa.Column("standard_status", sa.String(length=16), nullable=False),
        sa.Column("workflow_step", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "standard_status in ('To Do','In Progress','Done')",
            name=op.f("ck_status_mappings_standard_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_status_mappings_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_mappings")),
        sa.UniqueConstraint(
            "tenant",
            "work_item_type",
            "source_status",
            name=op.f("uq_status_mappings_tenant_work_item_type_source_status"),
        ),
    )
    op.create_index(op.f("ix_status_mappings_tenant"), "status_mappings", ["tenant"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role in ('admin','editor','viewer')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_users_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("tenant", "email", name=op.f("uq_users_tenant_email")),
    )
    op.create_index(op.f("ix_users_tenant"), "users", ["tenant"], unique=False)
    op.create_table(
        "wit_hierarchies",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("standard_type", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_wit_hierarchies_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wit_hierarchies")),
        sa.UniqueConstraint("tenant", "standard_type", name=op.f("uq_wit_hierarchies_tenant_standard_type")),
    )
    op.create_index(op.f("ix_wit_hierarchies_tenant"), "wit_hierarchies", ["tenant"], unique=False)
    op.create_table(
        "wit_mappings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("source_type", sa.String(length=255), nullable=False),
        sa.Column("standard_type", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_wit_mappings_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wit_mappings")),
        sa.UniqueConstraint("tenant", "source_type", name=op.f("uq_wit_mappings_tenant_source_type")),
    )
    op.create_index(op.f("ix_wit_mappings_tenant"), "wit_mappings", ["tenant"], unique=False)
    op.create_table(
        "workflows",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("work_item_type", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_workflows_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("tenant", "name", name=op.f("uq_workflows_tenant_name")),
    )
    op.create_index(op.f("ix_workflows_tenant"), "workflows", ["tenant"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role in ('admin','editor','viewer')", name=op.f("ck_api_keys_role")),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_api_keys_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_tenant"), "api_keys", ["tenant"], unique=False)
    op.create_table(
        "etl_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("entities", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retransform_of", sa.BigInteger(), nullable=True),
        sa.Column("token", sa.String(length=253), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt_error", sa.Text(), nullable=True),
        sa.Column("attempt_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_reason", sa.Text(), nullable=True),
        sa.Column("waiting_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checkpoint", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("candidate_cursors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("extract_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("mode in ('full','incremental')", name=op.f("ck_etl_runs_mode")),
        sa.CheckConstraint(
            "phase in ('Pending','Running','Paused','Succeeded','Failed','Cancelled')",
            name=op.f("ck_etl_runs_phase"),
        ),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_etl_runs_attempt")),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_etl_runs_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["etl_jobs.id"], name=op.f("fk_etl_runs_job_id_etl_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_etl_runs_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etl_runs")),
    )
    op.create_index(op.f("ix_etl_runs_integration_id"), "etl_runs", ["integration_id"], unique=False)
    op.create_index(op.f("ix_etl_runs_job_id"), "etl_runs", ["job_id"], unique=False)
    op.create_index("ix_etl_runs_job_id_created_at", "etl_runs", ["job_id", "created_at"], unique=False)
    op.create_index(op.f("ix_etl_runs_phase"), "etl_runs", ["phase"], unique=False)
    op.create_index(op.f("ix_etl_runs_tenant"), "etl_runs", ["tenant"], unique=False)
    op.create_table(
        "workflow_steps",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("workflow_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("standard_status", sa.String(length=16), nullable=False),
        sa.Column("is_commitment_point", sa.Boolean(), nullable=False),
        sa.Column("is_delivery_point", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "standard_status in ('To Do','In Progress','Done')",
            name=op.f("ck_workflow_steps_standard_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_workflow_steps_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_steps_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_steps")),
        sa.UniqueConstraint("workflow_id", "name", name=op.f("uq_workflow_steps_workflow_id_name")),
        sa.UniqueConstraint("workflow_id", "position", name=op.f("uq_workflow_steps_workflow_id_position")),
    )
    op.create_index(op.f("ix_workflow_steps_tenant"), "workflow_steps", ["tenant"], unique=False)
    op.create_table(
        "etl_run_counters",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.BigInteger(), nullable=False),
        sa.Column("extracted", sa.BigInteger(), nullable=False),
        sa.Column("transformed", sa.BigInteger(), nullable=False),
        sa.Column("loaded", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["etl_runs.id"], name=op.f("fk_etl_run_counters_run_id_etl_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_etl_run_counters_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etl_run_counters")),
        sa.UniqueConstraint("run_id", "entity", name=op.f("uq_etl_run_counters_run_id_entity")),
    )
    op.create_index(op.f("ix_etl_run_counters_tenant"), "etl_run_counters", ["tenant"], unique=False)
    op.create_table(
        "raw_extraction_data",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=255), nullable=False),
        sa.Column("page_seq", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("transformed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("load_batches", sa.Integer(), nullable=True),
        sa.Column("replay_run_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_raw_extraction_data_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["etl_runs.id"],
            name=op.f("fk_raw_extraction_data_run_id_etl_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_raw_extraction_data_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_extraction_data")),
        sa.UniqueConstraint(
            "run_id", "stream", "page_seq", name=op.f("uq_raw_extraction_data_run_id_stream_page_seq")
        ),
    )
    op.create_index(
        op.f("ix_raw_extraction_data_integration_id"), "raw_extraction_data", ["integration_id"], unique=False
    )
    op.create_index(op.f("ix_raw_extraction_data_run_id"), "raw_extraction_data", ["run_id"], unique=False)
    op.create_index(
        op.f("ix_raw_extraction_data_replay_run_id"), "raw_extraction_data", ["replay_run_id"], unique=False
    )
    op.create_index(op.f("ix_raw_extraction_data_tenant"), "raw_extraction_data", ["tenant"], unique=False)
    op.create_index(
        "ix_raw_extraction_data_untransformed",
        "raw_extraction_data",
        ["run_id"],
        unique=False,
        postgresql_where="transformed_at IS NULL",
    )
    op.create_table(
        "sync_cursors",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sync_cursors_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["etl_runs.id"], name=op.f("fk_sync_cursors_run_id_etl_runs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_sync_cursors_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_cursors")),
        sa.UniqueConstraint(
            "integration_id", "scope", "entity", name=op.f("uq_sync_cursors_integration_id_scope_entity")
        ),
    )
    op.create_index(op.f("ix_sync_cursors_integration_id"), "sync_cursors", ["integration_id"], unique=False)
    op.create_index(op.f("ix_sync_cursors_tenant"), "sync_cursors", ["tenant"], unique=False)
    op.create_table(
        "request_budget_grants",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_request_budget_grants_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_request_budget_grants_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_budget_grants")),
    )
    op.create_index(
        op.f("ix_request_budget_grants_integration_id"), "request_budget_grants", ["integration_id"], unique=False
    )
    op.create_index(op.f("ix_request_budget_grants_tenant"), "request_budget_grants", ["tenant"], unique=False)
    op.create_table(
        "commits",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("author_name", sa.Text(), nullable=True),
        sa.Column("author_email", sa.String(length=320), nullable=True),
        sa.Column("author_id", sa.String(length=255), nullable=True),
        sa.Column("committer_id", sa.String(length=255), nullable=True),
        sa.Column("authored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("additions", sa.Integer(), nullable=True),
        sa.Column("deletions", sa.Integer(), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_commits_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_commits_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_commits_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commits")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "repository",
            "sha",
            name=op.f("uq_commits_tenant_integration_id_repository_sha"),
        ),
    )
    op.create_index(op.f("ix_commits_integration_id"), "commits", ["integration_id"], unique=False)
    op.create_index(op.f("ix_commits_tenant"), "commits", ["tenant"], unique=False)
    op.create_table(
        "load_batches",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("raw_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_load_batches_raw_id_raw_extraction_data"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["etl_runs.id"], name=op.f("fk_load_batches_run_id_etl_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_load_batches_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_load_batches")),
        sa.UniqueConstraint("raw_id", "seq", name=op.f("uq_load_batches_raw_id_seq")),
    )
    op.create_index(
        "ix_load_batches_pending",
        "load_batches",
        ["run_id"],
        unique=False,
        postgresql_where="loaded_at IS NULL",
    )
    op.create_index(op.f("ix_load_batches_tenant"), "load_batches", ["tenant"], unique=False)
    op.create_table(
        "people",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_people_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_people_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_people_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint(
            "tenant", "integration_id", "source_id", name=op.f("uq_people_tenant_integration_id_source_id")
        ),
    )
    op.create_index(op.f("ix_people_integration_id"), "people", ["integration_id"], unique=False)
    op.create_index(op.f("ix_people_tenant"), "people", ["tenant"], unique=False)
    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("project_type", sa.String(length=64), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_projects_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_projects_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_projects_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint(
            "tenant", "integration_id", "source_id", name=op.f("uq_projects_tenant_integration_id_source_id")
        ),
    )
    op.create_index(op.f("ix_projects_integration_id"), "projects", ["integration_id"], unique=False)
    op.create_index(op.f("ix_projects_tenant"), "projects", ["tenant"], unique=False)
    op.create_table(
        "pull_request_commits",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_pull_request_commits_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_pull_request_commits_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_pull_request_commits_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_request_commits")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "repository",
            "pr_number",
            "sha",
            name=op.f("uq_pull_request_commits_tenant_integration_id_repository_pr_number_sha"),
        ),
    )
    op.create_index(
        op.f("ix_pull_request_commits_integration_id"),
        "pull_request_commits",
        ["integration_id"],
        unique=False,
    )
    op.create_index(op.f("ix_pull_request_commits_tenant"), "pull_request_commits", ["tenant"], unique=False)
    op.create_table(
        "pull_request_reviews",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_pull_request_reviews_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_pull_request_reviews_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_pull_request_reviews_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_request_reviews")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "source_id",
            name=op.f("uq_pull_request_reviews_tenant_integration_id_source_id"),
        ),
    )
    op.create_index(
        op.f("ix_pull_request_reviews_integration_id"),
        "pull_request_reviews",
        ["integration_id"],
        unique=False,
    )
    op.create_index(op.f("ix_pull_request_reviews_tenant"), "pull_request_reviews", ["tenant"], unique=False)
    op.create_table(
        "pull_requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("is_draft", sa.Boolean(), nullable=True),
        sa.Column("author_id", sa.String(length=255), nullable=True),
        sa.Column("merged_by_id", sa.String(length=255), nullable=True),
        sa.Column("head_ref", sa.String(length=255), nullable=True),
        sa.Column("base_ref", sa.String(length=255), nullable=True),
        sa.Column("additions", sa.Integer(), nullable=True),
        sa.Column("deletions", sa.Integer(), nullable=True),
        sa.Column("changed_files", sa.Integer(), nullable=True),
        sa.Column("commits_count", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_pull_requests_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_pull_requests_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_pull_requests_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pull_requests")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "repository",
            "number",
            name=op.f("uq_pull_requests_tenant_integration_id_repository_number"),
        ),
    )
    op.create_index(
        op.f("ix_pull_requests_integration_id"), "pull_requests", ["integration_id"], unique=False
    )
    op.create_index(op.f("ix_pull_requests_tenant"), "pull_requests", ["tenant"], unique=False)
    op.create_index(
        "ix_pull_requests_embed_pending",
        "pull_requests",
        ["id"],
        unique=False,
        postgresql_where="embedded_at IS NULL",
    )
    op.create_table(
        "repositories",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=True),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("default_branch", sa.String(length=255), nullable=True),
        sa.Column("is_private", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_repositories_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_repositories_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_repositories_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repositories")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "full_name",
            name=op.f("uq_repositories_tenant_integration_id_full_name"),
        ),
    )
    op.create_index(op.f("ix_repositories_integration_id"), "repositories", ["integration_id"], unique=False)
    op.create_index(op.f("ix_repositories_tenant"), "repositories", ["tenant"], unique=False)
    op.create_table(
        "sprints",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("board_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("goal", sa.Text(), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sprints_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_sprints_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_sprints_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sprints")),
        sa.UniqueConstraint(
            "tenant", "integration_id", "source_id", name=op.f("uq_sprints_tenant_integration_id_source_id")
        ),
    )
    op.create_index(op.f("ix_sprints_integration_id"), "sprints", ["integration_id"], unique=False)
    op.create_index(op.f("ix_sprints_tenant"), "sprints", ["tenant"], unique=False)
    op.create_table(
        "work_item_transitions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("work_item_source_id", sa.String(length=255), nullable=False),
        sa.Column("work_item_key", sa.String(length=255), nullable=True),
        sa.Column("history_id", sa.String(length=255), nullable=False),
        sa.Column("item_seq", sa.Integer(), nullable=False),
        sa.Column("from_source_status", sa.String(length=255), nullable=True),
        sa.Column("to_source_status", sa.String(length=255), nullable=True),
        sa.Column("from_status_category", sa.String(length=32), nullable=True),
        sa.Column("to_status_category", sa.String(length=32), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("from_step", sa.String(length=100), nullable=True),
        sa.Column("to_step", sa.String(length=100), nullable=True),
        sa.Column("author_id", sa.String(length=255), nullable=True),
        sa.Column("transitioned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_work_item_transitions_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_work_item_transitions_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_work_item_transitions_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item_transitions")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "work_item_source_id",
            "history_id",
            "item_seq",
            name=op.f(
                "uq_work_item_transitions_tenant_integration_id_work_item_source_id_history_id_item_seq"
            ),
        ),
    )
    op.create_index(
        op.f("ix_work_item_transitions_integration_id"),
        "work_item_transitions",
        ["integration_id"],
        unique=False,
    )
    op.create_index(
        "ix_work_item_transitions_item",
        "work_item_transitions",
        ["tenant", "integration_id", "work_item_source_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_work_item_transitions_tenant"), "work_item_transitions", ["tenant"], unique=False
    )
    op.create_table(
        "work_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("project_key", sa.String(length=255), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("hierarchy_level", sa.Integer(), nullable=True),
        sa.Column("parent_key", sa.String(length=255), nullable=True),
        sa.Column("source_status", sa.String(length=255), nullable=True),
        sa.Column("status_category", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("workflow_step", sa.String(length=100), nullable=True),
        sa.Column("assignee_id", sa.String(length=255), nullable=True),
        sa.Column("reporter_id", sa.String(length=255), nullable=True),
        sa.Column("story_points", sa.Float(), nullable=True),
        sa.Column("sprint_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("priority", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lead_time_seconds", sa.Float(), nullable=True),
        sa.Column("cycle_time_seconds", sa.Float(), nullable=True),
        sa.Column("raw_id", sa.BigInteger(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_work_items_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_id"],
            ["raw_extraction_data.id"],
            name=op.f("fk_work_items_raw_id_raw_extraction_data"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_work_items_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
        sa.UniqueConstraint(
            "tenant",
            "integration_id",
            "source_id",
            name=op.f("uq_work_items_tenant_integration_id_source_id"),
        ),
    )
    op.create_index(op.f("ix_work_items_integration_id"), "work_items", ["integration_id"], unique=False)
    op.create_index(op.f("ix_work_items_tenant"), "work_items", ["tenant"], unique=False)
    op.create_index("ix_work_items_tenant_key", "work_items", ["tenant", "key"], unique=False)
    op.create_index(
        "ix_work_items_embed_pending",
        "work_items",
        ["id"],
        unique=False,
        postgresql_where="embedded_at IS NULL",
    )

    op.create_table(
        "vector_deletions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("integration_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_vector_deletions_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_vector_deletions_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vector_deletions")),
    )
    op.create_index(
        op.f("ix_vector_deletions_integration_id"), "vector_deletions", ["integration_id"], unique=False
    )
    op.create_index(op.f("ix_vector_deletions_tenant"), "vector_deletions", ["tenant"], unique=False)

def downgrade() -> None:
    op.drop_index(op.f("ix_vector_deletions_tenant"), table_name="vector_deletions")
    op.drop_index(op.f("ix_vector_deletions_integration_id"), table_name="vector_deletions")
    op.drop_table("vector_deletions")
    op.drop_index(op.f("ix_request_budget_grants_tenant"), table_name="request_budget_grants")
    op.drop_index(op.f("ix_request_budget_grants_integration_id"), table_name="request_budget_grants")
    op.drop_table("request_budget_grants")
    op.drop_index("ix_work_items_embed_pending", table_name="work_items")
    op.drop_index("ix_work_items_tenant_key", table_name="work_items")
    op.drop_index(op.f("ix_work_items_tenant"), table_name="work_items")
    op.drop_index(op.f("ix_work_items_integration_id"), table_name="work_items")
    op.drop_table("work_items")
    op.drop_index(op.f("ix_work_item_transitions_tenant"), table_name="work_item_transitions")
    op.drop_index("ix_work_item_transitions_item", table_name="work_item_transitions")
    op.drop_index(op.f("ix_work_item_transitions_integration_id"), table_name="work_item_transitions")
    op.drop_table("work_item_transitions")
    op.drop_index(op.f("ix_sprints_tenant"), table_name="sprints")
    op.drop_index(op.f("ix_sprints_integration_id"), table_name="sprints")
    op.drop_table("sprints")
    op.drop_index(op.f("ix_repositories_tenant"), table_name="repositories")
    op.drop_index(op.f("ix_repositories_integration_id"), table_name="repositories")
    op.drop_table("repositories")
    op.drop_index("ix_pull_requests_embed_pending", table_name="pull_requests")
    op.drop_index(op.f("ix_pull_requests_tenant"), table_name="pull_requests")
    op.drop_index(op.f("ix_pull_requests_integration_id"), table_name="pull_requests")
    op.drop_table("pull_requests")
    op.drop_index(op.f("ix_pull_request_reviews_tenant"), table_name="pull_request_reviews")
    op.drop_index(op.f("ix_pull_request_reviews_integration_id"), table_name="pull_request_reviews")
    op.drop_table("pull_request_reviews")
    op.drop_index(op.f("ix_pull_request_commits_tenant"), table_name="pull_request_commits")
    op.drop_index(op.f("ix_pull_request_commits_integration_id"), table_name="pull_request_commits")
    op.drop_table("pull_request_commits")
    op.drop_index(op.f("ix_projects_tenant"), table_name="projects")
    op.drop_index(op.f("ix_projects_integration_id"), table_name="projects")
    op.drop_table("projects")
    op.drop_index(op.f("ix_people_tenant"), table_name="people")
    op.drop_index(op.f("ix_people_integration_id"), table_name="people")
    op.drop_table("people")
    op.drop_index(op.f("ix_load_batches_tenant"), table_name="load_batches")
    op.drop_index("ix_load_batches_pending", table_name="load_batches", postgresql_where="loaded_at IS NULL")
    op.drop_table("load_batches")
    op.drop_index(op.f("ix_commits_tenant"), table_name="commits")
    op.drop_index(op.f("ix_commits_integration_id"), table_name="commits")
    op.drop_table("commits")
    op.drop_index(op.f("ix_sync_cursors_tenant"), table_name="sync_cursors")
    op.drop_index(op.f("ix_sync_cursors_integration_id"), table_name="sync_cursors")
    op.drop_table("sync_cursors")
    op.drop_index(
        "ix_raw_extraction_data_untransformed",
        table_name="raw_extraction_data",
        postgresql_where="transformed_at IS NULL",
    )
    op.drop_index(op.f("ix_raw_extraction_data_tenant"), table_name="raw_extraction_data")
    op.drop_index(op.f("ix_raw_extraction_data_replay_run_id"), table_name="raw_extraction_data")
    op.drop_index(op.f("ix_raw_extraction_data_run_id"), table_name="raw_extraction_data")
    op.drop_index(op.f("ix_raw_extraction_data_integration_id"), table_name="raw_extraction_data")
    op.drop_table("raw_extraction_data")
    op.drop_index(op.f("ix_etl_run_counters_tenant"), table_name="etl_run_counters")
    op.drop_table("etl_run_counters")
    op.drop_index(op.f("ix_workflow_steps_tenant"), table_name="workflow_steps")
    op.drop_table("workflow_steps")
    op.drop_index(op.f("ix_etl_runs_tenant"), table_name="etl_runs")
    op.drop_index(op.f("ix_etl_runs_phase"), table_name="etl_runs")
    op.drop_index("ix_etl_runs_job_id_created_at", table_name="etl_runs")
    op.drop_index(op.f("ix_etl_runs_job_id"), table_name="etl_runs")
    op.drop_index(op.f("ix_etl_runs_integration_id"), table_name="etl_runs")
    op.drop_table("etl_runs")
    op.drop_index(op.f("ix_api_keys_tenant"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_workflows_tenant"), table_name="workflows")
    op.drop_table("workflows")
    op.drop_index(op.f("ix_wit_mappings_tenant"), table_name="wit_mappings")
    op.drop_table("wit_mappings")
    op.drop_index(op.f("ix_wit_hierarchies_tenant"), table_name="wit_hierarchies")
    op.drop_table("wit_hierarchies")
    op.drop_index(op.f("ix_users_tenant"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_status_mappings_tenant"), table_name="status_mappings")
    op.drop_table("status_mappings")
    op.drop_index(op.f("ix_secrets_tenant"), table_name="secrets")
    op.drop_table("secrets")
    op.drop_index(op.f("ix_integrations_tenant"), table_name="integrations")
    op.drop_table("integrations")
    op.drop_index(op.f("ix_etl_jobs_tenant"), table_name="etl_jobs")
    op.drop_table("etl_jobs")
    op.drop_table("tenants")
    op.drop_index("ix_queue_messages_ready", table_name="queue_messages")
    op.drop_table("queue_messages")
    op.drop_index(op.f("ix_dead_letters_tenant"), table_name="dead_letters")
    op.drop_index(op.f("ix_dead_letters_run_id"), table_name="dead_letters")
    op.drop_index("ix_dead_letters_queue", table_name="dead_letters")
    op.drop_table("dead_letters")
