"""raw pages jsonb refuses: the body as received and what was substituted

Revision ID: 0004_raw_received
Revises: 0003_rls
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_raw_received"
down_revision = "0003_rls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("raw_extraction_data", sa.Column("response_received", sa.LargeBinary(), nullable=True))
    op.add_column(
        "raw_extraction_data",
        sa.Column("substitutions", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("raw_extraction_data", "substitutions")
    op.drop_column("raw_extraction_data", "response_received")
