"""Loaded data of the caller's tenant: work items, pull requests, lineage, flow metrics."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from quarry_backend.deps import CurrentUser, ReadSessionDep
from quarry_backend.errors import READ, READ_ONE
from quarry_backend.schemas.base import Page
from quarry_backend.schemas.data import FlowOut, FlowWeek, LineageOut, LineageRun, PullRequestOut, WorkItemOut
from quarry_backend.schemas.runs import RawPageOut
from quarry_core.db.models import EtlJob, EtlRun, PullRequest, RawExtractionData, WorkItem

router = APIRouter(tags=["data"])

_NEG = datetime(1, 1, 1, tzinfo=UTC)


class WorkItemSort(StrEnum):
    UPDATED = "updated"
    CREATED = "created"
    RESOLVED = "resolved"
    KEY = "key"


class PullRequestSort(StrEnum):
    UPDATED = "updated"
    CREATED = "created"
    MERGED = "merged"
    NUMBER = "number"


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


def _utc(value: datetime) -> datetime:
    """In UTC: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 (and Python) allow."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # moved out of years 1..9999
        return _NEG if value.year == 1 else datetime.max.replace(tzinfo=UTC)


def _encode(value: Any, row_id: int) -> str:
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else value, row_id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str, is_time: bool) -> tuple[Any, int]:
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if is_time:
            value = _utc(datetime.fromisoformat(value))
        if not isinstance(row_id, int):
            raise ValueError("id")
        return value, row_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise HTTPException(422, "cursor: not a cursor this API returned") from None


def _keyset(
    query: Select[Any],
    expr: ColumnElement[Any],
    id_col: Any,
    order: Order,
    cursor: str | None,
    is_time: bool,
    limit: int,
) -> Select[Any]:
    if cursor is not None:
        value, row_id = _decode(cursor, is_time)
        bound = literal(value, type_=expr.type)
        if order == Order.DESC:
            query = query.where(or_(expr < bound, and_(expr == bound, id_col < row_id)))
        else:
            query = query.where(or_(expr > bound, and_(expr == bound, id_col > row_id)))
    if order == Order.DESC:
        return query.order_by(expr.desc(), id_col.desc()).limit(limit + 1)
    return query.order_by(expr.asc(), id_col.asc()).limit(limit + 1)


def _page(session: Session, query: Select[Any], sort_key: Any, limit: int) -> tuple[list[Any], str | None]:
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    if not more:
        return rows, None
    return rows, _encode(sort_key(rows[-1]), rows[-1].id)


