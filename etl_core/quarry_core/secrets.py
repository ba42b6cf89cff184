"""Credentials: local `v1` Secrets stored encrypted (Fernet), and how a run finds its credentials.

On Kubernetes the operator mounts the Integration's Secret into the extract pod and points
QUARRY_CREDENTIALS_DIR at it (one file per key, as Kubernetes mounts them). Locally the Secret
lives encrypted in the `secrets` table. Secret values are never logged or returned by the API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from quarry_core.db.models import Secret
from quarry_core.errors import ConfigError, FatalError
from quarry_core.settings import CoreSettings


def secret_key(settings: CoreSettings) -> bytes:
    """QUARRY_SECRET_KEY, or a key generated once under the data directory (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


def fernet(settings: CoreSettings) -> Fernet:
    try:
        return Fernet(secret_key(settings))
    except ValueError as exc:
        raise ConfigError("QUARRY_SECRET_KEY must be a urlsafe base64-encoded 32-byte key") from exc


def store_secret(
    session: Session, settings: CoreSettings, tenant: str, name: str, data: dict[str, str]
) -> None:
    token = fernet(settings).encrypt(json.dumps(data, sort_keys=True).encode())
    stmt = insert(Secret).values(tenant=tenant, name=name, data=token)
    session.execute(stmt.on_conflict_do_update(constraint="uq_secrets_tenant_name", set_={"data": token}))


def delete_secret(session: Session, tenant: str, name: str) -> bool:
    row = session.scalar(select(Secret).where(Secret.tenant == tenant, Secret.name == name))
    if row is None:
        return False
    session.delete(row)
    return True


def load_secret(session: Session, settings: CoreSettings, tenant: str, name: str) -> dict[str, str]:
    row = session.scalar(select(Secret).where(Secret.tenant == tenant, Secret.name == name))
    if row is None:
        raise FatalError(f"secret {tenant}/{name} not found")
    try:
        data: dict[str, str] = json.loads(fernet(settings).decrypt(row.data))
    except InvalidToken as exc:
        raise FatalError(f"secret {tenant}/{name} cannot be decrypted with this QUARRY_SECRET_KEY") from exc
    return data


def read_mounted_secret(directory: Path) -> dict[str, str]:
    """A Secret mounted as a volume: one file per key (Kubernetes also adds hidden ..data links)."""
    return {
        p.name: p.read_text().strip()
        for p in sorted(directory.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def resolve_credentials(
    session: Session, settings: CoreSettings, tenant: str, secret_name: str
) -> dict[str, str]:
    mounted = os.environ.get("QUARRY_CREDENTIALS_DIR")
    if mounted:
        return read_mounted_secret(Path(mounted))
    return load_secret(session, settings, tenant, secret_name)
