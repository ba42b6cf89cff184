"""Who a database transaction acts for: the tenant boundary enforced by PostgreSQL itself.

Every tenant-owned table has FORCE ROW LEVEL SECURITY (migration 0003_rls). Quarry processes
switch to the runtime role `quarry_runtime` on connect (`bind_runtime_role`), whose only
policies admit (a) rows of the tenant named by `quarry.tenant` in this transaction and (b) every
row while `quarry.tenant` is `*`. A transaction that has named no tenant sees and writes nothing.

- Code acting for one tenant (a worker handling one message, an extract run, an API request)
  calls `acting_as(session, tenant)` at the start of each transaction.
- Platform-wide code (controller, operator, scaler, queue plumbing, migrations' data steps,
  completion sweeps across tenants) calls `as_platform(session)` or uses `platform_sessions`.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

RUNTIME_ROLE = "quarry_runtime"
PLATFORM = "*"
SETTING = "quarry.tenant"


class Executes(Protocol):
    def execute(self, statement: Any, params: Any = ..., /) -> Any: ...


def acting_as(conn: Executes, tenant: str) -> None:
    """From here to the end of this transaction, `conn` reads and writes `tenant`'s rows only."""
    if not tenant:
        raise ValueError(f"not a tenant name: {tenant!r}")
    conn.execute(text("select set_config(:k, :t, true)"), {"k": SETTING, "t": tenant})


def as_platform(conn: Executes) -> None:
    """From here to the end of this transaction, `conn` acts across tenants (platform processes)."""
    acting_as(conn, PLATFORM)


def acting_tenant(conn: Executes) -> str | None:
    value = conn.execute(text("select current_setting(:k, true)"), {"k": SETTING}).scalar()
    return str(value) if value else None


def run_tenant(engine: Engine, run_id: int) -> str:
    """The tenant a run belongs to (a platform read); LookupError when the run does not exist."""
    with engine.connect() as conn:
        as_platform(conn)
        tenant = conn.execute(text("select tenant from etl_runs where id = :r"), {"r": run_id}).scalar()
    if tenant is None:
        raise LookupError(f"run {run_id} does not exist")
    return str(tenant)


def _set_runtime_role(dbapi_connection: Any, _record: Any) -> None:
    # Superusers and BYPASSRLS roles skip every policy: switch to the bound role when the login
    # may (the migration grants it to whoever migrated). A database not yet migrated has no
    # tenant tables, and `upgrade` disposes the pool so later connections take the role.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            "select set_config('role', %(r)s, false) from pg_roles "
            "where rolname = %(r)s and pg_has_role(session_user, oid, 'MEMBER')",
            {"r": RUNTIME_ROLE},
        )
    finally:
        cursor.close()
    dbapi_connection.commit()


def bind_runtime_role(engine: Engine) -> Engine:
    """Every connection `engine` opens from now on runs as the RLS-bound runtime role."""
    if not event.contains(engine, "connect", _set_runtime_role):
        event.listen(engine, "connect", _set_runtime_role)
    return engine


def tenant_sessions(engine: Engine, tenant: str) -> sessionmaker[Session]:
    """Sessions whose every transaction acts for `tenant` (a process serving one tenant's run)."""
    if not tenant:
        raise ValueError("a tenant name is required")
    factory = sessionmaker(engine, expire_on_commit=False)

    def begin(_session: Session, _transaction: Any, connection: Any) -> None:
        acting_as(connection, tenant)

    event.listen(factory, "after_begin", begin)
    return factory


def platform_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose every transaction acts across tenants: only for platform-wide processes."""
    return tenant_sessions(engine, PLATFORM)