@router.get(
    "/work-items",
    response_model=Page[WorkItemOut],
    responses=READ,
    summary="Work items with filters, sorting and keyset paging",
)
def work_items(
    session: ReadSessionDep,
    principal: CurrentUser,
    type: Annotated[str | None, Query(max_length=64, description="Standard type, e.g. Story")] = None,
    status: Annotated[str | None, Query(max_length=16, description="To Do | In Progress | Done")] = None,
    project: Annotated[str | None, Query(max_length=255)] = None,
    assignee: Annotated[str | None, Query(max_length=255)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the key or title")] = None,
    updated_since: datetime | None = None,
    sort: WorkItemSort = WorkItemSort.UPDATED,
    order: Order = Order.DESC,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[WorkItemOut]:
    query = select(WorkItem).where(WorkItem.tenant == principal.tenant)
    for column, value in (
        (WorkItem.type, type),
        (WorkItem.status, status),
        (WorkItem.project_key, project),
        (WorkItem.assignee_id, assignee),
    ):
        if value is not None:
            query = query.where(column == value)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(WorkItem.key.ilike(pattern), WorkItem.title.ilike(pattern)))
    if updated_since is not None:
        query = query.where(WorkItem.updated_at >= _utc(updated_since))
    sort_columns: dict[WorkItemSort, Any] = {
        WorkItemSort.UPDATED: WorkItem.updated_at,
        WorkItemSort.CREATED: WorkItem.created_at,
        WorkItemSort.RESOLVED: WorkItem.resolved_at,
        WorkItemSort.KEY: WorkItem.key,
    }
    column = sort_columns[sort]
    is_time = sort != WorkItemSort.KEY
    expr: ColumnElement[Any] = func.coalesce(column, literal(_NEG)) if is_time else column
    query = _keyset(query, expr, WorkItem.id, order, cursor, is_time, limit)
    rows, next_cursor = _page(
        session, query, lambda r: getattr(r, column.key) or (_NEG if is_time else None), limit
    )
    return Page[WorkItemOut](items=[WorkItemOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/pull-requests",
    response_model=Page[PullRequestOut],
    responses=READ,
    summary="Pull requests with filters, sorting and keyset paging",
)
def pull_requests(
    session: ReadSessionDep,
    principal: CurrentUser,
    repository: Annotated[str | None, Query(max_length=255)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    author: Annotated[str | None, Query(max_length=255)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: PullRequestSort = PullRequestSort.UPDATED,
    order: Order = Order.DESC,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[PullRequestOut]:
    query = select(PullRequest).where(PullRequest.tenant == principal.tenant)
    for column, value in (
        (PullRequest.repository, repository),
        (PullRequest.state, state),
        (PullRequest.author_id, author),
    ):
        if value is not None:
            query = query.where(column == value)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(PullRequest.title.ilike(pattern))
    pr_columns: dict[PullRequestSort, Any] = {
        PullRequestSort.UPDATED: PullRequest.updated_at,
        PullRequestSort.CREATED: PullRequest.created_at,
        PullRequestSort.MERGED: PullRequest.merged_at,
        PullRequestSort.NUMBER: PullRequest.number,
    }
    column = pr_columns[sort]
    is_time = sort != PullRequestSort.NUMBER
    expr: ColumnElement[Any] = func.coalesce(column, literal(_NEG)) if is_time else column
    query = _keyset(query, expr, PullRequest.id, order, cursor, is_time, limit)
    rows, next_cursor = _page(
        session, query, lambda r: getattr(r, column.key) or (_NEG if is_time else None), limit
    )
    return Page[PullRequestOut](
        items=[PullRequestOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


def _lineage(
    session: Session, table: str, row: WorkItem | PullRequest, natural: dict[str, Any]
) -> LineageOut:
    page = run = None
    if row.raw_id is not None:
        raw = session.scalar(
            select(RawExtractionData).where(
                RawExtractionData.id == row.raw_id, RawExtractionData.tenant == row.tenant
            )
        )
        if raw is not None:
            page = RawPageOut.model_validate(raw)
            found = session.execute(
                select(EtlRun, EtlJob.name)
                .join(EtlJob, EtlJob.id == EtlRun.job_id)
                .where(EtlRun.id == raw.run_id)
            ).one_or_none()
            if found is not None:
                r, job = found
                run = LineageRun(id=r.id, job=job, phase=r.phase, trigger=r.trigger)
    return LineageOut(
        table=table, row_id=row.id, natural_key=natural, loaded_at=row.loaded_at, raw_page=page, run=run
    )


@router.get("/work-items/{item_id}", response_model=WorkItemOut, responses=READ_ONE, summary="One work item")
def work_item(item_id: int, session: ReadSessionDep, principal: CurrentUser) -> WorkItemOut:
    return WorkItemOut.model_validate(_work_item(session, principal.tenant, item_id))


def _work_item(session: Session, tenant: str, item_id: int) -> WorkItem:
    row = session.scalar(select(WorkItem).where(WorkItem.id == item_id, WorkItem.tenant == tenant))
    if row is None:
        raise HTTPException(404, f"work item {item_id} not found")
    return row


def _pull_request(session: Session, tenant: str, pr_id: int) -> PullRequest:
    row = session.scalar(select(PullRequest).where(PullRequest.id == pr_id, PullRequest.tenant == tenant))
    if row is None:
        raise HTTPException(404, f"pull request {pr_id} not found")
    return row


@router.get(
    "/work-items/{item_id}/lineage",
    response_model=LineageOut,
    responses=READ_ONE,
    summary="The raw page and run a work item came from",
)
def work_item_lineage(item_id: int, session: ReadSessionDep, principal: CurrentUser) -> LineageOut:
    row = _work_item(session, principal.tenant, item_id)
    natural = {"integrationId": row.integration_id, "sourceId": row.source_id, "key": row.key}
    return _lineage(session, "work_items", row, natural)


@router.get(
    "/pull-requests/{pr_id}", response_model=PullRequestOut, responses=READ_ONE, summary="One pull request"
)
def pull_request(pr_id: int, session: ReadSessionDep, principal: CurrentUser) -> PullRequestOut:
    return PullRequestOut.model_validate(_pull_request(session, principal.tenant, pr_id))


@router.get(
    "/pull-requests/{pr_id}/lineage",
    response_model=LineageOut,
    responses=READ_ONE,
    summary="The raw page and run a pull request came from",
)
def pull_request_lineage(pr_id: int, session: ReadSessionDep, principal: CurrentUser) -> LineageOut:
    row = _pull_request(session, principal.tenant, pr_id)
    natural = {"integrationId": row.integration_id, "repository": row.repository, "number": row.number}
    return _lineage(session, "pull_requests", row, natural)


@router.get(
    "/insights/flow",
    response_model=FlowOut,
    responses=READ,
    summary="Throughput, cycle and lead time per week",
)
def flow(
    session: ReadSessionDep,
    principal: CurrentUser,
    weeks: Annotated[int, Query(ge=1, le=104)] = 12,
    type: Annotated[str | None, Query(max_length=64, description="A standard work item type.")] = None,
    project: Annotated[str | None, Query(max_length=255, description="A project key.")] = None,
) -> FlowOut:
    since = datetime.now(UTC) - timedelta(weeks=weeks)
    week = func.date_trunc("week", func.timezone("UTC", WorkItem.resolved_at))
    query = (
        select(
            week.label("week"),
            func.count().label("throughput"),
            func.percentile_cont(0.5).within_group(WorkItem.cycle_time_seconds).label("cp50"),
            func.avg(WorkItem.cycle_time_seconds).label("cavg"),
            func.percentile_cont(0.5).within_group(WorkItem.lead_time_seconds).label("lp50"),
            func.avg(WorkItem.lead_time_seconds).label("lavg"),
        )
        .where(WorkItem.tenant == principal.tenant, WorkItem.resolved_at >= since)
        .group_by(week)
        .order_by(week)
    )
    if type is not None:
        query = query.where(WorkItem.type == type)
    if project is not None:
        query = query.where(WorkItem.project_key == project)
    out = [
        FlowWeek(
            week=r.week.date(),
            throughput=r.throughput,
            cycle_time_p50_seconds=r.cp50,
            cycle_time_avg_seconds=float(r.cavg) if r.cavg is not None else None,
            lead_time_p50_seconds=r.lp50,
            lead_time_avg_seconds=float(r.lavg) if r.lavg is not None else None,
        )
        for r in session.execute(query)
    ]
    return FlowOut(
        weeks=out,
        projects=_distinct(session, principal.tenant, WorkItem.project_key),
        types=_distinct(session, principal.tenant, WorkItem.type),
    )


def _distinct(session: Session, tenant: str, column: Any) -> list[str]:
    rows = session.scalars(
        select(column).where(WorkItem.tenant == tenant, column.is_not(None)).distinct().order_by(column)
    )
    return [str(v) for v in rows]
