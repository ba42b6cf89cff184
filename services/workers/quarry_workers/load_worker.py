"""`quarry worker load`: load messages -> one transaction of bulk upserts -> ack.

A batch of messages is loaded in one transaction (one commit per batch, not per message); if one
message is bad the Consumer settles them one by one, so a poison message cannot sink the rest.
After the commit the worker asks each touched run whether it is complete (a lock-free pre-check
first). Vectors are not written here: new or changed rows are left with `embedded_at` NULL and
`quarry worker embed` catches up on its own, so tables and runs never wait for embedding.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.completion import complete_if_done
from quarry_core.db.engine import session_scope
from quarry_core.db.tenancy import acting_as
from quarry_core.mappings import Mappings, load_mappings
from quarry_core.messages import LoadMessage
from quarry_core.ownership import check_messages
from quarry_core.runs import add_counts
from quarry_workers.health import BATCH_SECONDS, MESSAGES, RECORDS
from quarry_workers.load import load_batch
from quarry_workers.statistics import refresh_statistics

log = logging.getLogger(__name__)


def loaded_counts(messages: Sequence[LoadMessage]) -> Counter[tuple[str, int, str]]:
    """Records loaded per (tenant, run, entity): one counter update each, not one per message."""
    out: Counter[tuple[str, int, str]] = Counter()
    for m in messages:
        out[(m.tenant, m.run_id, m.entity)] += m.items
    return out


class LoadWorker:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def handle_batch(self, messages: Sequence[LoadMessage]) -> None:
        started = time.perf_counter()
        with session_scope(self.factory) as session:
            check_messages(session, messages)
        by_tenant: dict[str, list[LoadMessage]] = {}
        for m in messages:
            by_tenant.setdefault(m.tenant, []).append(m)
        # One transaction acts for one tenant (row-level security): one per tenant in the batch.
        for tenant, own in sorted(by_tenant.items()):
            self._load(tenant, own)
        BATCH_SECONDS.labels("load").observe(time.perf_counter() - started)

    def _load(self, tenant: str, messages: Sequence[LoadMessage]) -> None:
        with session_scope(self.factory) as session:
            acting_as(session, tenant)
            mappings: dict[str, Mappings] = {}

            def mappings_for(tenant: str) -> Mappings:
                if tenant not in mappings:
                    mappings[tenant] = load_mappings(session, tenant)
                return mappings[tenant]

            result = load_batch(session, messages, mappings_for)
            for (_tenant, run_id, entity), n in sorted(loaded_counts(result.loaded).items()):
                add_counts(session, tenant, run_id, entity, loaded=n)
        MESSAGES.labels("load", "duplicate").inc(len(result.duplicates))
        MESSAGES.labels("load", "ok").inc(len(result.loaded))
        for table, n in result.rows.items():
            RECORDS.labels("load", table).inc(n)
        try:
            with session_scope(self.factory) as session:
                refresh_statistics(session, result.rows)
        except DBAPIError as exc:  # planner statistics only: the batch is loaded, never fail it
            log.warning("could not analyze %s: %s", ", ".join(sorted(result.rows)), exc.orig or exc)
        for run_id in sorted({m.run_id for m in messages}):
            with session_scope(self.factory) as session:
                acting_as(session, tenant)
                complete_if_done(session, run_id)
