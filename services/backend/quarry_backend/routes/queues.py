"""Queue depths per stage, the scaler's recorded decisions, and the tenant's dead letters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from quarry_backend.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep, allow
from quarry_backend.errors import READ, UNAVAILABLE, WRITE_ONE
from quarry_backend.schemas.queues import DeadLetterOut, QueueOut, QueuesOut, WorkerPoolOut
from quarry_core import store
from quarry_core.db.models import DeadLetter
from quarry_core.queue.base import STAGES
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
