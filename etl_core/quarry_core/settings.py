"""Settings shared by every Quarry process.

Each process defines one subclass of `CoreSettings` with its own fields; all read the same
environment variables, so one shell can drive a platform that `quarry up` or a test started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def reveal(value: SecretStr | None) -> str | None:
    """The secret's text, for the one place that connects with it."""
    return value.get_secret_value() if value is not None else None


def default_data_dir() -> Path:
    return Path.home() / ".quarry"


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    # URLs and keys that may hold credentials are SecretStr: never shown by repr, logs or /healthz.
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL URL; unset means an embedded PostgreSQL under the data directory.",
    )
    amqp_url: SecretStr | None = Field(
        default=None,
        validation_alias="AMQP_URL",
        description="RabbitMQ URL; unset means the PostgreSQL-backed queue.",
    )
    qdrant_url: str | None = Field(
        default=None,
        validation_alias="QDRANT_URL",
        description="Qdrant server URL; unset means Qdrant local mode under the data directory.",
    )
    # The embed worker writes vectors with it and the API embeds search queries with it.
    embedder: Literal["auto", "hashing", "sentence", "off"] = Field(
        default="auto",
        validation_alias="QUARRY_EMBEDDER",
        description="auto: the sentence model when the optional extra is installed, else hashing.",
    )
    embedding_model: str = Field(
        default="sentence-transformers/all-MiniLM-L6-v2", validation_alias="QUARRY_EMBEDDING_MODEL"
    )
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="QUARRY_DATA_DIR")
    queue_prefix: str = Field(
        default="quarry",
        validation_alias="QUARRY_QUEUE_PREFIX",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Queue names are <prefix>.extract|transform|load; tests use their own prefix.",
    )
    queue_max_attempts: int = Field(default=5, ge=1, validation_alias="QUARRY_QUEUE_MAX_ATTEMPTS")
    queue_retry_delay_seconds: float = Field(
        default=5.0, ge=0, validation_alias="QUARRY_QUEUE_RETRY_DELAY_SECONDS"
    )
    queue_visibility_timeout_seconds: float = Field(
        default=300.0, gt=0, validation_alias="QUARRY_QUEUE_VISIBILITY_TIMEOUT_SECONDS"
    )
    egress_allow_private: bool = Field(
        default=False,
        validation_alias="QUARRY_EGRESS_ALLOW_PRIVATE",
        description="Allow Integrations on private/loopback addresses (link-local never); quarry up "
        "turns it on.",
    )
    outage_seconds: float = Field(
        default=600.0,
        gt=0,
        validation_alias="QUARRY_OUTAGE_SECONDS",
        description="How long a run process waits out a database or broker outage before the attempt ends.",
    )
    run_stall_seconds: float = Field(
        default=900.0,
        gt=0,
        validation_alias="QUARRY_RUN_STALL_SECONDS",
        description="A run whose pages have not moved for this long after extraction ends fails.",
    )
    queue_lane_expires_seconds: float = Field(
        default=86400.0,
        ge=60,
        validation_alias="QUARRY_QUEUE_LANE_EXPIRES_SECONDS",
        description="RabbitMQ: a tenant's lane queue unused for this long is deleted by the broker "
        "(x-expires); a message waiting in a lane for half of it moves to the stage's work queue.",
    )
    rabbitmq_management_url: SecretStr | None = Field(
        default=None,
        validation_alias="RABBITMQ_MANAGEMENT_URL",
        description="Management API for ready+unacked depth; derived from AMQP_URL (port 15672) if unset.",
    )
    integration_check_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias="QUARRY_CHECK_TIMEOUT",
        description="Seconds an Integration's connection check waits for the source.",
    )
    default_requests_per_hour: int = Field(
        default=10_000,
        ge=1,
        validation_alias="QUARRY_DEFAULT_REQUESTS_PER_HOUR",
        description="Budget of an Integration whose spec sets none.",
    )
    budget_window_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="QUARRY_BUDGET_WINDOW_SECONDS",
        description="Length of the budget's sliding window (an hour; tests shorten it).",
    )
    log_level: str = Field(default="INFO", validation_alias="QUARRY_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", validation_alias="QUARRY_LOG_FORMAT")
    secret_key: SecretStr | None = Field(
        default=None,
        validation_alias="QUARRY_SECRET_KEY",
        description="Key that encrypts stored secrets; generated under the data directory if unset.",
    )
