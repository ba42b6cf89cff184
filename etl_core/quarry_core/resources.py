"""Typed models of the Integration and EtlJob custom resources and of v1 Secrets.

The CRDs in crds/ are the single source of the schema; these models mirror them (tests compare
the two recursively) so Python code gets types, defaults and the cross-field rules that the CRDs
express as CEL (x-kubernetes-validations), which jsonschema cannot evaluate.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from quarry_core.sources import ALL_ENTITIES, SOURCES, AuthStyle, get_source
from quarry_core.states import IntegrationPhase, JobPhase

GROUP = "quarry.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Kept identical to the patterns in crds/*.yaml (tests check it).
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
# No userinfo (user:password@): credentials come from the Secret only, never from a URL.
BASE_URL = r"^https?://[^\s/?#@]+([/?#][^\s]*)?$"
JIRA_PROJECT = r"^[A-Za-z][A-Za-z0-9_]*$"
GITHUB_ORG = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$"
GITHUB_REPO = r"^([A-Za-z0-9][A-Za-z0-9-]*/)?[A-Za-z0-9._-]+$"
CRON = r"^\S+(\s+\S+){4}$"
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]"
    r"|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
CONDITION_TYPE = r"^[A-Za-z]([A-Za-z0-9_.-]*[A-Za-z0-9])?$"
CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
SecretKeyName = Annotated[str, Field(min_length=1, max_length=253, pattern=SECRET_KEY)]
Quantity = int | Annotated[str, Field(pattern=QUANTITY)]
Token = Annotated[str, Field(max_length=253)]


# Both enums come from the source registry, so a new source is not another edit here.
IntegrationType = StrEnum("IntegrationType", {t.upper(): t for t in SOURCES})  # type: ignore[misc]
Entity = StrEnum("Entity", {e.upper(): e for e in ALL_ENTITIES})  # type: ignore[misc]


class JobMode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    RATE_LIMITED = "RateLimited"
    FALLBACK = "Fallback"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_document(self) -> dict[str, Any]:
        """The camelCase JSON form (what the API server stores), without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Spec(_Model):
    # A typo in a spec must fail loudly, as `kubectl apply` (strict field validation) does.
    model_config = ConfigDict(extra="forbid")


class _Status(_Model):
    # Tolerate fields a newer operator wrote.
    model_config = ConfigDict(extra="ignore")


# --- shared pieces ------------------------------------------------------------------------------


class Condition(_Status):
    type: str = Field(max_length=316, pattern=CONDITION_TYPE)
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=CONDITION_REASON)
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime
    observed_generation: int | None = Field(default=None, ge=0)


def get_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: bool | ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    observed_generation: int | None = None,
) -> tuple[Condition, ...]:
    """Return `conditions` with `type_` set; lastTransitionTime moves only when the status changes."""
    if isinstance(status, bool):
        status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    old = get_condition(conditions, type_)
    since = old.last_transition_time if old is not None and old.status == status else now
    new = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=observed_generation,
    )
    if old is None:
        return (*conditions, new)
    return tuple(new if c.type == type_ else c for c in conditions)


class ObjectMeta(_Model):
    # Manifests copied from `kubectl get -o yaml` carry server fields we do not need.
    model_config = ConfigDict(extra="ignore")

    name: ResourceName
    namespace: str | None = Field(default=None, max_length=63, pattern=DNS_LABEL)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    generation: int | None = Field(default=None, ge=0)
    resource_version: str | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None


class ObjectRef(_Spec):
    name: ResourceName


# --- Integration --------------------------------------------------------------------------------


class SecretKeys(_Spec):
    username: SecretKeyName = "email"
    token: SecretKeyName = "token"


class SecretRef(_Spec):
    name: ResourceName
    keys: SecretKeys = Field(default_factory=SecretKeys)


class Credentials(_Spec):
    secret_ref: SecretRef


