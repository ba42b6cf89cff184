"""Settings of the transform, load and embed workers (environment variables, as every Quarry process)."""

from __future__ import annotations

from pydantic import Field

from quarry_core.settings import CoreSettings


class WorkerSettings(CoreSettings):
    transform_batch_size: int = Field(default=8, ge=1, validation_alias="QUARRY_TRANSFORM_BATCH_SIZE")
    load_batch_size: int = Field(default=16, ge=1, validation_alias="QUARRY_LOAD_BATCH_SIZE")
    load_rows_per_message: int = Field(
        default=1000,
        ge=1,
        validation_alias="QUARRY_LOAD_ROWS_PER_MESSAGE",
        description="A raw page's records are split into load messages of at most this many rows.",
    )
    embed_batch_size: int = Field(
        default=256,
        ge=1,
        validation_alias="QUARRY_EMBED_BATCH_SIZE",
        description="Rows the embed stage claims, embeds and commits at a time.",
    )
    health_port: int = Field(
        default=0,
        ge=0,
        validation_alias="QUARRY_HEALTH_PORT",
        description="Port of /healthz and /metrics; 0 disables the listener.",
    )
    idle_timeout: float = Field(default=1.0, gt=0, validation_alias="QUARRY_WORKER_IDLE_TIMEOUT")
