"""Semantic search over the tenant's vectors, and how far embedding has come."""

from __future__ import annotations

from pydantic import Field

from quarry_backend.schemas.base import OutModel


class SearchHit(OutModel):
    score: float
    kind: str = Field(description="`work_item` or `pull_request`.")
    key: str = Field(description="Work item key, or `owner/repo#number`.")
    integration_id: int
    text: str = Field(description="The start of the embedded text.")
    type: str | None = None
    status: str | None = None
    state: str | None = None


class KindProgress(OutModel):
    pending: int
    embedded: int


class EmbeddingProgressOut(OutModel):
    pending: int = Field(description="Rows whose vector is missing or stale.")
    embedded: int
    by_kind: dict[str, KindProgress]


class SearchOut(OutModel):
    embedder: str = Field(description="The embedder of the query and of the collection searched.")
    vectors: str = Field(description="`server` (QDRANT_URL) or `local` (Qdrant local mode).")
    progress: EmbeddingProgressOut
    hits: list[SearchHit]


class SearchStatusOut(OutModel):
    available: bool = Field(description="Whether search can answer now.")
    reason: str | None = Field(default=None, description="Why not, when it cannot.")
    embedder: str | None = None
    collection: str | None = Field(default=None, description="The Qdrant collection searched.")
    points: int | None = Field(default=None, description="The tenant's points in the collection.")
    vectors: str = Field(description="`server` (QDRANT_URL) or `local` (Qdrant local mode).")
    progress: EmbeddingProgressOut
