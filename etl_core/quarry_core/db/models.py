"""The database schema: tenancy, resources, runs, raw pages, mappings and the final tables.

Every row carries its tenant (the Kubernetes namespace). Every final table has a unique
constraint on its natural key, so each load is an idempotent upsert, and keeps `raw_id`, the raw
page it came from (lineage).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from quarry_core.sources import SOURCES
from quarry_core.tables import FINAL_TABLES as FINAL_TABLES

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_PHASES = "'Pending','Running','Paused','Succeeded','Failed','Cancelled'"
STANDARD_STATUSES = "'To Do','In Progress','Done'"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB, datetime: DateTime(timezone=True)}


def tenant_key(table: str, column: str, parent: str) -> ForeignKeyConstraint:
    """(column, tenant) -> parent (id, tenant): a row cannot name another tenant's parent."""
    return ForeignKeyConstraint(
        [column, "tenant"],
        [f"{parent}.id", f"{parent}.tenant"],
        name=f"fk_{table}_{column}_tenant",
        ondelete="CASCADE",
        onupdate="CASCADE",
    )


def tenant_column() -> Mapped[str]:
    return mapped_column(
        String(63), ForeignKey("tenants.name", ondelete="CASCADE", onupdate="CASCADE"), index=True
    )


def owner_key(table: str) -> ForeignKeyConstraint:
    """A final row's (integration_id, tenant) names an integration of that same tenant.

    One key check a loaded row instead of one for the tenant and one for the integration, and no
    row can pair one tenant with another's integration. Deleting or renaming the tenant reaches the
    row through its integration; the unique key (tenant, integration_id, ...) serves the cascade, so
    neither column needs an index of its own."""
    return tenant_key(table, "integration_id", "integrations")


def integration_column() -> Mapped[int]:
    return mapped_column(BigInteger, ForeignKey("integrations.id", ondelete="CASCADE"), index=True)


def raw_column() -> Mapped[int | None]:
    # Lineage survives raw-data retention: the raw page may be pruned, the final row stays.
    return mapped_column(BigInteger, ForeignKey("raw_extraction_data.id", ondelete="SET NULL"), nullable=True)


def created_column() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


def updated_column() -> Mapped[datetime]:
    return mapped_column(server_default=func.now(), onupdate=func.now())


