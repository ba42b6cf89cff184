"""`quarry worker transform`: raw page -> normalised records -> load messages.

Order per page: transform (pure) -> publish the load messages (broker-confirmed) -> one
transaction recording the load batches, `transformed_at` and the counters -> ack. A crash before
the commit re-delivers the page and re-publishes identical messages (loads are idempotent); a
crash after it finds `transformed_at` set and only acks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.completion import complete_if_done
from quarry_core.db.engine import session_scope
from quarry_core.db.models import Integration, LoadBatch, RawExtractionData, WorkItem
from quarry_core.db.tenancy import acting_as
from quarry_core.errors import FatalError, QuarryError, RetriableError
from quarry_core.mappings import load_mappings
from quarry_core.messages import LoadMessage, TransformMessage
from quarry_core.ownership import check_messages
from quarry_core.queue.base import QueueBackend
from quarry_core.runs import add_counts
from quarry_core.states import Stage
from quarry_workers.health import BATCH_SECONDS, MESSAGES, RECORDS
from quarry_workers.transform import Records, TransformOptions, transform_page

log = logging.getLogger(__name__)

CATALOG_TTL = 60.0


def split(records: Records, max_rows: int) -> list[dict[str, list[dict[str, Any]]]]:
    """Cut a page's records into load batches of at most `max_rows` rows, parents first."""
    from quarry_workers.load import LOAD_ORDER

    batches: list[dict[str, list[dict[str, Any]]]] = []
    current: dict[str, list[dict[str, Any]]] = {}
    size = 0
    for table in sorted(records, key=lambda t: LOAD_ORDER.index(t) if t in LOAD_ORDER else 99):
        rows = records[table]
        for start in range(0, len(rows), max_rows):
            chunk = rows[start : start + max_rows]
            if size and size + len(chunk) > max_rows:
                batches.append(current)
                current, size = {}, 0
            current.setdefault(table, []).extend(chunk)
            size += len(chunk)
    if size:
        batches.append(current)
    return batches


