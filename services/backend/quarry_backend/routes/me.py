"""The caller: who they are, their preferences, and (admins) the tenant's users and API keys."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from quarry_backend.deps import CurrentUser, DbDep, SessionDep, allow
from quarry_backend.errors import CONFLICT, READ, READ_ONE, WRITE, WRITE_ONE
from quarry_backend.schemas.auth import (
    ApiKeyIn,
    ApiKeyOut,
    MeOut,
    NewApiKeyOut,
    Preferences,
    UserIn,
    UserOut,
    UserUpdate,
)
from quarry_backend.security import hash_password, new_api_key, role_rank
from quarry_core.db.models import ApiKey, User

router = APIRouter(tags=["account"])


@router.get(
    "/me", response_model=MeOut, responses=READ, summary="Who the caller is and which tenant they act in"
)
def me(principal: CurrentUser) -> MeOut:
    return MeOut(
        id=principal.user_id,
        email=principal.email,
        tenant=principal.tenant,
        home_tenant=principal.home_tenant,
        role=principal.role,
        platform_admin=principal.platform_admin,
        api_key=principal.api_key_id is not None,
    )


def _own_user(principal: CurrentUser, db: DbDep) -> User:
    if principal.user_id is None:
        raise HTTPException(404, "an API key without a user has no preferences")
    with db.platform_session() as session:
        user = session.get(User, principal.user_id)
    assert user is not None
    return user


@router.get("/me/preferences", response_model=Preferences, responses=READ_ONE)
def get_preferences(principal: CurrentUser, db: DbDep) -> Preferences:
    return Preferences.model_validate(_own_user(principal, db).preferences or {})


@router.put("/me/preferences", response_model=Preferences, responses=READ_ONE)
def put_preferences(body: Preferences, principal: CurrentUser, db: DbDep) -> Preferences:
    _own_user(principal, db)
    with db.platform_session() as session:
        user = session.get(User, principal.user_id)
        assert user is not None
        user.preferences = body.model_dump(mode="json", by_alias=True)
        session.commit()
    return body


# --- users of the tenant ------------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut], responses=WRITE, **allow("admin"))
def list_users(session: SessionDep, principal: CurrentUser) -> list[User]:
    return list(session.scalars(select(User).where(User.tenant == principal.tenant).order_by(User.email)))


@router.post(
    "/users", response_model=UserOut, status_code=201, responses={**WRITE, **CONFLICT}, **allow("admin")
)
def create_user(body: UserIn, session: SessionDep, principal: CurrentUser) -> User:
    user = User(
        tenant=principal.tenant,
        email=body.email.strip().lower(),
        full_name=body.full_name,
        password_hash=hash_password(body.password.get_secret_value()),
        role=body.role,
        is_active=True,
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        raise HTTPException(409, f"a user {body.email} exists already") from None
    return user


def _user(session: SessionDep, tenant: str, user_id: int) -> User:
    user = session.scalar(select(User).where(User.id == user_id, User.tenant == tenant))
    if user is None:
        raise HTTPException(404, "user not found")
    return user


@router.patch("/users/{user_id}", response_model=UserOut, responses=WRITE_ONE, **allow("admin"))
def update_user(user_id: int, body: UserUpdate, session: SessionDep, principal: CurrentUser) -> User:
    user = _user(session, principal.tenant, user_id)
    for field in body.model_fields_set:
        setattr(user, field, getattr(body, field))
    session.commit()
    return user


@router.delete("/users/{user_id}", status_code=204, responses=WRITE_ONE, **allow("admin"))
def delete_user(user_id: int, session: SessionDep, principal: CurrentUser) -> Response:
    user = _user(session, principal.tenant, user_id)
    if user.id == principal.user_id:
        raise HTTPException(409, "you cannot delete yourself")
    session.delete(user)
    session.commit()
    return Response(status_code=204)


# --- API keys -----------------------------------------------------------------------------------


@router.get("/api-keys", response_model=list[ApiKeyOut], responses=WRITE, **allow("admin"))
def list_api_keys(session: SessionDep, principal: CurrentUser) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant == principal.tenant).order_by(ApiKey.id)))


@router.post("/api-keys", response_model=NewApiKeyOut, status_code=201, responses=WRITE, **allow("admin"))
def create_api_key(body: ApiKeyIn, session: SessionDep, principal: CurrentUser) -> NewApiKeyOut:
    if role_rank(body.role) > role_rank(principal.role):
        raise HTTPException(403, "a key cannot outrank its creator")
    new = new_api_key()
    key = ApiKey(
        tenant=principal.tenant,
        user_id=principal.user_id if principal.home_tenant == principal.tenant else None,
        name=body.name,
        prefix=new.prefix,
        key_hash=new.key_hash,
        role=body.role,
    )
    session.add(key)
    session.commit()
    return NewApiKeyOut.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": new.key})


@router.delete("/api-keys/{key_id}", status_code=204, responses=WRITE_ONE, **allow("admin"))
def revoke_api_key(key_id: int, session: SessionDep, principal: CurrentUser) -> Response:
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant == principal.tenant))
    if key is None:
        raise HTTPException(404, "API key not found")
    key.revoked_at = key.revoked_at or datetime.now(UTC)
    session.commit()
    return Response(status_code=204)
