"""The acting tenant of a transaction: what row-level security policies compare rows against."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

TENANT_SETTING = "quarry.tenant"
_SET_TENANT = text("select set_config('quarry.tenant', :t, true)")


def acting_as(session: Session | Connection, tenant: str) -> None:
    """Act for `tenant` until the current transaction ends (set_config's `is_local`)."""
    session.execute(_SET_TENANT, {"t": tenant})
