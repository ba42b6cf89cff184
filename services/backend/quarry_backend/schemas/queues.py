from __future__ import annotations

from datetime import datetime

from pydantic import Field

from quarry_backend.schemas.base import OutModel


class QueueOut(OutModel):
    stage: str
    queue: str
    ready: int
    unacked: int
    delayed: int
    dead: int = Field(description="Dead letters of the stage (all tenants).")
    consumers: int | None = Field(
        default=None,
        description="Worker processes (pods) consuming the stage, as the scaler last recorded it in the "
        "tenant's jobs; null when none of them has a record.",
    )


class WorkerPoolOut(OutModel):
    job: str
    stage: str
    replicas: int | None = None
    desired: int | None = None
    queue_depth: int | None = None
    reason: str | None = Field(default=None, description="The scaler's last decision, as recorded.")


class QueuesOut(OutModel):
    backend: str
    queues: list[QueueOut]
    workers: list[WorkerPoolOut]


class DeadLetterOut(OutModel):
    id: int
    stage: str
    queue: str
    message_id: str
    error: str
    attempts: int
    run_id: int | None = None
    created_at: datetime


class QueuedDeadLetterOut(OutModel):
    """A dead letter in the queue backend's dead-letter queue (RabbitMQ's, or PostgreSQL's)."""

    message_id: str
    stage: str
    queue: str
    error: str
    attempts: int
    run_id: int | None = None
