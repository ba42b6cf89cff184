"""`quarry worker embed`: the vector stage, off the critical path of every run.

Embedding is slower than every other stage, so the load worker does not wait for it: a loaded row
whose vector is missing or stale has `embedded_at` NULL (a load that changes the text or payload a
point is built from clears it). This loop claims a batch of such rows with FOR UPDATE SKIP LOCKED,
embeds them, upserts their points (tenant in the payload), sets `embedded_at`, commits, and goes
again; it idles when nothing is pending. The row locks are held while embedding, so a load that
changes one of these rows meanwhile waits and then clears `embedded_at` again: a change is never
marked embedded with an old vector. Points are written before the commit, so a crash re-embeds a
batch (point ids are stable) and loses none.

Progress (pending / embedded per kind) is in `quarry_core.vectors.embedding_progress` and on
/metrics as `quarry_vectors_pending` / `quarry_vectors_embedded`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from quarry_core.db.engine import session_scope
from quarry_core.db.models import PullRequest, WorkItem
from quarry_core.queue.consumer import describe, is_outage
from quarry_core.tables import EMBEDDED
from quarry_core.vectors import (
    VectorRecord,
    VectorStore,
    embedding_progress,
    pull_request_record,
    work_item_record,
)
from quarry_workers.health import VECTORS, VECTORS_EMBEDDED, VECTORS_PENDING

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    kind: str
    table: str
    claim: Callable[[int, str | None], Executable]
    record: Callable[[Any], VectorRecord]


def _claim_work_items(limit: int, tenant: str | None) -> Executable:
    W = WorkItem
    stmt = select(
        W.id, W.tenant, W.integration_id, W.source_id, W.key, W.title, W.description, W.type, W.status
    ).where(W.embedded_at.is_(None))
    if tenant is not None:
        stmt = stmt.where(W.tenant == tenant)
    return stmt.order_by(W.id).limit(limit).with_for_update(skip_locked=True)


def _claim_pull_requests(limit: int, tenant: str | None) -> Executable:
    P = PullRequest
    stmt = select(P.id, P.tenant, P.integration_id, P.repository, P.number, P.title, P.body, P.state).where(
        P.embedded_at.is_(None)
    )
    if tenant is not None:
        stmt = stmt.where(P.tenant == tenant)
    return stmt.order_by(P.id).limit(limit).with_for_update(skip_locked=True)


# What to embed of each table with vectors (the table registry names them; a test keeps them equal).
SOURCES = (
    Source("work_item", "work_items", _claim_work_items, work_item_record),
    Source("pull_request", "pull_requests", _claim_pull_requests, pull_request_record),
)


def _claim_deletions_sql() -> str:
    alive = "\n".join(
        f"""WHEN '{t.vectors.kind}' THEN EXISTS (SELECT 1 FROM {t.name} f WHERE f.tenant = d.tenant
                 AND f.integration_id = d.integration_id AND {t.vectors.key_sql} = d.key)"""
        for t in EMBEDDED
        if t.vectors is not None
    )
    return f"""
    SELECT d.id, d.tenant, d.integration_id, d.kind, d.key, CASE d.kind {alive} END AS alive
    FROM vector_deletions d
    WHERE CAST(:tenant AS text) IS NULL OR d.tenant = :tenant
    ORDER BY d.id LIMIT :n FOR UPDATE OF d SKIP LOCKED
    """


_CLAIM_DELETIONS = text(_claim_deletions_sql())


def next_backoff(current: float, ceiling: float) -> float:
    return min(current * 2, ceiling)


class EmbedWorker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        store: VectorStore,
        *,
        batch_size: int = 256,
        tenant: str | None = None,
        progress_interval: float = 5.0,
    ) -> None:
        self.factory = factory
        self.store = store
        self.batch_size = batch_size
        self.tenant = tenant  # None: every tenant (the process); a name: tests and one-off catch-ups
        self.progress_interval = progress_interval
        self.embedded = 0
        self.progress: dict[str, Any] = {}
        self._progress_at = 0.0

    def run_once(self) -> int:
        """Embed at most one batch of each kind and forget one batch of deleted rows; returns how
        many rows were settled."""
        settled = 0
        for source in SOURCES:
            settled += self._embed(source)
        return settled + self._forget_deleted()

    def _forget_deleted(self) -> int:
        """Remove the points of rows a refresh deleted (tombstones in `vector_deletions`)."""
        with session_scope(self.factory) as session:
            rows = session.execute(_CLAIM_DELETIONS, {"tenant": self.tenant, "n": self.batch_size}).all()
            if not rows:
                return 0
            # A key that came back since (the issue was restored) keeps its point.
            gone = [
                VectorRecord(r.tenant, r.integration_id, r.kind, r.key, "", {}).point_id
                for r in rows
                if not r.alive
            ]
            self.store.delete(gone)
            session.execute(
                text("DELETE FROM vector_deletions WHERE id = ANY(:ids)"), {"ids": [r.id for r in rows]}
            )
        return len(rows)

    def _embed(self, source: Source) -> int:
        with session_scope(self.factory) as session:
            rows = session.execute(source.claim(self.batch_size, self.tenant)).all()
            if not rows:
                return 0
            records = [source.record(r) for r in rows]
            written = self.store.upsert([r for r in records if r.text])
            # A row whose text is gone keeps no stale point.
            self.store.delete([r.point_id for r in records if not r.text])
            session.execute(
                text(f"UPDATE {source.table} SET embedded_at = now() WHERE id = ANY(:ids)"),
                {"ids": [r.id for r in rows]},
            )
        VECTORS.labels(self.store.embedder.name).inc(written)
        self.embedded += written
        return len(rows)

    def report_progress(self, force: bool = False) -> dict[str, Any]:
        """Refresh the pending/embedded gauges (at most every `progress_interval` unless forced)."""
        now = time.monotonic()
        if not force and now - self._progress_at < self.progress_interval:
            return self.progress
        self._progress_at = now
        with session_scope(self.factory) as session:
            progress = embedding_progress(session, self.tenant)
        for kind in progress.pending:
            VECTORS_PENDING.labels(kind).set(progress.pending[kind])
            VECTORS_EMBEDDED.labels(kind).set(progress.embedded[kind])
        self.progress = progress.as_dict()
        return self.progress

    def run(
        self, stop: threading.Event, idle: float = 1.0, max_backoff: float = 30.0, release_after: float = 5.0
    ) -> None:
        backoff = 0.5
        idle_since: float | None = None
        while not stop.is_set():
            try:
                settled = self.run_once()
                self.report_progress(force=settled == 0)
                backoff = 0.5
                # Idle for a while: let go of a local-mode directory so the API can search it.
                idle_since = None if settled else (idle_since or time.monotonic())
                if idle_since is not None and time.monotonic() - idle_since >= release_after:
                    self.store.release()
            except Exception as exc:
                # An outage (database, Qdrant server) or a failing embedder: nothing is lost (rows stay
                # pending), so back off and try again rather than exit.
                level = logging.WARNING if is_outage(exc) else logging.ERROR
                log.log(level, "embed: %s; retrying in %.1fs", describe(exc), backoff, exc_info=level > 30)
                stop.wait(backoff)
                backoff = next_backoff(backoff, max_backoff)
                continue
            if settled == 0:
                stop.wait(idle)
