"""Semantic search over Qdrant, always filtered to the caller's tenant."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy.orm import Session

from quarry_backend.deps import CurrentUser, ReadSessionDep, SettingsDep
from quarry_backend.errors import READ, UNAVAILABLE
from quarry_backend.schemas.search import EmbeddingProgressOut, SearchHit, SearchOut, SearchStatusOut
from quarry_backend.settings import ApiSettings
from quarry_core.vectors import StoreBusy, VectorStore, choose_embedder, embedding_progress

router = APIRouter(tags=["search"])
_opening = threading.Lock()
T = TypeVar("T")
BUSY = "the vector store is busy embedding new rows; try again in a moment"


class Kind(StrEnum):
    WORK_ITEM = "work_item"
    PULL_REQUEST = "pull_request"


def vector_store(request: Request, settings: ApiSettings) -> VectorStore:
    """One store per app, made on first use. Qdrant local mode admits one process per directory at a
    time: the embed worker of `quarry up` lets go of it when idle, and each request holds it briefly."""
    made = getattr(request.app.state, "vectors", None)
    if isinstance(made, VectorStore):  # no need to queue behind a request that is using it
        return made
    with _opening:
        made = getattr(request.app.state, "vectors", None)
        if isinstance(made, VectorStore):
            return made
        embedder = choose_embedder(settings.embedder, settings.embedding_model)
        if embedder is None:
            raise HTTPException(503, "vector search is off (QUARRY_EMBEDDER=off)")
        path = settings.data_dir / "qdrant"
        try:
            store = VectorStore(embedder, url=settings.qdrant_url, path=path)
        except StoreBusy:
            raise HTTPException(503, BUSY) from None
        except Exception as exc:
            raise HTTPException(503, f"the vector store is unavailable ({type(exc).__name__})") from None
        store.release()
        request.app.state.vectors = store
        return store


# How long the status (polled every few seconds by the dashboard) waits for the store before it
# says "busy"; a search waits the store's own, longer, time.
STATUS_WAIT = 1.0


@contextmanager
def _using(store: VectorStore, wait: float | None = None) -> Iterator[VectorStore]:
    """One request's use of the store: in local mode the directory is let go of right after, so the
    embed worker of `quarry up` can write again. `wait` bounds the wait for other requests and for
    the directory both."""
    if not _opening.acquire(timeout=-1 if wait is None else wait):
        raise StoreBusy("another request is using the vector store")
    usual = store.lock_wait
    try:
        if wait is not None:
            store.lock_wait = wait
        yield store
    finally:
        store.lock_wait = usual
        store.release()
        _opening.release()


def _ask(
    request: Request, settings: ApiSettings, what: Callable[[VectorStore], T], wait: float | None = None
) -> T:
    store = vector_store(request, settings)
    try:
        with _using(store, wait):
            return what(store)
    except StoreBusy:
        raise HTTPException(503, BUSY) from None
    except Exception as exc:
        raise HTTPException(503, f"the vector store is unavailable ({type(exc).__name__})") from None


def _progress(session: Session, tenant: str) -> EmbeddingProgressOut:
    return EmbeddingProgressOut.model_validate(embedding_progress(session, tenant).as_dict())


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
    found, embedder = _ask(
        request,
        settings,
        lambda store: (
            store.search(principal.tenant, q, limit=limit, kind=kind.value if kind else None),
            store.embedder.name,
        ),
    )
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
        # A score of zero or less shares nothing with the question (the hashing embedder: no word in
        # common), so it is no answer; the filter already says tenant, but a hit must never leak.
        if h["score"] > 0 and h.get("tenant") == principal.tenant
    ]
    return SearchOut(
        embedder=embedder,
        vectors="server" if settings.qdrant_url else "local",
        progress=_progress(session, principal.tenant),
        hits=hits,
    )


@router.get(
    "/search/status",
    response_model=SearchStatusOut,
    responses=READ,
    summary="The tenant's vectors: points in the collection and embedding progress",
)
def search_status(
    request: Request, session: ReadSessionDep, settings: SettingsDep, principal: CurrentUser
) -> SearchStatusOut:
    """Answers even when search cannot (embedder off, store busy): `available` says which."""
    vectors = "server" if settings.qdrant_url else "local"
    progress = _progress(session, principal.tenant)
    try:
        points, embedder, collection = _ask(
            request,
            settings,
            lambda store: (store.count(principal.tenant), store.embedder.name, store.collection),
            wait=STATUS_WAIT,
        )
    except HTTPException as exc:
        return SearchStatusOut(available=False, reason=str(exc.detail), vectors=vectors, progress=progress)
    return SearchStatusOut(
        available=True,
        embedder=embedder,
        collection=collection,
        points=points,
        vectors=vectors,
        progress=progress,
    )
