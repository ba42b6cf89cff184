"""Schema migrations (alembic), safe to run from many processes at once."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: every Quarry process that migrates takes this advisory lock first.
_LOCK_KEY = 7_263_011


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision`; returns (before, after). A no-op when already there."""
    with engine.begin() as conn:
        _as_owner(conn)
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(alembic_config(conn), revision)
        after = MigrationContext.configure(conn).get_current_revision()
    # Pooled connections opened before the runtime role existed never took it: open new ones.
    engine.dispose()
    return before, after


def _as_owner(conn: Connection) -> None:
    """Schema changes need the login role, not the RLS-bound runtime role (for this transaction)."""
    conn.execute(text("SET LOCAL ROLE NONE"))


def downgrade(engine: Engine, revision: str = "base") -> None:
    with engine.begin() as conn:
        _as_owner(conn)
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        command.downgrade(alembic_config(conn), revision)
    engine.dispose()
