"""`quarry worker load`: load messages -> one transaction of upserts -> ack -> vectors.

A batch of messages is loaded in one transaction (one commit per batch, not per message); if one
message is bad the Consumer settles them one by one, so a poison message cannot sink the rest.
After the commit the worker asks each touched run whether it is complete. Vectors are written
after that, so tables and runs never wait for embedding; a redelivered (already loaded) message
still re-embeds, so a crash between commit and ack cannot lose vectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from quarry_core.completion import complete_if_done
from quarry_core.db.engine import session_scope
from quarry_core.messages import LoadMessage
from quarry_core.runs import add_counts
from quarry_workers.health import BATCH_SECONDS, MESSAGES, RECORDS, VECTORS
from quarry_workers.load import load_message
from quarry_workers.mappings import Mappings, load_mappings
from quarry_workers.transform_worker import primary_count
from quarry_workers.vectors import VectorStore, records_for

log = logging.getLogger(__name__)


class LoadWorker:
    def __init__(self, factory: sessionmaker[Session], vectors: VectorStore | None = None) -> None:
        self.factory = factory
        self.vectors = vectors

    def handle_batch(self, messages: Sequence[LoadMessage]) -> None:
        started = time.perf_counter()
        runs: set[int] = set()
        with session_scope(self.factory) as session:
            mappings: dict[str, Mappings] = {}
            for message in messages:
                if message.tenant not in mappings:
                    mappings[message.tenant] = load_mappings(session, message.tenant)
                result = load_message(session, message, mappings[message.tenant])
                runs.add(message.run_id)
                if result.skipped:
                    MESSAGES.labels("load", "duplicate").inc()
                    continue
                add_counts(
                    session,
                    message.tenant,
                    message.run_id,
                    message.entity,
                    loaded=primary_count(message.entity, message.tables),
                )
                for table, n in result.rows.items():
                    RECORDS.labels("load", table).inc(n)
                MESSAGES.labels("load", "ok").inc()
        for run_id in sorted(runs):
            with session_scope(self.factory) as session:
                complete_if_done(session, run_id)
        BATCH_SECONDS.labels("load").observe(time.perf_counter() - started)
        if self.vectors is not None:
            points = [r for m in messages for r in records_for(m.tables, m.tenant, m.integration_id)]
            VECTORS.labels(self.vectors.embedder.name).inc(self.vectors.upsert(points))
