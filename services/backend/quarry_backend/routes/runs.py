"""Runs of the caller's tenant: history with counts, durations, attempts, errors and waits; raw pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quarry_backend.deps import CurrentUser, ReadSessionDep
from quarry_backend.errors import READ, READ_ONE
from quarry_backend.schemas.base import Page
from quarry_backend.schemas.resources import EntityCountsOut
from quarry_backend.schemas.runs import RawPageFullOut, RawPageOut, RunOut
from quarry_core.db.models import DeadLetter, EtlJob, EtlRun, EtlRunCounter, RawExtractionData
from quarry_core.states import RunPhase

router = APIRouter(tags=["runs"])


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise HTTPException(422, "cursor: not a cursor this API returned")
    return int(value)


def run_outs(session: Session, rows: list[tuple[EtlRun, str]]) -> list[RunOut]:
    ids = [r.id for r, _ in rows]
    counters: dict[int, dict[str, EntityCountsOut]] = {}
    dead: dict[int, int] = {}
    if ids:
        for c in session.scalars(select(EtlRunCounter).where(EtlRunCounter.run_id.in_(ids))):
            counters.setdefault(c.run_id, {})[c.entity] = EntityCountsOut.model_validate(c)
        query = (
            select(DeadLetter.run_id, func.count())
            .where(DeadLetter.run_id.in_(ids))
            .group_by(DeadLetter.run_id)
        )
        dead = {int(run_id or 0): int(n) for run_id, n in session.execute(query).all()}
    out = []
    now = datetime.now(UTC)
    for run, job in rows:
        duration = None
        if run.started_at is not None:
            duration = max(((run.finished_at or now) - run.started_at).total_seconds(), 0.0)
        fields = {
            k: getattr(run, k) for k in RunOut.model_fields if k not in ("job", "counts") and hasattr(run, k)
        }
        out.append(
            RunOut.model_validate(
                {
                    **fields,
                    "job": job,
                    "duration_seconds": duration,
                    "counts": counters.get(run.id, {}),
                    "dead_letters": dead.get(run.id, 0),
                }
            )
        )
    return out


def list_run_page(
    session: Session,
    tenant: str,
    *,
    job_id: int | None,
    phase: RunPhase | None,
    limit: int,
    cursor: str | None,
) -> Page[RunOut]:
    query = (
        select(EtlRun, EtlJob.name)
        .join(EtlJob, EtlJob.id == EtlRun.job_id)
        .where(EtlRun.tenant == tenant)
        .order_by(EtlRun.id.desc())
        .limit(limit + 1)
    )
    if job_id is not None:
        query = query.where(EtlRun.job_id == job_id)
    if phase is not None:
        query = query.where(EtlRun.phase == phase.value)
    before = _cursor(cursor)
    if before is not None:
        query = query.where(EtlRun.id < before)
    rows = [(r, n) for r, n in session.execute(query).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[RunOut](items=run_outs(session, rows), next_cursor=str(rows[-1][0].id) if more else None)


@router.get("/runs", response_model=Page[RunOut], responses=READ, summary="Runs of every job, newest first")
def list_runs(
    session: ReadSessionDep,
    principal: CurrentUser,
    phase: RunPhase | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40, description="nextCursor of the previous page")] = None,
) -> Page[RunOut]:
    return list_run_page(session, principal.tenant, job_id=None, phase=phase, limit=limit, cursor=cursor)


def _run(session: Session, tenant: str, run_id: int) -> tuple[EtlRun, str]:
    row = session.execute(
        select(EtlRun, EtlJob.name)
        .join(EtlJob, EtlJob.id == EtlRun.job_id)
        .where(EtlRun.id == run_id, EtlRun.tenant == tenant)
    ).one_or_none()
    if row is None:
        raise HTTPException(404, f"run {run_id} not found")
    return row[0], row[1]


@router.get(
    "/runs/{run_id}", response_model=RunOut, responses=READ_ONE, summary="One run with its per-entity counts"
)
def get_run(run_id: int, session: ReadSessionDep, principal: CurrentUser) -> RunOut:
    return run_outs(session, [_run(session, principal.tenant, run_id)])[0]


@router.get(
    "/runs/{run_id}/raw-pages",
    response_model=Page[RawPageOut],
    responses=READ_ONE,
    summary="The raw API pages a run stored (without their bodies)",
)
def run_raw_pages(
    run_id: int,
    session: ReadSessionDep,
    principal: CurrentUser,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[RawPageOut]:
    _run(session, principal.tenant, run_id)
    columns = [getattr(RawExtractionData, f) for f in RawPageOut.model_fields]
    query = (
        select(*columns)
        .where(RawExtractionData.tenant == principal.tenant, RawExtractionData.run_id == run_id)
        .order_by(RawExtractionData.id)
        .limit(limit + 1)
    )
    if entity is not None:
        query = query.where(RawExtractionData.entity == entity)
    after = _cursor(cursor)
    if after is not None:
        query = query.where(RawExtractionData.id > after)
    rows = [RawPageOut.model_validate(dict(r._mapping)) for r in session.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[RawPageOut](items=rows, next_cursor=str(rows[-1].id) if more else None)


@router.get(
    "/raw-pages/{page_id}",
    response_model=RawPageFullOut,
    responses=READ_ONE,
    summary="One raw page with its full response",
)
def raw_page(page_id: int, session: ReadSessionDep, principal: CurrentUser) -> RawPageFullOut:
    row = session.scalar(
        select(RawExtractionData).where(
            RawExtractionData.id == page_id, RawExtractionData.tenant == principal.tenant
        )
    )
    if row is None:
        raise HTTPException(404, f"raw page {page_id} not found")
    return RawPageFullOut.model_validate(row)