class Scope(_Spec):
    projects: tuple[Annotated[str, Field(min_length=1, max_length=255, pattern=JIRA_PROJECT)], ...] | None = (
        Field(default=None, max_length=500)
    )
    boards: tuple[Annotated[int, Field(ge=1)], ...] | None = Field(default=None, max_length=500)
    org: str | None = Field(default=None, min_length=1, max_length=39, pattern=GITHUB_ORG)
    repos: tuple[Annotated[str, Field(min_length=1, max_length=140, pattern=GITHUB_REPO)], ...] | None = (
        Field(default=None, max_length=1000)
    )

    @field_validator("projects", "boards", "repos")
    @classmethod
    def _unique(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("entries must be unique")
        return value


class Budget(_Spec):
    requests_per_hour: int = Field(default=5000, ge=1, le=1_000_000)


class IntegrationSpec(_Spec):
    type: IntegrationType
    base_url: str = Field(max_length=2048, pattern=BASE_URL)
    auth: AuthStyle | None = None
    credentials: Credentials
    scope: Scope
    budget: Budget = Field(default_factory=Budget)

    @model_validator(mode="after")
    def _scope_and_auth_match_type(self) -> IntegrationSpec:
        source = get_source(self.type)
        given = [name for name in Scope.model_fields if getattr(self.scope, name) is not None]
        foreign = [name for name in given if name not in source.scope.fields]
        if foreign:
            raise ValueError(
                f"a {source.type} integration takes scope.{'/'.join(source.scope.fields)}, "
                f"not scope.{'/'.join(foreign)}"
            )
        wanted = source.scope.required_any
        if wanted and not any(name in given for name in wanted):
            needs = " or ".join(f"scope.{n}" for n in wanted)
            raise ValueError(f"a {source.type} integration needs {needs}")
        # `auth` chooses between styles, so a source with one style takes none (as the CRD's CEL rule).
        if self.auth is not None and (len(source.auth_styles) < 2 or self.auth not in source.auth_styles):
            takers = [t for t, s in SOURCES.items() if self.auth in s.auth_styles and len(s.auth_styles) > 1]
            raise ValueError(f"auth applies to {'/'.join(takers)} integrations only")
        return self

    @property
    def auth_style(self) -> AuthStyle:
        """The effective auth: the one asked for, else the source's default."""
        return self.auth or get_source(self.type).default_auth


class IntegrationStatus(_Status):
    phase: IntegrationPhase | None = None
    conditions: tuple[Condition, ...] = Field(default=(), max_length=16)
    last_check_time: datetime | None = None
    observed_generation: int | None = Field(default=None, ge=0)


# --- EtlJob -------------------------------------------------------------------------------------


class RetryPolicy(_Spec):
    max_attempts: int = Field(default=3, ge=1, le=20)
    backoff_seconds: int = Field(default=30, ge=1, le=86400)
    max_backoff_seconds: int = Field(default=3600, ge=1, le=86400)

    def backoff(self, failed_attempt: int) -> int:
        """Seconds to wait after attempt `failed_attempt` (1-based) failed: doubling, capped."""
        exponent = min(max(failed_attempt - 1, 0), 30)
        return int(min(self.backoff_seconds * 2**exponent, self.max_backoff_seconds))


class ResourceList(_Spec):
    cpu: Quantity | None = None
    memory: Quantity | None = None


class ResourceRequirements(_Spec):
    requests: ResourceList | None = None
    limits: ResourceList | None = None


class ExtractSettings(_Spec):
    resources: ResourceRequirements | None = None


class WorkerPoolSettings(_Spec):
    min_replicas: int = Field(default=0, ge=0, le=100)
    max_replicas: int = Field(default=4, ge=1, le=100)
    target_per_replica: int = Field(default=100, ge=1, le=1_000_000)
    activation: int = Field(default=0, ge=0, le=1_000_000)
    cooldown_seconds: int = Field(default=300, ge=0, le=86400)
    polling_seconds: int = Field(default=15, ge=1, le=3600)
    stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    failure_threshold: int = Field(default=3, ge=1, le=100)
    fallback_replicas: int = Field(default=1, ge=0, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> WorkerPoolSettings:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must not exceed maxReplicas")
        if self.fallback_replicas > self.max_replicas:
            raise ValueError("fallbackReplicas must not exceed maxReplicas")
        return self


class WorkerPools(_Spec):
    transform: WorkerPoolSettings = Field(default_factory=WorkerPoolSettings)
    load: WorkerPoolSettings = Field(default_factory=WorkerPoolSettings)


class EtlJobSpec(_Spec):
    integration_ref: ObjectRef
    entities: tuple[Entity, ...] = Field(min_length=1, max_length=len(Entity))
    mode: JobMode = JobMode.INCREMENTAL
    schedule: str | None = Field(default=None, min_length=9, max_length=128, pattern=CRON)
    suspend: bool = False
    run_request: Token | None = None
    retransform: Token | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    workers: WorkerPools = Field(default_factory=WorkerPools)

    @field_validator("entities")
    @classmethod
    def _unique_entities(cls, value: tuple[Entity, ...]) -> tuple[Entity, ...]:
        if len(set(value)) != len(value):
            raise ValueError("entities must be unique")
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    def entities_outside(self, integration_type: IntegrationType) -> tuple[str, ...]:
        """Entities this integration type cannot extract (the CRD cannot check across objects)."""
        allowed = get_source(integration_type).entities
        return tuple(e.value for e in self.entities if e.value not in allowed)


class EntityCounts(_Status):
    extracted: int = Field(default=0, ge=0)
    transformed: int = Field(default=0, ge=0)
    loaded: int = Field(default=0, ge=0)


def progress_text(counts: dict[str, EntityCounts]) -> str:
    """The short progress string of the printer column, e.g. `1200/1500 loaded`."""
    extracted = sum(c.extracted for c in counts.values())
    loaded = sum(c.loaded for c in counts.values())
    if extracted == 0:
        return ""
    percent = math.floor(100 * min(loaded, extracted) / extracted)
    return f"{loaded}/{extracted} loaded ({percent}%)"


class WorkerStatus(_Status):
    replicas: int | None = Field(default=None, ge=0)
    desired: int | None = Field(default=None, ge=0)
    queue_depth: int | None = Field(default=None, ge=0)
    reason: str | None = Field(default=None, max_length=1024)
    last_active_time: datetime | None = None


class WorkersStatus(_Status):
    transform: WorkerStatus | None = None
    load: WorkerStatus | None = None


class EtlJobStatus(_Status):
    phase: JobPhase | None = None
    conditions: tuple[Condition, ...] = Field(default=(), max_length=16)
    observed_generation: int | None = Field(default=None, ge=0)
    current_run: str | None = Field(default=None, max_length=253)
    attempt: int | None = Field(default=None, ge=0)
    counts: dict[str, EntityCounts] = Field(default_factory=dict)
    progress: str | None = Field(default=None, max_length=128)
    message: str | None = Field(default=None, max_length=32768)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_successful_run: str | None = Field(default=None, max_length=253)
    last_successful_time: datetime | None = None
    last_schedule_time: datetime | None = None
    next_schedule_time: datetime | None = None
    last_run_request: str | None = Field(default=None, max_length=253)
    last_retransform: str | None = Field(default=None, max_length=253)
    workers: WorkersStatus | None = None


# --- whole manifests ----------------------------------------------------------------------------


class IntegrationResource(_Model):
    api_version: Literal["quarry.dev/v1alpha1"] = "quarry.dev/v1alpha1"
    kind: Literal["Integration"] = "Integration"
    metadata: ObjectMeta
    spec: IntegrationSpec
    status: IntegrationStatus | None = None


class EtlJobResource(_Model):
    api_version: Literal["quarry.dev/v1alpha1"] = "quarry.dev/v1alpha1"
    kind: Literal["EtlJob"] = "EtlJob"
    metadata: ObjectMeta
    spec: EtlJobSpec
    status: EtlJobStatus | None = None


class SecretManifest(_Spec):
    """A v1 Secret as written in a manifest: `data` is base64, `stringData` plain text."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["Secret"] = "Secret"
    metadata: ObjectMeta
    type: str = "Opaque"
    immutable: bool | None = None
    data: dict[SecretKeyName, str] = Field(default_factory=dict)
    string_data: dict[SecretKeyName, str] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _base64(cls, value: dict[str, str]) -> dict[str, str]:
        for key, encoded in value.items():
            try:
                base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"data.{key} is not valid base64") from None
        return value

    def values(self) -> dict[str, str]:
        """The decoded key/value pairs; stringData wins over data, as on the API server."""
        decoded = {k: base64.b64decode(v).decode("utf-8") for k, v in self.data.items()}
        return {**decoded, **self.string_data}


Manifest = IntegrationResource | EtlJobResource | SecretManifest
