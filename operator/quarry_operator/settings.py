"""Settings of `quarry operator`: the core settings plus what only the Kubernetes runtime needs.

All come from the environment (the chart sets them), so the operator Deployment needs no flags
beyond the namespaces it watches.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field

from quarry_core.settings import CoreSettings


class OperatorSettings(CoreSettings):
    namespaces: str = Field(
        default="",
        validation_alias="QUARRY_OPERATOR_NAMESPACES",
        description="Comma-separated namespaces to watch when no --namespace/--all-namespaces is given.",
    )
    image: str = Field(
        default="ghcr.io/quarry-etl/quarry:latest",
        validation_alias="QUARRY_IMAGE",
        description="Image of the extract pods (the operator's own image: one image for every process).",
    )
    image_pull_policy: str = Field(default="IfNotPresent", validation_alias="QUARRY_IMAGE_PULL_POLICY")
    extract_service_account: str | None = Field(
        default=None, validation_alias="QUARRY_EXTRACT_SERVICE_ACCOUNT"
    )
    config_secret: str = Field(
        default="quarry-config",
        validation_alias="QUARRY_CONFIG_SECRET",
        description="Secret (keys DATABASE_URL, AMQP_URL) in the platform's namespace "
        "(QUARRY_WORKERS_NAMESPACE) that extract pods, which run there too, read their connections "
        "from; never copied elsewhere.",
    )
    credentials_mount_path: str = Field(
        default="/var/run/quarry/credentials", validation_alias="QUARRY_CREDENTIALS_MOUNT_PATH"
    )
    job_ttl_seconds: int = Field(default=3600, ge=0, validation_alias="QUARRY_JOB_TTL_SECONDS")
    job_active_deadline_seconds: int | None = Field(
        default=None, ge=1, validation_alias="QUARRY_JOB_ACTIVE_DEADLINE_SECONDS"
    )
    resync_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias="QUARRY_OPERATOR_RESYNC_SECONDS",
        description="Every EtlJob is reconciled at least this often, so a missed event is never fatal.",
    )
    active_resync_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias="QUARRY_OPERATOR_ACTIVE_RESYNC_SECONDS",
        description="How often the status of an EtlJob with an active run is refreshed (counts).",
    )
    integration_check_seconds: float = Field(
        default=300.0, gt=0, validation_alias="QUARRY_OPERATOR_INTEGRATION_CHECK_SECONDS"
    )
    scale_polling_seconds: float = Field(
        default=2.0,
        gt=0,
        validation_alias="QUARRY_OPERATOR_SCALE_POLLING_SECONDS",
        description="Queue-depth polling period of the worker scaler (KEDA's default is 30 s).",
    )
    workers_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("QUARRY_WORKERS_NAMESPACE", "POD_NAMESPACE"),
        description="Namespace of the shared worker Deployments (the release's, by default the operator's).",
    )
    pause_annotation: str = Field(default="quarry.dev/paused", validation_alias="QUARRY_PAUSE_ANNOTATION")
    status_publish_seconds: float = Field(
        default=10.0,
        ge=0,
        validation_alias="QUARRY_OPERATOR_STATUS_PUBLISH_SECONDS",
        description="status.workers of an EtlJob is rewritten at most this often unless replicas change.",
    )
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, validation_alias="QUARRY_OPERATOR_METRICS_PORT",
        description="Port of the Prometheus /metrics endpoint; 0 turns it off.",
    )

    @property
    def namespace_list(self) -> list[str]:
        return [n.strip() for n in self.namespaces.split(",") if n.strip()]
