"""Settings of the local runtime (`quarry up`, and `quarry run` when it drives the controller itself)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from quarry_core.settings import CoreSettings


class LocalSettings(CoreSettings):
    # On one machine the sources are often private (a Jira Data Center on the LAN, the imitation
    # servers of the demo); link-local addresses stay refused.
    egress_allow_private: bool = Field(default=True, validation_alias="QUARRY_EGRESS_ALLOW_PRIVATE")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="QUARRY_PORT")
    host: str = Field(default="127.0.0.1", validation_alias="QUARRY_HOST")
    tick_seconds: float = Field(
        default=2.0,
        gt=0,
        validation_alias="QUARRY_CONTROLLER_TICK_SECONDS",
        description="Longest sleep between passes; changes wake the controller at once (LISTEN/NOTIFY).",
    )
    stop_grace_seconds: float = Field(
        default=20.0,
        ge=0,
        validation_alias="QUARRY_STOP_GRACE_SECONDS",
        description="How long a process may take to exit after SIGTERM before it gets SIGKILL.",
    )
    max_workers_per_stage: int = Field(
        default=4,
        ge=1,
        validation_alias="QUARRY_MAX_WORKERS_PER_STAGE",
        description="Local cap on transform (and load) processes, whatever the EtlJobs ask for.",
    )
    warm_workers: int = Field(
        default=1,
        ge=0,
        validation_alias="QUARRY_WARM_WORKERS",
        description="Transform (and load) processes kept running while idle, so a run's first pages "
        "meet a started worker; 0 scales the stages to zero between runs.",
    )
    standby_extract: bool = Field(
        default=True,
        validation_alias="QUARRY_STANDBY_EXTRACT",
        description="Keep one extract process started and waiting while no run is active; the next "
        "run takes it instead of waiting for a new interpreter's start-up.",
    )
    integration_recheck_seconds: float = Field(default=300.0, gt=0, validation_alias="QUARRY_RECHECK_SECONDS")
    integration_error_recheck_seconds: float = Field(
        default=10.0, gt=0, validation_alias="QUARRY_ERROR_RECHECK_SECONDS"
    )

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"
