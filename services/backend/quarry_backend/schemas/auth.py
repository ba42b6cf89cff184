from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import available_timezones

from pydantic import Field, SecretStr, field_validator

from quarry_backend.schemas.base import ApiModel, OutModel

EMAIL = r"^[^@\s]+@[^@\s]+$"
Role = Literal["admin", "editor", "viewer"]


class TokenOut(OutModel):
    access_token: str = Field(serialization_alias="access_token")
    refresh_token: str = Field(serialization_alias="refresh_token")
    token_type: Literal["bearer"] = Field(default="bearer", serialization_alias="token_type")
    expires_in: int = Field(serialization_alias="expires_in", description="Seconds the access token lives.")


class RefreshIn(ApiModel):
    refresh_token: SecretStr = Field(alias="refresh_token", min_length=1, max_length=200, examples=["qr_…"])

    model_config = {**ApiModel.model_config, "json_schema_extra": {"examples": [{"refresh_token": "qr_…"}]}}


class MeOut(OutModel):
    id: int | None
    email: str | None
    tenant: str = Field(description="The tenant the caller acts in.")
    home_tenant: str
    role: Role
    platform_admin: bool
    api_key: bool = Field(description="True when the caller authenticated with an API key.")


Theme = Literal["light", "dark", "system"]


class Preferences(ApiModel):
    theme: Theme = "system"
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        examples=["Europe/Berlin"],
        description="An IANA time zone; none: the browser's own.",
    )
    default_tenant: str | None = Field(default=None, max_length=63, examples=["acme"])

    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {
            "examples": [{"theme": "dark", "timeZone": "Europe/Berlin", "defaultTenant": None}]
        },
    }

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in _zones():
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones() | {"UTC"})
    return _ZONES


class UserIn(ApiModel):
    email: str = Field(max_length=320, pattern=EMAIL, examples=["dev@acme.io"])
    password: SecretStr = Field(min_length=12, max_length=256, examples=["correct horse battery"])
    role: Role = "viewer"
    full_name: str | None = Field(default=None, max_length=200)

    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {
            "examples": [{"email": "dev@acme.io", "password": "correct horse battery", "role": "editor"}]
        },
    }


class UserUpdate(ApiModel):
    role: Role | None = None
    is_active: bool | None = None
    full_name: str | None = Field(default=None, max_length=200)

    model_config = {**ApiModel.model_config, "json_schema_extra": {"examples": [{"role": "editor"}]}}


class UserOut(OutModel):
    id: int
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    created_at: datetime


class ApiKeyIn(ApiModel):
    name: str = Field(min_length=1, max_length=100, examples=["ci-pipeline"])
    role: Role = "viewer"

    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {"examples": [{"name": "ci", "role": "viewer"}]},
    }


class ApiKeyOut(OutModel):
    id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")
