"""The FastAPI application: everything under /api/v1, /healthz, /readyz, /metrics, and the dashboard at /."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from quarry_backend.dashboard import mount_dashboard
from quarry_backend.db import Database
from quarry_backend.input_rules import reject_nul
from quarry_backend.middleware import ApiMiddleware
from quarry_backend.resource_backend import resources_for
from quarry_backend.routes import auth, data, integrations, jobs, mappings, me, ops, queues, runs, search, ws
from quarry_backend.settings import ApiSettings
from quarry_core.settings import reveal

Health = Callable[[], tuple[dict[str, Any], bool]]

DESCRIPTION = """Quarry's HTTP API. Log in with `POST /api/v1/auth/login` (OAuth2 password form) and
send `Authorization: Bearer <access_token>`, or an API key (`Bearer qk_…`). Everything is scoped to
the caller's tenant: another tenant's object answers 404. Errors are `{"detail": ...}`; invalid input
is a 422 whose `detail[].loc` names the field."""


def _ok() -> tuple[dict[str, Any], bool]:
    return {"status": "ok"}, False


def create_app(settings: ApiSettings | None = None, health: Health | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    app = FastAPI(
        title="Quarry API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = Database(settings, reveal(settings.database_replica_url))
    app.state.resources = resources_for(settings)
    app.state.health = health or _ok

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(reject_nul)])
    for module in (auth, me, integrations, jobs, runs, data, mappings, search, queues, ws):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(ops.router)
    mount_dashboard(app)  # last: its catch-all must not shadow a route above

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Quarry-Tenant"],
        )
    app.add_middleware(
        ApiMiddleware, max_body_bytes=settings.max_body_bytes, templates=lambda: app.openapi()["paths"]
    )
    return app
