"""The page writer: stores fetched pages on its own thread, in batches, and publishes them.

The runner hands over every processed page together with the checkpoint as it stands after that
page. The writer takes whatever has queued up (at least one entry, at most a batch), and in ONE
transaction inserts the pages, adds the counters and saves the newest checkpoint; only after the
commit does it publish the pages' transform messages. A batch is therefore exactly as safe as a
single page was: the checkpoint never runs ahead of the stored pages, and a crash between commit
and publish is repaired on resume by republishing the batch the checkpoint names (`last_batch`).

The queue between the threads is bounded, so a slow database holds the fetching back instead of
piling pages up in memory.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from quarry_core.db.tenancy import acting_as
from quarry_core.messages import TransformMessage
from quarry_core.outage import through_outages
from quarry_core.queue.base import QueueBackend
from quarry_core.states import Stage
from quarry_extractor.raw_store import RawPage, save_checkpoint, store_pages

log = logging.getLogger(__name__)

# The checkpoint (as JSON) and the nested candidate cursors; built lazily, only for the last
# entry of a batch.
Snapshot = Callable[[], tuple[dict[str, Any], dict[str, Any]]]
# Returns the queue with its topology declared, having waited out a broker that is not up yet.
OpenQueue = Callable[[], QueueBackend]


@dataclass(frozen=True)
class Entry:
    page: RawPage | None  # None: the item produced no page (e.g. a 304), only the checkpoint moves
    snapshot: Snapshot


_CLOSE = object()


class WriterError(Exception):
    """The writer thread stopped on an error; `__cause__` is that error."""


class PageWriter:
    def __init__(
        self,
        engine: Engine,
        open_queue: OpenQueue,
        *,
        tenant: str,
        run_id: int,
        integration_id: int,
        republish: list[tuple[int, str]],
        outage_seconds: float = 600.0,
        max_pending: int = 8,
        max_batch_pages: int = 16,
        max_batch_bytes: int = 8 << 20,
    ) -> None:
        self.engine = engine
        self.open_queue = open_queue
        self.tenant = tenant
        self.run_id = run_id
        self.integration_id = integration_id
        self.republish = republish
        self.outage_seconds = outage_seconds
        self.max_batch_pages = max_batch_pages
        self.max_batch_bytes = max_batch_bytes
        self.pages_stored = 0
        self.batches = 0
        self._queue: queue.Queue[Entry | object] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="page-writer", daemon=True)

    def start(self) -> PageWriter:
        self._thread.start()
        return self

    def put(self, entry: Entry) -> None:
        """Queue one processed page; blocks while the writer is `max_pending` behind."""
        while True:
            self._raise_error()
            try:
                self._queue.put(entry, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Store everything queued, then stop; raises what stopped the writer, if anything."""
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join()
        self._raise_error()

    def abandon(self) -> None:
        """Stop after the batch in hand, storing what is queued (best effort, never raises)."""
        try:
            self.close()
        except WriterError as exc:
            log.warning("run %s: the page writer stopped: %s", self.run_id, exc.__cause__)

    def _raise_error(self) -> None:
        if self._error is not None:
            raise WriterError(str(self._error)) from self._error

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            with self.open_queue() as q:
                if self.republish:
                    # A crash between a batch's commit and its publish loses those messages;
                    # transform is idempotent, so sending them again is safe.
                    self._publish(q, self.republish)
                while True:
                    batch, closing = self._next_batch()
                    if batch:
                        self._publish(q, self._write(batch))
                    if closing:
                        return
        except BaseException as exc:  # handed to the runner thread
            self._error = exc

    def _next_batch(self) -> tuple[list[Entry], bool]:
        first = self._queue.get()
        if first is _CLOSE:
            return [], True
        assert isinstance(first, Entry)
        batch, size = [first], _size(first)
        while len(batch) < self.max_batch_pages and size < self.max_batch_bytes:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            if entry is _CLOSE:
                return batch, True
            assert isinstance(entry, Entry)
            batch.append(entry)
            size += _size(entry)
        return batch, False

    def _write(self, batch: list[Entry]) -> list[tuple[int, str]]:
        # One transaction (pages + checkpoint), so repeating it after an outage is safe.
        what = f"run {self.run_id}: storing pages"
        return through_outages(lambda: self._write_once(batch), what, max_seconds=self.outage_seconds)

    def _write_once(self, batch: list[Entry]) -> list[tuple[int, str]]:
        pages = [e.page for e in batch if e.page is not None]
        with Session(self.engine) as s, s.begin():
            acting_as(s, self.tenant)
            stored = store_pages(s, pages)
            checkpoint, cursors = batch[-1].snapshot()
            save_checkpoint(s, self.run_id, {**checkpoint, "last_batch": stored}, cursors)
        self.pages_stored += len(stored)
        self.batches += 1
        return stored

    def _publish(self, q: QueueBackend, stored: list[tuple[int, str]]) -> None:
        messages = []
        for raw_id, entity in stored:
            msg = TransformMessage(
                tenant=self.tenant,
                run_id=self.run_id,
                integration_id=self.integration_id,
                raw_id=raw_id,
                entity=entity,
            )
            messages.append((msg.message_id, msg.to_bytes()))
        if messages:
            # Transform is idempotent: a batch published twice across an outage is harmless.
            through_outages(
                lambda: q.publish_many(Stage.TRANSFORM, messages),
                f"run {self.run_id}: publishing pages",
                max_seconds=self.outage_seconds,
            )


def _size(entry: Entry) -> int:
    return len(entry.page.response_text) if entry.page is not None else 0
