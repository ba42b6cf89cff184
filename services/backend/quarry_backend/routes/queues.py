"""Queue depths per stage, the scaler's recorded decisions, and the tenant's dead letters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from quarry_backend.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep, allow
from quarry_backend.errors import READ, UNAVAILABLE, WRITE_ONE
from quarry_backend.schemas.queues import (
    DeadLetterOut,
    QueuedDeadLetterOut,
    QueueOut,
    QueuesOut,
    WorkerPoolOut,
)
from quarry_core import store
from quarry_core.db.models import DeadLetter
from quarry_core.queue.base import STAGES, DeadLetterRecord, peek_tenant_and_run
from quarry_core.queue.factory import open_queue
from quarry_core.states import Stage

router = APIRouter(tags=["queues"])


def _stage(queue: str) -> str:
    parts = queue.split(".")
    return parts[-2] if len(parts) >= 3 else queue


@router.get(
    "/queues",
    response_model=QueuesOut,
    responses={**READ, **UNAVAILABLE},
    summary="Depth of every stage's queue",
)
def queues(session: ReadSessionDep, settings: SettingsDep, principal: CurrentUser) -> QueuesOut:
    try:
        with open_queue(settings) as queue:
            depths = [(stage, queue.depth(stage)) for stage in STAGES]
    except Exception as exc:
        raise HTTPException(503, f"the queue is unavailable ({type(exc).__name__})") from None
    workers = []
    for job in store.list_jobs(session, principal.tenant):
        for stage, pool in ((job.status or {}).get("workers") or {}).items():
            workers.append(WorkerPoolOut.model_validate({**pool, "job": job.name, "stage": stage}))
    # Workers poll (basic_get), so the broker's own consumer count is always 0; the pools are shared
    # by all jobs, so every job records the same replicas for a stage.
    consumers: dict[str, int] = {}
    for pool in workers:
        if pool.replicas is not None:
            consumers[pool.stage] = max(consumers.get(pool.stage, 0), pool.replicas)
    return QueuesOut(
        backend="rabbitmq" if settings.amqp_url else "postgresql",
        queues=[
            QueueOut(
                stage=stage.value,
                queue=d.queue,
                ready=d.ready,
                unacked=d.unacked,
                delayed=d.delayed,
                dead=d.dead,
                consumers=consumers.get(stage.value),
            )
            for stage, d in depths
        ],
        workers=workers,
    )


def _out(row: DeadLetter) -> DeadLetterOut:
    return DeadLetterOut(
        id=row.id,
        stage=_stage(row.queue),
        queue=row.queue,
        message_id=row.message_id,
        error=row.error,
        attempts=row.attempts,
        run_id=row.run_id,
        created_at=row.created_at,
    )


@router.get(
    "/dead-letters",
    response_model=list[DeadLetterOut],
    responses=READ,
    summary="The tenant's dead letters with their errors",
)
def dead_letters(
    session: ReadSessionDep,
    principal: CurrentUser,
    stage: Stage | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeadLetterOut]:
    query = (
        select(DeadLetter).where(DeadLetter.tenant == principal.tenant).order_by(DeadLetter.id).limit(limit)
    )
    if stage is not None:
        query = query.where(DeadLetter.queue.like(f"%.{stage.value}.dlq"))
    return [_out(r) for r in session.scalars(query)]


def _letter(session: Session, tenant: str, letter_id: int) -> DeadLetter:
    row = session.scalar(
        select(DeadLetter).where(DeadLetter.id == letter_id, DeadLetter.tenant == tenant).with_for_update()
    )
    if row is None:
        raise HTTPException(404, f"dead letter {letter_id} not found")
    return row


@router.post(
    "/dead-letters/{letter_id}/replay",
    response_model=DeadLetterOut,
    responses={**WRITE_ONE, **UNAVAILABLE},
    summary="Put a dead letter back on its stage's queue",
    **allow("editor"),
)
def replay_dead_letter(
    letter_id: int, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> DeadLetterOut:
    row = _letter(session, principal.tenant, letter_id)
    out = _out(row)
    try:
        stage = Stage(out.stage)
    except ValueError:
        raise HTTPException(409, f"dead letter {letter_id} names no known stage") from None
    # Published before the row goes: a crash in between replays twice, and every write is an upsert.
    with open_queue(settings) as queue:
        queue.publish(stage, bytes(row.body), message_id=row.message_id, headers=dict(row.headers or {}))
    session.delete(row)
    session.commit()
    return out


@router.delete(
    "/dead-letters/{letter_id}",
    status_code=204,
    responses=WRITE_ONE,
    summary="Discard a dead letter",
    **allow("editor"),
)
def discard_dead_letter(letter_id: int, session: SessionDep, principal: CurrentUser) -> Response:
    session.delete(_letter(session, principal.tenant, letter_id))
    session.commit()
    return Response(status_code=204)


# --- the queue backend's own dead-letter queues (RabbitMQ on Kubernetes) -------------------------

SCAN = 1000  # dead letters read per listing: other tenants' letters share the queue
MessageId = Annotated[str, Path(min_length=1, max_length=200)]
StageQuery = Annotated[Stage | None, Query(description="Only this stage's dead-letter queue.")]


def _queued_out(stage: Stage, record: DeadLetterRecord) -> QueuedDeadLetterOut:
    return QueuedDeadLetterOut(
        message_id=record.message_id,
        stage=stage.value,
        queue=record.queue,
        error=record.error,
        attempts=record.attempts,
        run_id=peek_tenant_and_run(record.body)[1],
    )


@router.get(
    "/queues/dead-letters",
    response_model=list[QueuedDeadLetterOut],
    responses={**READ, **UNAVAILABLE},
    summary="The tenant's dead letters in the queue backend's dead-letter queues",
)
def queued_dead_letters(
    settings: SettingsDep,
    principal: CurrentUser,
    stage: StageQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[QueuedDeadLetterOut]:
    out = []
    try:
        with open_queue(settings) as queue:
            for each in (stage,) if stage else STAGES:
                records = queue.dead_letters(each, limit=SCAN)
                out += [_queued_out(each, r) for r in records if _owner(r) == principal.tenant]
    except Exception as exc:
        raise HTTPException(503, f"the queue is unavailable ({type(exc).__name__})") from None
    return out[:limit]


def _owner(record: DeadLetterRecord) -> str | None:
    return peek_tenant_and_run(record.body)[0]


def _take(
    settings: SettingsDep, stage: Stage | None, message_id: str, tenant: str, replay: bool
) -> tuple[Stage, DeadLetterRecord]:
    try:
        with open_queue(settings) as queue:
            for each in (stage,) if stage else STAGES:
                record = queue.take_dead_letter(each, message_id, tenant, replay=replay)
                if record is not None:
                    return each, record
    except Exception as exc:
        raise HTTPException(503, f"the queue is unavailable ({type(exc).__name__})") from None
    raise HTTPException(404, f"dead letter {message_id} not found")


@router.post(
    "/queues/dead-letters/{message_id}/replay",
    response_model=QueuedDeadLetterOut,
    responses={**WRITE_ONE, **UNAVAILABLE},
    summary="Put a dead letter of a dead-letter queue back on its stage's queue, with fresh attempts",
    **allow("editor"),
)
def replay_queued_dead_letter(
    message_id: MessageId, settings: SettingsDep, principal: CurrentUser, stage: StageQuery = None
) -> QueuedDeadLetterOut:
    return _queued_out(*_take(settings, stage, message_id, principal.tenant, replay=True))


@router.delete(
    "/queues/dead-letters/{message_id}",
    status_code=204,
    responses={**WRITE_ONE, **UNAVAILABLE},
    summary="Discard a dead letter of a dead-letter queue",
    **allow("editor"),
)
def discard_queued_dead_letter(
    message_id: MessageId, settings: SettingsDep, principal: CurrentUser, stage: StageQuery = None
) -> Response:
    _take(settings, stage, message_id, principal.tenant, replay=False)
    return Response(status_code=204)