class TransformWorker:
    def __init__(
        self, factory: sessionmaker[Session], queue: QueueBackend, rows_per_message: int = 1000
    ) -> None:
        self.factory = factory
        self.queue = queue
        self.rows_per_message = rows_per_message
        self._catalogs: dict[int, tuple[float, dict[str, str]]] = {}

    def handle_batch(self, messages: Sequence[TransformMessage]) -> None:
        started = time.perf_counter()
        with session_scope(self.factory) as session:
            check_messages(session, messages)
        for message in messages:
            self.handle(message)
        BATCH_SECONDS.labels("transform").observe(time.perf_counter() - started)

    def handle(self, message: TransformMessage) -> None:
        with session_scope(self.factory) as session:
            acting_as(session, message.tenant)
            raw = session.get(RawExtractionData, message.raw_id)
            if raw is None:
                raise FatalError(f"raw page {message.raw_id} does not exist (pruned?)")
            if raw.transformed_at is not None:
                MESSAGES.labels("transform", "duplicate").inc()
                return
            source = session.scalar(select(Integration.type).where(Integration.id == raw.integration_id))
            mappings = load_mappings(session, raw.tenant)
            options = TransformOptions(status_categories=self._catalog(session, raw.integration_id))
            params = dict(raw.params or {})
            if raw.entity == "issue_changelogs" and "_issue_id" not in params and params.get("_issue_key"):
                params["_issue_id"] = self._issue_id(session, raw, str(params["_issue_key"]))
            entity, response, tenant, item_count = raw.entity, raw.response, raw.tenant, raw.item_count
            integration_id = raw.integration_id
        try:
            records = transform_page(source or "", entity, response, params, mappings, options)
        except QuarryError:
            raise
        except Exception as exc:  # a pure function failing on these bytes fails on them every time
            raise FatalError(
                f"cannot transform {entity} page {message.raw_id}: {type(exc).__name__}: {exc}"
            ) from exc
        batches = split(records, self.rows_per_message)
        loads = [
            LoadMessage(
                message_id=f"l{message.run_id}-{message.raw_id}-{seq}",
                tenant=tenant,
                run_id=message.run_id,
                integration_id=integration_id,
                raw_id=message.raw_id,
                seq=seq,
                entity=entity,
                tables=tables,
                items=item_count if seq == 0 else 0,
            )
            for seq, tables in enumerate(batches)
        ]
        if loads:
            self.queue.publish_many(Stage.LOAD, [(m.message_id, m.to_bytes()) for m in loads])
        with session_scope(self.factory) as session:
            acting_as(session, tenant)
            if loads:
                stmt = insert(LoadBatch).values(
                    [
                        {
                            "tenant": tenant,
                            "run_id": m.run_id,
                            "raw_id": m.raw_id,
                            "seq": m.seq,
                            "entity": entity,
                            "records": sum(len(r) for r in m.tables.values()),
                            "loaded_at": None,
                        }
                        for m in loads
                    ]
                )
                # A load worker may have been faster than this commit: keep its loaded_at, unless
                # the row belongs to an earlier run (a re-transform replays the page).
                stmt = stmt.on_conflict_do_update(
                    index_elements=["raw_id", "seq"],
                    set_={
                        "run_id": stmt.excluded.run_id,
                        "records": stmt.excluded.records,
                        "loaded_at": case(
                            (LoadBatch.run_id == stmt.excluded.run_id, LoadBatch.loaded_at), else_=None
                        ),
                    },
                )
                session.execute(stmt)
            # An UPDATE, not the ORM object: loading it again would fetch and decode the page's
            # whole response a second time.
            marked = session.execute(
                update(RawExtractionData)
                .where(RawExtractionData.id == message.raw_id)
                .values(transformed_at=func.now(), load_batches=len(loads))
                .execution_options(synchronize_session=False)
            )
            if marked.rowcount != 1:  # type: ignore[attr-defined]
                raise FatalError(f"raw page {message.raw_id} does not exist (pruned?)")
            # A page with nothing to load (catalogs, empty pages) is loaded as soon as it is transformed.
            loaded_now = {} if loads else {"loaded": item_count}
            add_counts(session, tenant, message.run_id, entity, transformed=item_count, **loaded_now)
        for table, rows in records.items():
            RECORDS.labels("transform", table).inc(len(rows))
        MESSAGES.labels("transform", "ok").inc()
        with session_scope(self.factory) as session:
            acting_as(session, tenant)
            complete_if_done(session, message.run_id)

    def _catalog(self, session: Session, integration_id: int) -> dict[str, str]:
        """Status id / name -> category from the integration's newest `statuses` page."""
        now = time.monotonic()
        cached = self._catalogs.get(integration_id)
        if cached is not None and now - cached[0] < CATALOG_TTL:
            return cached[1]
        response = session.scalar(
            select(RawExtractionData.response)
            .where(RawExtractionData.integration_id == integration_id, RawExtractionData.entity == "statuses")
            .order_by(RawExtractionData.id.desc())
            .limit(1)
        )
        catalog = status_catalog(response)
        self._catalogs[integration_id] = (now, catalog)
        return catalog

    @staticmethod
    def _issue_id(session: Session, raw: RawExtractionData, key: str) -> str:
        found = session.scalar(
            select(WorkItem.source_id).where(
                WorkItem.tenant == raw.tenant,
                WorkItem.integration_id == raw.integration_id,
                WorkItem.key == key,
            )
        )
        if found is None:
            raise RetriableError(f"changelog page of {key}: its issue is not loaded yet (no _issue_id given)")
        return found


def status_catalog(response: Any) -> dict[str, str]:
    items = response if isinstance(response, list) else (response or {}).get("values") or []
    catalog: dict[str, str] = {}
    for status in items:
        if not isinstance(status, dict):
            continue
        category = (status.get("statusCategory") or {}).get("key")
        if not category:
            continue
        if status.get("id") is not None:
            catalog[str(status["id"])] = category
        for name in (status.get("name"), status.get("untranslatedName")):
            if name:
                catalog.setdefault(str(name).strip().casefold(), category)
    return catalog
