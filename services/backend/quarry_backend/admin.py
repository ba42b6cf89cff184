"""Bootstrap: create tenants and users (what `quarry admin` runs)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from quarry_backend.security import ROLES, hash_password
from quarry_core.db.models import Tenant, User
from quarry_core.db.tenancy import acting_as
from quarry_core.resources import DNS_LABEL

MIN_PASSWORD = 12


class AdminError(ValueError):
    pass


def create_tenant(session: Session, name: str, display_name: str | None = None) -> bool:
    """Create the tenant; False when it exists already."""
    if len(name) > 63 or not re.match(DNS_LABEL, name):
        raise AdminError(f"{name!r} is not a valid tenant name (a DNS label: a-z, 0-9, '-', at most 63)")
    if session.get(Tenant, name) is not None:
        return False
    session.add(Tenant(name=name, display_name=display_name))
    return True


def create_user(
    session: Session,
    tenant: str,
    email: str,
    password: str,
    role: str,
    *,
    full_name: str | None = None,
    platform_admin: bool = False,
) -> User:
    if session.get(Tenant, tenant) is None:
        raise AdminError(f"tenant {tenant} does not exist (quarry admin create-tenant {tenant})")
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AdminError(f"the password must have at least {MIN_PASSWORD} characters")
    email = email.strip().lower()
    if not re.match(r"^[^@\s]+@[^@\s]+$", email):
        raise AdminError(f"{email!r} is not an email address")
    acting_as(session, tenant)
    if session.scalar(select(User.id).where(User.tenant == tenant, User.email == email)) is not None:
        raise AdminError(f"user {email} exists already in tenant {tenant}")
    user = User(
        tenant=tenant,
        email=email,
        full_name=full_name,
        password_hash=hash_password(password),
        role=role,
        is_active=True,
        is_platform_admin=platform_admin,
    )
    session.add(user)
    session.flush()
    return user
