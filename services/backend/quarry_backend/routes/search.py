"""Semantic search over Qdrant, always filtered to the caller's tenant."""

from __future__ import annotations

import threading
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from quarry_backend.deps import CurrentUser, ReadSessionDep, SettingsDep
from quarry_backend.errors import READ, UNAVAILABLE
from quarry_backend.schemas.search import EmbeddingProgressOut, SearchHit, SearchOut
from quarry_backend.settings import ApiSettings
from quarry_core.vectors import VectorStore, choose_embedder, embedding_progress

router = APIRouter(tags=["search"])
_opening = threading.Lock()


class Kind(StrEnum):
    WORK_ITEM = "work_item"
    PULL_REQUEST = "pull_request"


def vector_store(request: Request, settings: ApiSettings) -> VectorStore:
    """One store per app, opened on first use (Qdrant local mode admits one process per directory)."""
    with _opening:
        store: VectorStore | None = getattr(request.app.state, "vectors", None)
        if store is not None:
            return store
        embedder = choose_embedder(settings.embedder, settings.embedding_model)
        if embedder is None:
            raise HTTPException(503, "vector search is off (QUARRY_EMBEDDER=off)")
        path = settings.data_dir / "qdrant"
        try:
            store = VectorStore(embedder, url=settings.qdrant_url, path=path)
        except Exception as exc:
            # Locally the embed worker of `quarry up` holds the directory; a Qdrant server has no such limit.
            raise HTTPException(503, f"the vector store is unavailable ({type(exc).__name__})") from None
        request.app.state.vectors = store
        return store


@router.get(
    "/search",
    response_model=SearchOut,
    responses={**READ, **UNAVAILABLE},
    summary="Semantic search over the tenant's work items and pull requests",
)
def search(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for, in words.")],
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SearchOut:
    store = vector_store(request, settings)
    try:
        found = store.search(principal.tenant, q, limit=limit, kind=kind.value if kind else None)
    except Exception as exc:
        raise HTTPException(503, f"the vector store is unavailable ({type(exc).__name__})") from None
    hits = [
        SearchHit(
            score=h["score"],
            kind=h["kind"],
            key=h["key"],
            integration_id=h["integration_id"],
            text=h.get("text") or "",
            type=h.get("type"),
            status=h.get("status"),
            state=h.get("state"),
        )
        for h in found
        if h.get("tenant") == principal.tenant  # the filter already says so; a hit must never leak
    ]
    progress = embedding_progress(session, principal.tenant).as_dict()
    return SearchOut(
        embedder=store.embedder.name,
        vectors="server" if settings.qdrant_url else "local",
        progress=EmbeddingProgressOut.model_validate(progress),
        hits=hits,
    )
