"""Integrations and jobs as the API shows and takes them (credentials are write-only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from quarry_backend.schemas.base import ApiModel, Name, OutModel
from quarry_core.resources import (
    BASE_URL,
    CRON,
    Budget,
    Credentials,
    Entity,
    EtlJobSpec,
    IntegrationSpec,
    IntegrationType,
    JobMode,
    ObjectRef,
    RetryPolicy,
    Scope,
    SecretRef,
)
from quarry_core.sources import AuthStyle


def _check(build: Callable[[], object]) -> None:
    try:
        build()
    except ValidationError as exc:
        raise ValueError(
            "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        ) from None


def credentials_secret(integration: str) -> str:
    return f"{integration}-credentials"


class CredentialsIn(ApiModel):
    email: str | None = Field(
        default=None,
        max_length=320,
        description="Jira basic auth: the account's email.",
        examples=["bot@acme.io"],
    )
    token: SecretStr = Field(min_length=1, max_length=4096, description="API token or personal access token.")


class IntegrationFields(ApiModel):
    type: IntegrationType
    base_url: str = Field(max_length=2048, pattern=BASE_URL, examples=["https://acme.atlassian.net"])
    auth: AuthStyle | None = None
    scope: Scope
    budget: Budget = Field(default_factory=Budget)
    credentials: CredentialsIn | None = Field(
        default=None, description="Write-only; omit on update to keep the stored credentials."
    )

    def spec(self, name: str) -> IntegrationSpec:
        return IntegrationSpec(
            type=self.type,
            base_url=self.base_url,
            auth=self.auth,
            credentials=Credentials(secret_ref=SecretRef(name=credentials_secret(name))),
            scope=self.scope,
            budget=self.budget,
        )

    def secret_values(self) -> dict[str, str] | None:
        if self.credentials is None:
            return None
        values = {"token": self.credentials.token.get_secret_value()}
        if self.credentials.email:
            values["email"] = self.credentials.email
        return values

    @model_validator(mode="after")
    def _consistent(self) -> IntegrationFields:
        # The cross-field rules of the CRD (scope vs type, auth) hold for the API too.
        _check(lambda: self.spec("check"))
        needs_email = self.spec("check").auth_style == AuthStyle.BASIC
        if self.credentials is not None and needs_email and not self.credentials.email:
            raise ValueError("credentials.email is required for jira basic auth")
        return self


_JIRA_EXAMPLE: dict[str, Any] = {
    "type": "jira",
    "baseUrl": "https://acme.atlassian.net",
    "scope": {"projects": ["ENG"]},
    "budget": {"requestsPerHour": 10000},
    "credentials": {"email": "bot@acme.io", "token": "jira-api-token"},
}


class IntegrationIn(IntegrationFields):
    name: Name
    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {"examples": [{"name": "acme-jira", **_JIRA_EXAMPLE}]},
    }

    @model_validator(mode="after")
    def _needs_credentials(self) -> IntegrationIn:
        if self.credentials is None:
            raise ValueError("credentials are required when creating an integration")
        return self


class IntegrationUpdate(IntegrationFields):
    model_config = {**ApiModel.model_config, "json_schema_extra": {"examples": [_JIRA_EXAMPLE]}}


class CredentialsOut(OutModel):
    secret_name: str
    set: bool = Field(description="Whether credentials are stored; their values are never returned.")


class ConditionOut(OutModel):
    type: str
    status: str
    reason: str
    message: str = ""
    last_transition_time: datetime | None = None


class IntegrationOut(OutModel):
    name: str
    type: IntegrationType
    base_url: str
    auth: AuthStyle | None = None
    scope: dict[str, Any]
    budget: dict[str, Any]
    credentials: CredentialsOut
    phase: str | None = None
    conditions: list[ConditionOut] = []
    last_check_time: datetime | None = None
    generation: int
    created_at: datetime
    updated_at: datetime


class CheckOut(OutModel):
    ready: bool
    reason: str
    message: str


class JobFields(ApiModel):
    integration: Name = Field(description="The integration (in the same tenant) this job extracts from.")
    entities: list[Entity] = Field(min_length=1, max_length=len(Entity))
    mode: JobMode = JobMode.INCREMENTAL
    schedule: str | None = Field(
        default=None, min_length=9, max_length=128, pattern=CRON, examples=["*/30 * * * *"]
    )
    suspend: bool = False
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        # The spec's own check, run here too so that the 422 names the field instead of the body.
        return EtlJobSpec._valid_cron(value)

    def spec(self, keep: dict[str, Any] | None = None) -> EtlJobSpec:
        spec = EtlJobSpec(
            integration_ref=ObjectRef(name=self.integration),
            entities=tuple(self.entities),
            mode=self.mode,
            schedule=self.schedule,
            suspend=self.suspend,
            retry=self.retry,
        )
        if keep:
            # Pool and extract settings are not edited here; an update keeps them.
            spec = EtlJobSpec.model_validate({**keep, **spec.to_document()})
        return spec

    @model_validator(mode="after")
    def _valid(self) -> JobFields:
        _check(self.spec)
        return self


_JOB_EXAMPLE: dict[str, Any] = {
    "integration": "acme-jira",
    "entities": ["projects", "issues", "sprints"],
    "mode": "incremental",
    "schedule": "*/30 * * * *",
}


class JobIn(JobFields):
    name: Name = Field(examples=["acme-jira-sync"])
    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {"examples": [{"name": "acme-jira-sync", **_JOB_EXAMPLE}]},
    }


class JobUpdate(JobFields):
    model_config = {**ApiModel.model_config, "json_schema_extra": {"examples": [_JOB_EXAMPLE]}}


class EntityCountsOut(OutModel):
    pages: int = 0
    extracted: int = 0
    transformed: int = 0
    loaded: int = 0
    failed: int = 0


class JobOut(OutModel):
    name: str
    integration: str
    entities: list[str]
    mode: str
    schedule: str | None = None
    suspend: bool = False
    phase: str | None = None
    message: str | None = None
    progress: str | None = None
    current_run_id: int | None = None
    last_successful_run_id: int | None = None
    last_successful_time: datetime | None = None
    next_schedule_time: datetime | None = None
    conditions: list[ConditionOut] = []
    generation: int
    created_at: datetime
    updated_at: datetime


class ActionOut(OutModel):
    job: str
    action: str
    token: str | None = Field(default=None, description="The request token the controller answers.")
    cancelled_run_ids: list[int] = []
