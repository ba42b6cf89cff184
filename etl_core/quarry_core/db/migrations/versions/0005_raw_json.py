"""raw pages as json text, compressed with lz4 where the server has it

A page is written once and read back whole: jsonb's parse on the way in (and its pglz
compression of ~1 MB pages) was the largest CPU cost of a full run in PostgreSQL. `json` keeps
the text as sent, which is also closer to "the response as received"; the only query into a
page's content (`completion.py`) reads it as well with the json functions. lz4 compresses a
1 MB Jira page about twice as fast as the default pglz, and is now the column's own setting
(the extractor set it per transaction before).

Revision ID: 0005_raw_json
Revises: 0004_raw_received
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_raw_json"
down_revision = "0004_raw_received"
branch_labels = None
depends_on = None

_LZ4 = sa.text(
    "SELECT coalesce(bool_or('lz4' = ANY(enumvals)), false) FROM pg_settings "
    "WHERE name = 'default_toast_compression'"
)


def upgrade() -> None:
    op.alter_column(
        "raw_extraction_data",
        "response",
        type_=postgresql.JSON(),
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        postgresql_using="response::json",
    )
    if op.get_bind().scalar(_LZ4):
        op.execute("ALTER TABLE raw_extraction_data ALTER COLUMN response SET COMPRESSION lz4")
        op.execute("ALTER TABLE raw_extraction_data ALTER COLUMN response_received SET COMPRESSION lz4")


def downgrade() -> None:
    op.execute("ALTER TABLE raw_extraction_data ALTER COLUMN response SET COMPRESSION default")
    op.execute("ALTER TABLE raw_extraction_data ALTER COLUMN response_received SET COMPRESSION default")
    op.alter_column(
        "raw_extraction_data",
        "response",
        type_=postgresql.JSONB(astext_type=sa.Text()),
        existing_type=postgresql.JSON(),
        postgresql_using="response::jsonb",
    )
