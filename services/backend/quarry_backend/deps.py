"""Dependencies every route uses: who is calling, for which tenant, and a session acting for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from quarry_backend.db import Database
from quarry_backend.security import (
    api_key_matches,
    api_key_prefix,
    decode_access_token,
    role_rank,
)
from quarry_backend.settings import ApiSettings
from quarry_core.db.models import ApiKey, Tenant, User

oauth2 = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/login",
    auto_error=False,
    description="A JWT from /api/v1/auth/login, or an API key `qk_…` as the bearer token.",
)


@dataclass(frozen=True)
class Principal:
    """The caller: a user (by password login) or an API key, acting for one tenant."""

    tenant: str
    role: str
    home_tenant: str
    user_id: int | None
    email: str | None
    platform_admin: bool = False
    api_key_id: int | None = None


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


def _unauthorized(detail: str = "not authenticated") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(db: Database, settings: ApiSettings, token: str | None, tenant: str | None) -> Principal:
    """The principal of a bearer token (JWT or API key); `tenant` asks to act in another tenant."""
    if not token:
        raise _unauthorized()
    with db.platform_session() as session:
        if api_key_prefix(token) is not None:
            principal = _api_key_principal(session, token)
        else:
            principal = _user_principal(session, settings, token, tenant)
        session.commit()
    if tenant is not None and tenant != principal.tenant:
        # Another tenant is as invisible as an object in it.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "tenant not found")
    return principal


def _api_key_principal(session: Session, token: str) -> Principal:
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == api_key_prefix(token)))
    if key is None or key.revoked_at is not None or not api_key_matches(token, key.key_hash):
        raise _unauthorized("invalid API key")
    user = session.get(User, key.user_id) if key.user_id is not None else None
    role = key.role
    if key.user_id is not None:
        if user is None or not user.is_active:
            raise _unauthorized("invalid API key")
        # A key never outranks its owner, even after the owner was demoted.
        role = min(role, user.role, key=role_rank)
    session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=datetime.now(UTC)))
    return Principal(
        tenant=key.tenant,
        role=role,
        home_tenant=key.tenant,
        user_id=key.user_id,
        email=user.email if user else None,
        api_key_id=key.id,
    )


def _user_principal(session: Session, settings: ApiSettings, token: str, tenant: str | None) -> Principal:
    claims = decode_access_token(settings.signing_key(), token)
    if claims is None:
        raise _unauthorized("invalid or expired token")
    user = session.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    if user is None or not user.is_active or user.tenant != claims.get("tenant"):
        raise _unauthorized("invalid or expired token")
    acting, role = user.tenant, user.role
    if user.is_platform_admin:
        role = "admin"
        wanted = tenant or user.preferences.get("defaultTenant")
        if wanted and session.get(Tenant, wanted) is not None:
            acting = wanted
    return Principal(
        tenant=acting,
        role=role,
        home_tenant=user.tenant,
        user_id=user.id,
        email=user.email,
        platform_admin=user.is_platform_admin,
    )


def current_principal(
    db: DbDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2)],
    x_quarry_tenant: Annotated[
        str | None,
        Header(description="Act in this tenant (platform admins only); default: the caller's own."),
    ] = None,
) -> Principal:
    return authenticate(db, settings, token, x_quarry_tenant)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def tenant_session(principal: CurrentUser, db: DbDep) -> Iterator[Session]:
    """A session whose every transaction acts for the caller's tenant; writers commit themselves."""
    session = db.tenant_session(principal.tenant)
    try:
        yield session
    finally:
        session.close()


def read_session(principal: CurrentUser, db: DbDep) -> Iterator[Session]:
    """Read-only, from the replica when DATABASE_REPLICA_URL is set."""
    session = db.tenant_session(principal.tenant, read_only=True)
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(tenant_session)]
ReadSessionDep = Annotated[Session, Depends(read_session)]


def require_role(minimum: str) -> Callable[[Principal], Principal]:
    def check(principal: CurrentUser) -> Principal:
        if role_rank(principal.role) < role_rank(minimum):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {minimum} role")
        return principal

    return check


def allow(minimum: str) -> dict[str, Any]:
    """Route keyword arguments: the role check and its mark in the OpenAPI document."""
    return {"dependencies": [Depends(require_role(minimum))], "openapi_extra": {"x-quarry-role": minimum}}


Editor = Annotated[Principal, Depends(require_role("editor"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
