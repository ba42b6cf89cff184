"""Integrations of the caller's tenant: CRUD (credentials write-only) and a connection test."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import select

from quarry_backend.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep, allow
from quarry_backend.errors import CONFLICT, READ, READ_ONE, WRITE, WRITE_ONE
from quarry_backend.resource_backend import ResourceBackend
from quarry_backend.schemas.resources import (
    CheckOut,
    ConditionOut,
    CredentialsOut,
    IntegrationIn,
    IntegrationOut,
    IntegrationUpdate,
)
from quarry_core import store
from quarry_core.db.models import EtlJob, Integration
from quarry_core.integration_check import check_integration
from quarry_core.resources import IntegrationSpec, IntegrationType

router = APIRouter(prefix="/integrations", tags=["integrations"])


def backend(request: Request) -> ResourceBackend:
    resources: ResourceBackend = request.app.state.resources
    return resources


def to_out(row: Integration, secret_set: bool) -> IntegrationOut:
    spec, status = row.spec, row.status or {}
    secret = (spec.get("credentials") or {}).get("secretRef", {}).get("name", "")
    return IntegrationOut(
        name=row.name,
        type=IntegrationType(row.type),
        base_url=spec.get("baseUrl", ""),
        auth=spec.get("auth"),
        scope=spec.get("scope") or {},
        budget=spec.get("budget") or {},
        credentials=CredentialsOut(secret_name=secret, set=secret_set),
        phase=status.get("phase"),
        conditions=[ConditionOut.model_validate(c) for c in status.get("conditions") or []],
        last_check_time=status.get("lastCheckTime"),
        generation=row.generation,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _get(session: ReadSessionDep | SessionDep, tenant: str, name: str) -> Integration:
    try:
        return store.get_integration(session, tenant, name)
    except store.NotFound:
        raise HTTPException(404, f"integration {name} not found") from None


def _out(request: Request, session: ReadSessionDep | SessionDep, tenant: str, name: str) -> IntegrationOut:
    row = _get(session, tenant, name)
    secret = (row.spec.get("credentials") or {}).get("secretRef", {}).get("name")
    return to_out(row, secret in backend(request).secret_names(session, tenant))


@router.get("", response_model=list[IntegrationOut], responses=READ, summary="List integrations")
def list_integrations(
    request: Request, session: ReadSessionDep, principal: CurrentUser
) -> list[IntegrationOut]:
    secrets = backend(request).secret_names(session, principal.tenant)
    rows = store.list_integrations(session, principal.tenant)
    return [
        to_out(r, (r.spec.get("credentials") or {}).get("secretRef", {}).get("name") in secrets) for r in rows
    ]


@router.get("/{name}", response_model=IntegrationOut, responses=READ_ONE, summary="Get one integration")
def get_integration(
    name: str, request: Request, session: ReadSessionDep, principal: CurrentUser
) -> IntegrationOut:
    return _out(request, session, principal.tenant, name)


@router.post(
    "",
    response_model=IntegrationOut,
    status_code=201,
    responses={**WRITE, **CONFLICT},
    summary="Create an integration with its credentials",
    **allow("editor"),
)
def create_integration(
    body: IntegrationIn, request: Request, session: SessionDep, principal: CurrentUser
) -> IntegrationOut:
    try:
        store.get_integration(session, principal.tenant, body.name)
    except store.NotFound:
        pass
    else:
        raise HTTPException(409, f"integration {body.name} exists already")
    backend(request).apply_integration(
        session, principal.tenant, body.name, body.spec(body.name), body.secret_values()
    )
    session.commit()
    return _out(request, session, principal.tenant, body.name)


@router.put(
    "/{name}",
    response_model=IntegrationOut,
    responses=WRITE_ONE,
    summary="Replace an integration's settings (credentials only when given)",
    **allow("editor"),
)
def update_integration(
    name: str, body: IntegrationUpdate, request: Request, session: SessionDep, principal: CurrentUser
) -> IntegrationOut:
    _get(session, principal.tenant, name)
    backend(request).apply_integration(session, principal.tenant, name, body.spec(name), body.secret_values())
    session.commit()
    return _out(request, session, principal.tenant, name)


@router.delete(
    "/{name}",
    status_code=204,
    responses={**WRITE_ONE, **CONFLICT},
    summary="Delete an integration and its credentials",
    **allow("editor"),
)
def delete_integration(name: str, request: Request, session: SessionDep, principal: CurrentUser) -> Response:
    _get(session, principal.tenant, name)
    users = session.scalars(
        select(EtlJob.name).where(EtlJob.tenant == principal.tenant, EtlJob.integration_name == name)
    ).all()
    if users:
        raise HTTPException(409, f"integration {name} is used by jobs: {', '.join(users)}")
    backend(request).delete_integration(session, principal.tenant, name)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/{name}/test",
    response_model=CheckOut,
    responses=WRITE_ONE,
    summary="Test the connection: one authenticated request to the source",
    **allow("editor"),
)
def test_integration(
    name: str, request: Request, session: SessionDep, principal: CurrentUser, settings: SettingsDep
) -> CheckOut:
    row = _get(session, principal.tenant, name)
    spec = IntegrationSpec.model_validate(row.spec)
    credentials = backend(request).credentials(session, principal.tenant, spec.credentials.secret_ref.name)
    if credentials is None:
        return CheckOut(ready=False, reason="AuthFailed", message="the integration has no stored credentials")
    result = check_integration(
        spec,
        credentials,
        timeout=settings.integration_check_timeout,
        allow_private=settings.egress_allow_private,
    )
    return CheckOut(ready=result.ready, reason=str(result.reason), message=result.message)
