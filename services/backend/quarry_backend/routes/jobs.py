"""EtlJobs of the caller's tenant: CRUD and the run / pause / resume / stop / retransform actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from quarry_backend.deps import CurrentUser, ReadSessionDep, SessionDep, allow
from quarry_backend.errors import CONFLICT, READ, READ_ONE, WRITE, WRITE_ONE
from quarry_backend.routes.integrations import backend
from quarry_backend.routes.runs import list_run_page
from quarry_backend.schemas.base import Page
from quarry_backend.schemas.resources import ActionOut, ConditionOut, JobFields, JobIn, JobOut, JobUpdate
from quarry_backend.schemas.runs import RunOut
from quarry_core import store
from quarry_core.db.models import EtlJob
from quarry_core.resources import IntegrationType

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def to_out(row: EtlJob) -> JobOut:
    spec, status = row.spec, row.status or {}
    return JobOut(
        name=row.name,
        integration=row.integration_name,
        entities=list(spec.get("entities") or []),
        mode=spec.get("mode", "incremental"),
        schedule=spec.get("schedule"),
        suspend=bool(spec.get("suspend", False)),
        phase=status.get("phase"),
        message=status.get("message"),
        progress=status.get("progress"),
        current_run_id=_int(status.get("currentRun")),
        last_successful_run_id=_int(status.get("lastSuccessfulRun")),
        last_successful_time=status.get("lastSuccessfulTime"),
        next_schedule_time=status.get("nextScheduleTime"),
        conditions=[ConditionOut.model_validate(c) for c in status.get("conditions") or []],
        generation=row.generation,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _get(session: SessionDep | ReadSessionDep, tenant: str, name: str, lock: bool = False) -> EtlJob:
    try:
        return store.get_job(session, tenant, name, lock=lock)
    except store.NotFound:
        raise HTTPException(404, f"job {name} not found") from None


def _check_integration(session: SessionDep, tenant: str, body: JobFields) -> None:
    """The CRD cannot check across objects; the API can, and names the field."""
    try:
        integration = store.get_integration(session, tenant, body.integration)
    except store.NotFound:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "integration"),
                    "msg": f"integration {body.integration} not found",
                    "type": "value_error",
                }
            ]
        ) from None
    outside = body.spec().entities_outside(IntegrationType(integration.type))
    if outside:
        message = f"a {integration.type} integration cannot extract {', '.join(outside)}"
        raise RequestValidationError([{"loc": ("body", "entities"), "msg": message, "type": "value_error"}])


@router.get("", response_model=list[JobOut], responses=READ, summary="List jobs")
def list_jobs(session: ReadSessionDep, principal: CurrentUser) -> list[JobOut]:
    return [to_out(r) for r in store.list_jobs(session, principal.tenant)]


@router.get("/{name}", response_model=JobOut, responses=READ_ONE, summary="Get one job")
def get_job(name: str, session: ReadSessionDep, principal: CurrentUser) -> JobOut:
    return to_out(_get(session, principal.tenant, name))


@router.post(
    "",
    response_model=JobOut,
    status_code=201,
    responses={**WRITE, **CONFLICT},
    summary="Create a job",
    **allow("editor"),
)
def create_job(body: JobIn, request: Request, session: SessionDep, principal: CurrentUser) -> JobOut:
    try:
        store.get_job(session, principal.tenant, body.name)
    except store.NotFound:
        pass
    else:
        raise HTTPException(409, f"job {body.name} exists already")
    _check_integration(session, principal.tenant, body)
    backend(request).apply_job(session, principal.tenant, body.name, body.spec())
    session.commit()
    return to_out(_get(session, principal.tenant, body.name))


@router.put(
    "/{name}",
    response_model=JobOut,
    responses=WRITE_ONE,
    summary="Replace a job's settings",
    **allow("editor"),
)
def update_job(
    name: str, body: JobUpdate, request: Request, session: SessionDep, principal: CurrentUser
) -> JobOut:
    job = _get(session, principal.tenant, name)
    _check_integration(session, principal.tenant, body)
    backend(request).apply_job(session, principal.tenant, name, body.spec(keep=job.spec))
    session.commit()
    return to_out(_get(session, principal.tenant, name))


@router.delete(
    "/{name}",
    status_code=204,
    responses=WRITE_ONE,
    summary="Delete a job (cancels its active run)",
    **allow("editor"),
)
def delete_job(name: str, request: Request, session: SessionDep, principal: CurrentUser) -> Response:
    _get(session, principal.tenant, name)
    backend(request).delete_job(session, principal.tenant, name)
    session.commit()
    return Response(status_code=204)


def _patch(
    request: Request, session: SessionDep, principal: CurrentUser, name: str, action: str, **changes: Any
) -> ActionOut:
    _get(session, principal.tenant, name)
    backend(request).patch_job(session, principal.tenant, name, changes)
    session.commit()
    token = changes.get("runRequest") or changes.get("retransform")
    return ActionOut(job=name, action=action, token=token)


@router.post(
    "/{name}/run",
    response_model=ActionOut,
    status_code=202,
    responses=WRITE_ONE,
    summary="Start a run now",
    **allow("editor"),
)
def run_job(name: str, request: Request, session: SessionDep, principal: CurrentUser) -> ActionOut:
    return _patch(request, session, principal, name, "run", runRequest=store.new_token())


@router.post(
    "/{name}/retransform",
    response_model=ActionOut,
    status_code=202,
    responses=WRITE_ONE,
    summary="Replay the stored raw pages through the current mappings (no source calls)",
    **allow("editor"),
)
def retransform_job(name: str, request: Request, session: SessionDep, principal: CurrentUser) -> ActionOut:
    return _patch(request, session, principal, name, "retransform", retransform=store.new_token())


@router.post(
    "/{name}/pause",
    response_model=ActionOut,
    status_code=202,
    responses=WRITE_ONE,
    summary="Suspend the job: cancels its active run and stops scheduling",
    **allow("editor"),
)
def pause_job(name: str, request: Request, session: SessionDep, principal: CurrentUser) -> ActionOut:
    return _patch(request, session, principal, name, "pause", suspend=True)


@router.post(
    "/{name}/resume",
    response_model=ActionOut,
    status_code=202,
    responses=WRITE_ONE,
    summary="Resume a suspended job",
    **allow("editor"),
)
def resume_job(name: str, request: Request, session: SessionDep, principal: CurrentUser) -> ActionOut:
    return _patch(request, session, principal, name, "resume", suspend=False)


@router.post(
    "/{name}/stop",
    response_model=ActionOut,
    status_code=202,
    responses=WRITE_ONE,
    summary="Cancel the active run; cursors and loaded rows stay",
    **allow("editor"),
)
def stop_job(name: str, request: Request, session: SessionDep, principal: CurrentUser) -> ActionOut:
    _get(session, principal.tenant, name)
    cancelled = backend(request).stop_job(session, principal.tenant, name)
    session.commit()
    return ActionOut(job=name, action="stop", cancelled_run_ids=cancelled)


@router.get(
    "/{name}/runs", response_model=Page[RunOut], responses=READ_ONE, summary="The job's runs, newest first"
)
def job_runs(
    name: str,
    session: ReadSessionDep,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40, description="nextCursor of the previous page")] = None,
) -> Page[RunOut]:
    job = _get(session, principal.tenant, name)
    return list_run_page(session, principal.tenant, job_id=job.id, phase=None, limit=limit, cursor=cursor)
