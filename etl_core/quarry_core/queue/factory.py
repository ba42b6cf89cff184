"""Pick the queue backend the settings ask for."""

from __future__ import annotations

import threading

from quarry_core.db.engine import get_engine
from quarry_core.outage import when_reachable
from quarry_core.queue.base import QueueBackend
from quarry_core.settings import CoreSettings, reveal


def open_queue(settings: CoreSettings) -> QueueBackend:
    """RabbitMQ when AMQP_URL is set, otherwise the PostgreSQL queue on the Quarry database."""
    if settings.amqp_url:
        from quarry_core.queue.rabbit import RabbitQueue

        return RabbitQueue(
            settings.amqp_url.get_secret_value(),
            prefix=settings.queue_prefix,
            max_attempts=settings.queue_max_attempts,
            retry_delay=settings.queue_retry_delay_seconds,
            management_url=reveal(settings.rabbitmq_management_url),
            lane_expires=settings.queue_lane_expires_seconds,
        )
    from quarry_core.queue.pg import PgQueue

    return PgQueue(
        get_engine(settings),
        prefix=settings.queue_prefix,
        max_attempts=settings.queue_max_attempts,
        retry_delay=settings.queue_retry_delay_seconds,
        visibility_timeout=settings.queue_visibility_timeout_seconds,
    )


def open_declared_queue(
    settings: CoreSettings, what: str, *, stop: threading.Event | None = None
) -> QueueBackend:
    """The queue of a long-running process, its topology declared. A broker (or, for the
    PostgreSQL queue, a database) that does not answer yet is waited out like an outage later
    on, for at most `outage_seconds`: a process started during a restart must not fail for it."""

    def attempt() -> QueueBackend:
        queue = open_queue(settings)
        try:
            queue.declare()
        except BaseException:
            queue.close()
            raise
        return queue

    return when_reachable(attempt, what, max_seconds=settings.outage_seconds, stop=stop)
