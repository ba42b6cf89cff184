from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from quarry_backend.schemas.base import OutModel
from quarry_backend.schemas.runs import RawPageOut


class WorkItemOut(OutModel):
    id: int
    integration_id: int
    key: str
    project_key: str | None = None
    title: str | None = None
    source_type: str | None = None
    type: str | None = None
    hierarchy_level: int | None = None
    parent_key: str | None = None
    source_status: str | None = None
    status: str | None = None
    workflow_step: str | None = None
    assignee_id: str | None = None
    priority: str | None = None
    story_points: float | None = None
    labels: list[Any] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    lead_time_seconds: float | None = None
    cycle_time_seconds: float | None = None
    raw_id: int | None = None


class PullRequestOut(OutModel):
    id: int
    integration_id: int
    repository: str
    number: int
    title: str | None = None
    state: str | None = None
    is_draft: bool | None = None
    author_id: str | None = None
    head_ref: str | None = None
    base_ref: str | None = None
    additions: int | None = None
    deletions: int | None = None
    changed_files: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    raw_id: int | None = None


class LineageRun(OutModel):
    id: int
    job: str
    phase: str
    trigger: str


class LineageOut(OutModel):
    table: str
    row_id: int
    natural_key: dict[str, Any]
    loaded_at: datetime
    raw_page: RawPageOut | None = Field(default=None, description="Absent once raw-data retention pruned it.")
    run: LineageRun | None = None


class FlowWeek(OutModel):
    week: date = Field(description="Monday of the ISO week (UTC).")
    throughput: int = Field(description="Work items resolved that week.")
    cycle_time_p50_seconds: float | None = None
    cycle_time_avg_seconds: float | None = None
    lead_time_p50_seconds: float | None = None
    lead_time_avg_seconds: float | None = None


class FlowOut(OutModel):
    weeks: list[FlowWeek]
    projects: list[str] = Field(default_factory=list, description="Project keys to filter by (all seen).")
    types: list[str] = Field(default_factory=list, description="Standard types to filter by (all seen).")
