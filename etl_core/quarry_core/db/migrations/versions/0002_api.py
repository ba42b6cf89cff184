"""HTTP API: platform admins, preferences, refresh tokens, login attempts, run event notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Run phase and counter changes reach every API process (WebSocket subscribers) through NOTIFY.
RUN_EVENTS = """
CREATE FUNCTION quarry_notify_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'etl_runs' THEN
    IF TG_OP = 'UPDATE' AND NEW.phase IS NOT DISTINCT FROM OLD.phase
       AND NEW.attempt IS NOT DISTINCT FROM OLD.attempt
       AND NEW.waiting_reason IS NOT DISTINCT FROM OLD.waiting_reason
       AND NEW.error IS NOT DISTINCT FROM OLD.error THEN
      RETURN NEW;
    END IF;
    PERFORM pg_notify('quarry_run_events', json_build_object(
      'kind', 'run', 'tenant', NEW.tenant, 'runId', NEW.id, 'jobId', NEW.job_id, 'phase', NEW.phase,
      'attempt', NEW.attempt, 'waitingReason', NEW.waiting_reason, 'hasError', NEW.error IS NOT NULL)::text);
  ELSE
    PERFORM pg_notify('quarry_run_events', json_build_object(
      'kind', 'counters', 'tenant', NEW.tenant, 'runId', NEW.run_id, 'entity', NEW.entity,
      'pages', NEW.pages, 'extracted', NEW.extracted, 'transformed', NEW.transformed,
      'loaded', NEW.loaded, 'failed', NEW.failed)::text);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER etl_runs_notify AFTER INSERT OR UPDATE ON etl_runs
  FOR EACH ROW EXECUTE FUNCTION quarry_notify_run_event();
CREATE TRIGGER etl_run_counters_notify AFTER INSERT OR UPDATE ON etl_run_counters
  FOR EACH ROW EXECUTE FUNCTION quarry_notify_run_event();
"""


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("is_platform_admin", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "users",
        sa.Column(
            "preferences", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name=op.f("fk_refresh_tokens_tenant_tenants"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_refresh_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_refresh_tokens_tenant"), "refresh_tokens", ["tenant"], unique=False)
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"], unique=False)
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column(
            "attempted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        "ix_login_attempts_email_attempted_at", "login_attempts", ["email", "attempted_at"], unique=False
    )
    op.create_index(
        "ix_login_attempts_client_attempted_at", "login_attempts", ["client", "attempted_at"], unique=False
    )
    op.execute(RUN_EVENTS)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS etl_run_counters_notify ON etl_run_counters")
    op.execute("DROP TRIGGER IF EXISTS etl_runs_notify ON etl_runs")
    op.execute("DROP FUNCTION IF EXISTS quarry_notify_run_event()")
    op.drop_index("ix_login_attempts_client_attempted_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_email_attempted_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens")
    op.drop_index(op.f("ix_refresh_tokens_tenant"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_column("users", "preferences")
    op.drop_column("users", "is_platform_admin")
