"""The consume loop every worker runs: decode, handle, then ack / retry / dead-letter.

Error split (as in dlt and the Meltano SDK): a message that does not validate, or a handler that
raises FatalError, goes straight to the dead-letter queue; any other error is retried with a
delay until the attempts are used up. Infrastructure outages (the database or broker going away)
do not spend attempts: the loop backs off and tries the same messages again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from quarry_core.errors import Discard, FatalError
from quarry_core.messages import Message, decode
from quarry_core.queue.base import Delivery, QueueBackend
from quarry_core.states import Stage

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
# Outage retries double up to this: the end of an outage is noticed within 2 s, at the cost of one
# connection attempt per process every 2 s while it lasts.
OUTAGE_BACKOFF_CAP = 2.0
DeadLetterHook = Callable[[Delivery, Message | None, str], None]


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean 'the infrastructure is away', not 'this message is bad'."""
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    import psycopg2

    # Not wrapped by SQLAlchemy when it comes from the pool itself (engine.raw_connection()).
    if isinstance(exc, psycopg2.OperationalError):
        return True
    import pika.exceptions

    return isinstance(
        exc,
        pika.exceptions.AMQPConnectionError
        | pika.exceptions.StreamLostError
        | pika.exceptions.ConnectionWrongStateError
        | pika.exceptions.ChannelWrongStateError
        | ConnectionError,
    )


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:4000]


@dataclass
class ConsumerStats:
    handled: int = 0
    retried: int = 0
    dead_lettered: int = 0
    dropped: int = 0


class Consumer(Generic[M]):
    def __init__(
        self,
        queue: QueueBackend,
        stage: Stage,
        model: type[M],
        handle_batch: Callable[[Sequence[M]], None],
        *,
        batch_size: int = 1,
        idle_timeout: float = 1.0,
        on_dead_letter: DeadLetterHook | None = None,
        max_outage_backoff: float = OUTAGE_BACKOFF_CAP,
    ) -> None:
        self.queue = queue
        self.stage = stage
        self.model = model
        self.handle_batch = handle_batch
        self.batch_size = batch_size
        self.idle_timeout = idle_timeout
        self.on_dead_letter = on_dead_letter
        self.max_outage_backoff = max_outage_backoff
        self.stats = ConsumerStats()

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                self.run_once(stop)
                backoff = 0.5
            except Exception as exc:
                # The PostgreSQL queue lives in the database: an outage breaks receive itself.
                if not is_outage(exc):
                    raise
                log.warning(
                    "%s: queue unavailable (%s); retrying in %.1fs", self.stage, describe(exc), backoff
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, self.max_outage_backoff)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Receive one batch and settle every message of it; returns how many were received."""
        deliveries = self.queue.receive(self.stage, self.batch_size, self.idle_timeout)
        if not deliveries:
            return 0
        valid: list[tuple[Delivery, M]] = []
        for delivery in deliveries:
            try:
                valid.append((delivery, decode(self.model, delivery.body)))
            except FatalError as exc:
                self._dead_letter(delivery, None, str(exc))
        if valid:
            self._handle_with_outage_backoff(valid, stop)
        return len(deliveries)

    def _handle_with_outage_backoff(
        self, batch: list[tuple[Delivery, M]], stop: threading.Event | None
    ) -> None:
        backoff = 0.5
        while True:
            try:
                self._settle(batch)
                return
            except Exception as exc:
                if not is_outage(exc):
                    raise
                if stop is not None and stop.is_set():
                    return  # unacked: redelivered to whoever runs next
                log.warning(
                    "%s: infrastructure unavailable (%s); retrying in %.1fs", self.stage, exc, backoff
                )
                if stop is not None:
                    stop.wait(backoff)
                else:
                    time.sleep(backoff)
                backoff = min(backoff * 2, self.max_outage_backoff)

    def _settle(self, batch: list[tuple[Delivery, M]]) -> None:
        try:
            self.handle_batch([message for _, message in batch])
        except Exception as exc:
            if is_outage(exc):
                raise
            if len(batch) > 1:
                # Find the bad message(s): handle one by one, so one poison does not sink the rest.
                for one in batch:
                    self._settle([one])
                return
            delivery, message = batch[0]
            if isinstance(exc, Discard):
                log.warning("%s: dropping message %s: %s", self.stage, delivery.message_id, exc)
                self.queue.ack(delivery)
                self.stats.dropped += 1
                return
            self._failed(delivery, message, exc)
            return
        for delivery, _ in batch:
            self.queue.ack(delivery)
        self.stats.handled += len(batch)

    def _failed(self, delivery: Delivery, message: M, exc: Exception) -> None:
        error = describe(exc)
        if isinstance(exc, FatalError):
            log.error("%s: message %s is fatal: %s", self.stage, delivery.message_id, error)
            self._dead_letter(delivery, message, error)
            return
        log.warning(
            "%s: message %s failed (attempt %d): %s", self.stage, delivery.message_id, delivery.attempt, error
        )
        if self.queue.retry(delivery, error):
            self.stats.retried += 1
        else:
            self._after_dead_letter(delivery, message, error)

    def _dead_letter(self, delivery: Delivery, message: M | None, error: str) -> None:
        self.queue.dead_letter(delivery, error)
        self._after_dead_letter(delivery, message, error)

    def _after_dead_letter(self, delivery: Delivery, message: M | None, error: str) -> None:
        self.stats.dead_lettered += 1
        if self.on_dead_letter is None:
            return
        try:
            self.on_dead_letter(delivery, message, error)
        except Exception:
            # The message is settled already (in the dead-letter queue); a hook failing on what it
            # holds must not stop the worker every tenant shares. A run left unmarked is caught
            # by the stall sweep.
            log.exception("%s: dead-letter hook failed for message %s", self.stage, delivery.message_id)
