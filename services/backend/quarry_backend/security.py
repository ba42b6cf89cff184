"""Passwords (argon2), access tokens (JWT), refresh tokens and API keys (stored as hashes)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("viewer", "editor", "admin")
ALGORITHM = "HS256"
API_KEY_PREFIX = "qk_"

_hasher = PasswordHasher()
# Verifying against this keeps an unknown account as slow as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def role_rank(role: str) -> int:
    return ROLES.index(role)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(key: str, user_id: int, tenant: str, minutes: float) -> tuple[str, int]:
    now = datetime.now(UTC)
    expires = now + timedelta(minutes=minutes)
    claims = {
        "sub": str(user_id),
        "tenant": tenant,
        "type": "access",
        "iat": now,
        "exp": expires,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), int((expires - now).total_seconds())


def decode_access_token(key: str, token: str) -> dict[str, Any] | None:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "type"]}
        )
    except jwt.PyJWTError:
        return None
    return claims if claims.get("type") == "access" else None


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_token() -> tuple[str, str]:
    """(token shown to the client, hash stored)."""
    token = "qr_" + secrets.token_urlsafe(32)
    return token, sha256(token)


@dataclass(frozen=True)
class NewApiKey:
    key: str  # shown once
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key, prefix, sha256(key))


def api_key_prefix(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, _, rest = key[len(API_KEY_PREFIX) :].partition("_")
    return prefix if len(prefix) == 12 and rest else None


def api_key_matches(key: str, key_hash: str) -> bool:
    # Keys carry 256 random bits, so a fast hash is safe; compare in constant time.
    return hmac.compare_digest(sha256(key), key_hash)
