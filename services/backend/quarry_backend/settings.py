"""The API's settings: one object, read from the same environment as every Quarry process."""

from __future__ import annotations

import os
import secrets
from typing import Literal

from pydantic import Field, SecretStr

from quarry_core.settings import CoreSettings


class ApiSettings(CoreSettings):
    host: str = Field(default="127.0.0.1", validation_alias="QUARRY_API_HOST")
    port: int = Field(default=8000, ge=1, le=65535, validation_alias="QUARRY_API_PORT")
    jwt_secret: SecretStr | None = Field(
        default=None,
        validation_alias="QUARRY_JWT_SECRET",
        description="Signs access tokens; generated under the data directory if unset.",
    )
    access_token_minutes: float = Field(default=15, gt=0, validation_alias="QUARRY_ACCESS_TOKEN_MINUTES")
    refresh_token_days: float = Field(default=14, gt=0, validation_alias="QUARRY_REFRESH_TOKEN_DAYS")
    database_replica_url: SecretStr | None = Field(
        default=None,
        validation_alias="DATABASE_REPLICA_URL",
        description="Read-only data endpoints read from this replica when set.",
    )
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    resources: Literal["local", "kubernetes"] = Field(default="local", validation_alias="QUARRY_RESOURCES")
    cors_origins: list[str] = Field(
        default_factory=list,
        validation_alias="QUARRY_API_CORS_ORIGINS",
        description="Origins allowed by CORS (JSON list); none by default.",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, validation_alias="QUARRY_API_MAX_BODY_BYTES")
    login_window_seconds: float = Field(default=900, gt=0, validation_alias="QUARRY_LOGIN_WINDOW_SECONDS")
    login_max_failures_per_account: int = Field(
        default=5, ge=1, validation_alias="QUARRY_LOGIN_MAX_PER_ACCOUNT"
    )
    login_max_failures_per_client: int = Field(
        default=20, ge=1, validation_alias="QUARRY_LOGIN_MAX_PER_CLIENT"
    )

    def signing_key(self) -> str:
        """QUARRY_JWT_SECRET, or a key generated once under the data directory (mode 0600)."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process wrote it first
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()