# --- tenancy and access -------------------------------------------------------------------


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'", name="dns_label"),)

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant", "email"),
        CheckConstraint("role in ('admin','editor','viewer')", name="role"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # May act in every tenant (as an admin of it); set only by `quarry admin create-user`.
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Theme, time zone, default tenant: validated by the API, opaque to the database.
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = created_column()


class RefreshToken(Base):
    """A refresh token, stored as its SHA-256; each use rotates it (the old one is revoked)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """Every login attempt, so limits hold across API processes (per account and per client)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_attempted_at", "email", "attempted_at"),
        Index("ix_login_attempts_client_attempted_at", "client", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The tenant of the account when one matched; an attempt may name no account at all.
    tenant: Mapped[str | None] = mapped_column(String(63))
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = created_column()


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("prefix"),
        CheckConstraint("role in ('admin','editor','viewer')", name="role"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    created_at: Mapped[datetime] = created_column()
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Secret(Base):
    """A `v1` Secret applied locally; `data` is the encrypted JSON of its key/value pairs."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(253))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


# --- resources (the local-mode store; on Kubernetes a mirror of the custom resources) --------


class Integration(Base):
    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint("tenant", "name"),
        UniqueConstraint("id", "tenant"),
        CheckConstraint(f"type in ({','.join(repr(t) for t in SOURCES)})", name="type"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(253))
    uid: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[dict[str, Any]] = mapped_column(default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    resource_version: Mapped[int] = mapped_column(BigInteger, default=1)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class EtlJob(Base):
    __tablename__ = "etl_jobs"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(253))
    uid: Mapped[str] = mapped_column(String(36))
    integration_name: Mapped[str] = mapped_column(String(253))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[dict[str, Any]] = mapped_column(default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    resource_version: Mapped[int] = mapped_column(BigInteger, default=1)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


# --- runs ---------------------------------------------------------------------------------


class EtlRun(Base):
    __tablename__ = "etl_runs"
    __table_args__ = (
        # A run, its pages, counters and load batches belong to one tenant (row-level security).
        UniqueConstraint("id", "tenant"),
        tenant_key("etl_runs", "integration_id", "integrations"),
        CheckConstraint(f"phase in ({RUN_PHASES})", name="phase"),
        CheckConstraint("mode in ('full','incremental')", name="mode"),
        CheckConstraint("attempt >= 1", name="attempt"),
        Index("ix_etl_runs_job_id_created_at", "job_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("etl_jobs.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[int] = integration_column()
    phase: Mapped[str] = mapped_column(String(16), default="Pending", index=True)
    mode: Mapped[str] = mapped_column(String(16), default="incremental")
    trigger: Mapped[str] = mapped_column(String(32), default="manual")
    entities: Mapped[list[Any]] = mapped_column(default=list)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retransform_of: Mapped[int | None] = mapped_column(BigInteger)
    # The runRequest/retransform token and the spec fingerprint the run answered (reconcile core).
    token: Mapped[str | None] = mapped_column(String(253))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    # A failed attempt not yet settled by the controller (retry or fail).
    attempt_error: Mapped[str | None] = mapped_column(Text)
    attempt_ended_at: Mapped[datetime | None]
    waiting_reason: Mapped[str | None] = mapped_column(Text)
    waiting_until: Mapped[datetime | None]
    # Per-stream resume points written after every stored page (crash resume).
    checkpoint: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Cursors this run would commit; copied into sync_cursors only when the run succeeds.
    candidate_cursors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extract_finished_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class EtlRunCounter(Base):
    """Per-entity progress of a run; stages add to it with atomic increments."""

    __tablename__ = "etl_run_counters"
    __table_args__ = (
        UniqueConstraint("run_id", "entity"),
        tenant_key("etl_run_counters", "run_id", "etl_runs"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("etl_runs.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(BigInteger, default=0)
    extracted: Mapped[int] = mapped_column(BigInteger, default=0)
    transformed: Mapped[int] = mapped_column(BigInteger, default=0)
    loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncCursor(Base):
    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("integration_id", "scope", "entity"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    integration_id: Mapped[int] = integration_column()
    scope: Mapped[str] = mapped_column(String(255))
    entity: Mapped[str] = mapped_column(String(64))
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("etl_runs.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = updated_column()


class RequestBudgetGrant(Base):
    """Requests an extract process reserved against its integration's hourly budget.

    The budget is a sliding window over these rows, so two extract processes of one integration
    share it; grants are taken in small blocks under an advisory lock.
    """

    __tablename__ = "request_budget_grants"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    integration_id: Mapped[int] = integration_column()
    granted_at: Mapped[datetime] = created_column()
    requests: Mapped[int] = mapped_column(Integer)


class RawExtractionData(Base):
    """One row per API response page, stored before anything else happens to it."""

    __tablename__ = "raw_extraction_data"
    __table_args__ = (
        UniqueConstraint("id", "tenant"),
        tenant_key("raw_extraction_data", "run_id", "etl_runs"),
        tenant_key("raw_extraction_data", "integration_id", "integrations"),
        # (run, stream, page) is the checkpoint key: a resumed extract cannot store a page twice.
        UniqueConstraint("run_id", "stream", "page_seq"),
        Index("ix_raw_extraction_data_untransformed", "run_id", postgresql_where="transformed_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    integration_id: Mapped[int] = integration_column()
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("etl_runs.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(255))
    page_seq: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8), default="GET")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[int] = mapped_column(Integer)
    # json, not jsonb: written once, read whole (see migration 0005_raw_json).
    response: Mapped[Any] = mapped_column(JSON)
    # Set only when PostgreSQL could not read the body (NUL, a lone UTF-16 surrogate): `response`
    # then holds the sanitised page, these the bytes as received and {"nul": n, "lone_surrogate": n}.
    response_received: Mapped[bytes | None] = mapped_column(LargeBinary)
    substitutions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[datetime] = created_column()
    transformed_at: Mapped[datetime | None]
    load_batches: Mapped[int | None] = mapped_column(Integer)
    # The re-transform run replaying this page, if any (its completion counts this page).
    replay_run_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


class LoadBatch(Base):
    """A load message published for a raw page; `loaded_at` is set when its upsert commits."""

    __tablename__ = "load_batches"
    __table_args__ = (
        tenant_key("load_batches", "run_id", "etl_runs"),
        tenant_key("load_batches", "raw_id", "raw_extraction_data"),
        UniqueConstraint("raw_id", "seq"),
        Index("ix_load_batches_pending", "run_id", postgresql_where="loaded_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    run_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("etl_runs.id", ondelete="CASCADE"))
    raw_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("raw_extraction_data.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer, default=0)
    loaded_at: Mapped[datetime | None]


# --- mappings -----------------------------------------------------------------------------


class WitMapping(Base):
    """Source work item type (e.g. Jira "Story") to a standard type (e.g. "Story")."""

    __tablename__ = "wit_mappings"
    __table_args__ = (UniqueConstraint("tenant", "source_type"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    source_type: Mapped[str] = mapped_column(String(255))
    standard_type: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = updated_column()


class WitHierarchy(Base):
    __tablename__ = "wit_hierarchies"
    __table_args__ = (UniqueConstraint("tenant", "standard_type"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    standard_type: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class StatusMapping(Base):
    """Source status to a standard status, per standard work item type ('*' for any type)."""

    __tablename__ = "status_mappings"
    __table_args__ = (
        UniqueConstraint("tenant", "work_item_type", "source_status"),
        CheckConstraint(f"standard_status in ({STANDARD_STATUSES})", name="standard_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    work_item_type: Mapped[str] = mapped_column(String(64), default="*")
    source_status: Mapped[str] = mapped_column(String(255))
    standard_status: Mapped[str] = mapped_column(String(16))
    workflow_step: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = updated_column()


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(100))
    work_item_type: Mapped[str] = mapped_column(String(64), default="*")
    updated_at: Mapped[datetime] = updated_column()


class WorkflowStep(Base):
    __tablename__ = "workflow_steps"
    __table_args__ = (
        UniqueConstraint("workflow_id", "position"),
        UniqueConstraint("workflow_id", "name"),
        CheckConstraint(f"standard_status in ({STANDARD_STATUSES})", name="standard_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    workflow_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("workflows.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    standard_status: Mapped[str] = mapped_column(String(16))
    is_commitment_point: Mapped[bool] = mapped_column(Boolean, default=False)
    is_delivery_point: Mapped[bool] = mapped_column(Boolean, default=False)


# --- final tables (the interface dashboards and BI tools query) -----------------------------


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        owner_key("projects"),
        UniqueConstraint("tenant", "integration_id", "source_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[str] = mapped_column(String(255))
    key: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(Text)
    project_type: Mapped[str | None] = mapped_column(String(64))
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (
        owner_key("people"),
        UniqueConstraint("tenant", "integration_id", "source_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[str] = mapped_column(String(255))
    login: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


class WorkItem(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        owner_key("work_items"),
        UniqueConstraint("tenant", "integration_id", "source_id"),
        Index("ix_work_items_tenant_key", "tenant", "key"),
        Index("ix_work_items_embed_pending", "id", postgresql_where="embedded_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    project_key: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(64))
    hierarchy_level: Mapped[int | None] = mapped_column(Integer)
    parent_key: Mapped[str | None] = mapped_column(String(255))
    source_status: Mapped[str | None] = mapped_column(String(255))
    status_category: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(16))
    workflow_step: Mapped[str | None] = mapped_column(String(100))
    assignee_id: Mapped[str | None] = mapped_column(String(255))
    reporter_id: Mapped[str | None] = mapped_column(String(255))
    story_points: Mapped[float | None] = mapped_column(Float)
    sprint_ids: Mapped[list[Any]] = mapped_column(default=list)
    labels: Mapped[list[Any]] = mapped_column(default=list)
    priority: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    lead_time_seconds: Mapped[float | None] = mapped_column(Float)
    cycle_time_seconds: Mapped[float | None] = mapped_column(Float)
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()
    # NULL while its vector is missing or stale (a load that changes its text clears it).
    embedded_at: Mapped[datetime | None]


class WorkItemTransition(Base):
    __tablename__ = "work_item_transitions"
    __table_args__ = (
        owner_key("work_item_transitions"),
        UniqueConstraint("tenant", "integration_id", "work_item_source_id", "history_id", "item_seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    work_item_source_id: Mapped[str] = mapped_column(String(255))
    work_item_key: Mapped[str | None] = mapped_column(String(255))
    history_id: Mapped[str] = mapped_column(String(255))
    item_seq: Mapped[int] = mapped_column(Integer, default=0)
    from_source_status: Mapped[str | None] = mapped_column(String(255))
    to_source_status: Mapped[str | None] = mapped_column(String(255))
    # Jira status categories of the two statuses, kept so the load can re-map per work item type.
    from_status_category: Mapped[str | None] = mapped_column(String(32))
    to_status_category: Mapped[str | None] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_step: Mapped[str | None] = mapped_column(String(100))
    to_step: Mapped[str | None] = mapped_column(String(100))
    author_id: Mapped[str | None] = mapped_column(String(255))
    transitioned_at: Mapped[datetime]
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


class Sprint(Base):
    __tablename__ = "sprints"
    __table_args__ = (
        owner_key("sprints"),
        UniqueConstraint("tenant", "integration_id", "source_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[str] = mapped_column(String(255))
    board_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(32))
    goal: Mapped[str | None] = mapped_column(Text)
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (
        owner_key("repositories"),
        UniqueConstraint("tenant", "integration_id", "full_name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255))
    default_branch: Mapped[str | None] = mapped_column(String(255))
    is_private: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


class PullRequest(Base):
    __tablename__ = "pull_requests"
    __table_args__ = (
        owner_key("pull_requests"),
        UniqueConstraint("tenant", "integration_id", "repository", "number"),
        Index("ix_pull_requests_embed_pending", "id", postgresql_where="embedded_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(16))
    is_draft: Mapped[bool | None] = mapped_column(Boolean)
    author_id: Mapped[str | None] = mapped_column(String(255))
    merged_by_id: Mapped[str | None] = mapped_column(String(255))
    head_ref: Mapped[str | None] = mapped_column(String(255))
    base_ref: Mapped[str | None] = mapped_column(String(255))
    additions: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)
    changed_files: Mapped[int | None] = mapped_column(Integer)
    commits_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_at: Mapped[datetime | None]
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()
    # NULL while its vector is missing or stale (a load that changes its text clears it).
    embedded_at: Mapped[datetime | None]


class PullRequestReview(Base):
    __tablename__ = "pull_request_reviews"
    __table_args__ = (
        owner_key("pull_request_reviews"),
        UniqueConstraint("tenant", "integration_id", "source_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[str] = mapped_column(String(255))
    repository: Mapped[str] = mapped_column(String(255))
    pr_number: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


class Commit(Base):
    __tablename__ = "commits"
    __table_args__ = (
        owner_key("commits"),
        UniqueConstraint("tenant", "integration_id", "repository", "sha"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    sha: Mapped[str] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(Text)
    author_email: Mapped[str | None] = mapped_column(String(320))
    author_id: Mapped[str | None] = mapped_column(String(255))
    committer_id: Mapped[str | None] = mapped_column(String(255))
    authored_at: Mapped[datetime | None]
    committed_at: Mapped[datetime | None]
    additions: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


class PullRequestCommit(Base):
    __tablename__ = "pull_request_commits"
    __table_args__ = (
        owner_key("pull_request_commits"),
        UniqueConstraint("tenant", "integration_id", "repository", "pr_number", "sha"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    integration_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(255))
    pr_number: Mapped[int] = mapped_column(Integer)
    sha: Mapped[str] = mapped_column(String(64))
    raw_id: Mapped[int | None] = raw_column()
    loaded_at: Mapped[datetime] = updated_column()


# --- queue (PostgreSQL backend) and dead letters ---------------------------------------------


class QueueMessage(Base):
    __tablename__ = "queue_messages"
    __table_args__ = (Index("ix_queue_messages_ready", "queue", "available_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    queue: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(server_default=func.now())
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class DeadLetter(Base):
    """A message that could not be processed, with its error; the run it belonged to shows it."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_queue", "queue", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Nullable: a message that failed validation may name no tenant we can trust.
    tenant: Mapped[str | None] = mapped_column(String(63), index=True)
    queue: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = created_column()


class VectorDeletion(Base):
    """A work item or pull request a refresh deleted: the embed worker removes its vector."""

    __tablename__ = "vector_deletions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant: Mapped[str] = tenant_column()
    integration_id: Mapped[int] = integration_column()
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_column()
