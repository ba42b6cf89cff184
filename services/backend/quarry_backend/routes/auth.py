"""Login (OAuth2 password form), refresh-token rotation, logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quarry_backend.deps import DbDep, SettingsDep
from quarry_backend.errors import TOO_MANY, UNAUTHORIZED
from quarry_backend.schemas.auth import RefreshIn, TokenOut
from quarry_backend.security import create_access_token, new_refresh_token, sha256, verify_password
from quarry_backend.settings import ApiSettings
from quarry_core.db.models import LoginAttempt, RefreshToken, User

router = APIRouter(prefix="/auth", tags=["auth"])


def _client(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def _issue(session: Session, settings: ApiSettings, user: User) -> TokenOut:
    access, expires_in = create_access_token(
        settings.signing_key(), user.id, user.tenant, settings.access_token_minutes
    )
    refresh, refresh_hash = new_refresh_token()
    session.add(
        RefreshToken(
            tenant=user.tenant,
            user_id=user.id,
            token_hash=refresh_hash,
            expires_at=datetime.now(UTC) + timedelta(days=settings.refresh_token_days),
        )
    )
    return TokenOut(access_token=access, refresh_token=refresh, expires_in=expires_in)


def _too_many(session: Session, settings: ApiSettings, email: str, client: str) -> bool:
    since = datetime.now(UTC) - timedelta(seconds=settings.login_window_seconds)
    failures = select(func.count()).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since
    )
    by_account = session.scalar(failures.where(LoginAttempt.email == email)) or 0
    by_client = session.scalar(failures.where(LoginAttempt.client == client)) or 0
    return (
        by_account >= settings.login_max_failures_per_account
        or by_client >= settings.login_max_failures_per_client
    )


@router.post(
    "/login",
    response_model=TokenOut,
    responses={**UNAUTHORIZED, **TOO_MANY},
    summary="Log in with email and password (OAuth2 password form)",
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DbDep,
    settings: SettingsDep,
) -> TokenOut:
    email, client = form.username.strip().lower()[:320], _client(request)
    with db.platform_session() as session:
        if _too_many(session, settings, email, client):
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many failed logins; try again later",
                headers={"Retry-After": str(int(settings.login_window_seconds))},
            )
        candidates = session.scalars(
            select(User)
            .where(func.lower(User.email) == email, User.is_active.is_(True))
            .order_by(User.tenant)
        ).all()
        user = next((u for u in candidates if verify_password(u.password_hash, form.password)), None)
        if not candidates:
            verify_password(None, form.password)  # as slow as a wrong password
        session.add(
            LoginAttempt(
                tenant=user.tenant if user else None, email=email, client=client, succeeded=user is not None
            )
        )
        if user is None:
            session.commit()
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "wrong email or password",
                headers={"WWW-Authenticate": "Bearer"},
            )
        tokens = _issue(session, settings, user)
        session.commit()
        return tokens


@router.post(
    "/refresh",
    response_model=TokenOut,
    responses=UNAUTHORIZED,
    summary="Trade a refresh token for new tokens",
)
def refresh(body: RefreshIn, db: DbDep, settings: SettingsDep) -> TokenOut:
    token_hash = sha256(body.refresh_token.get_secret_value())
    now = datetime.now(UTC)
    with db.platform_session() as session:
        row = session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        )
        if row is not None and row.revoked_at is not None:
            # A rotated token used again: it leaked. End every session of that user.
            session.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == row.user_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            session.commit()
        user = session.get(User, row.user_id) if row is not None else None
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= now
            or user is None
            or not user.is_active
        ):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid refresh token")
        row.revoked_at = now
        tokens = _issue(session, settings, user)
        session.commit()
        return tokens


@router.post("/logout", status_code=204, summary="Revoke a refresh token")
def logout(body: RefreshIn, db: DbDep) -> Response:
    with db.platform_session() as session:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == sha256(body.refresh_token.get_secret_value()))
            .where(RefreshToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        session.commit()
    return Response(status_code=204)
