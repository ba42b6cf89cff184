from __future__ import annotations

from datetime import datetime

from pydantic import Field

from quarry_backend.schemas.base import OutModel
from quarry_backend.schemas.resources import EntityCountsOut


class RunOut(OutModel):
    id: int
    job: str
    phase: str
    mode: str
    trigger: str
    entities: list[str]
    attempt: int
    max_attempts: int
    retransform_of: int | None = None
    error: str | None = None
    waiting_reason: str | None = Field(default=None, description="Why the run waits, e.g. a rate limit.")
    waiting_until: datetime | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    extract_finished_at: datetime | None = None
    duration_seconds: float | None = None
    counts: dict[str, EntityCountsOut] = {}
    dead_letters: int = 0


class RawPageOut(OutModel):
    id: int
    run_id: int
    entity: str
    stream: str
    page_seq: int
    method: str
    url: str
    params: dict[str, object]
    status: int
    item_count: int
    fetched_at: datetime
    transformed_at: datetime | None = None


class RawPageFullOut(RawPageOut):
    response: object = Field(description="The complete API response as stored.")
