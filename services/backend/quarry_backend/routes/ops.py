"""Operations: liveness, readiness (database, queue, resource backend) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from quarry_backend.deps import DbDep, SettingsDep
from quarry_backend.resource_backend import ResourceBackend
from quarry_core.queue.base import STAGES
from quarry_core.queue.factory import open_queue

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
def healthz(request: Request) -> JSONResponse:
    state, failed = request.app.state.health()
    return JSONResponse(state, status_code=503 if failed else 200)


@router.get("/readyz", summary="Readiness: database, queue and resource backend answer")
def readyz(request: Request, db: DbDep, settings: SettingsDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("select 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable ({type(exc).__name__})"
    resources: ResourceBackend = request.app.state.resources
    checks["resources"] = resources.readiness() if checks["database"] == "ok" else checks["database"]
    try:
        with open_queue(settings) as queue:
            queue.depth(STAGES[0])
        checks["queue"] = "ok"
    except Exception as exc:
        checks["queue"] = f"unavailable ({type(exc).__name__})"
    ready = all(v.startswith("ok") for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
