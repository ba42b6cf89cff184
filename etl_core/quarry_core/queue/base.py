"""The queue interface every stage uses, whatever the backend.

Semantics (both backends, proven by tests/integration/test_queue_contract.py):
at-least-once delivery; a consumer acks only after its write commits; an unacked message of a
crashed consumer is delivered again; `retry` re-queues after a delay until `max_attempts`
deliveries, then the message goes to the stage's dead-letter queue with its last error.

Fair sharing: messages are served round-robin between tenants (their "lanes"), FIFO within one
tenant, so one tenant's backlog cannot starve the others (docs/reliability.md).
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from quarry_core.states import Stage

STAGES: tuple[Stage, ...] = (Stage.EXTRACT, Stage.TRANSFORM, Stage.LOAD)


def queue_name(prefix: str, stage: Stage | str) -> str:
    return f"{prefix}.{stage}"


def retry_queue_name(prefix: str, stage: Stage | str) -> str:
    return f"{prefix}.{stage}.retry"


def dead_letter_queue_name(prefix: str, stage: Stage | str) -> str:
    return f"{prefix}.{stage}.dlq"


def lane_queue_name(prefix: str, stage: Stage | str, tenant: str) -> str:
    """RabbitMQ: the stage's queue for one tenant's messages."""
    return f"{prefix}.{stage}.t.{tenant}"


# Every message body starts with the Message fields in declaration order (version, message_id,
# tenant, ...), so the tenant is near the start: no need to parse a load batch of megabytes.
_TENANT = re.compile(rb'"tenant":"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)"')
_PEEK_BYTES = 256


def lane_of(body: bytes) -> str | None:
    """The tenant a message body belongs to, or None (then it shares the stage's default lane).

    Only namespace-shaped names (DNS labels) count: they are safe in a queue name.
    """
    match = _TENANT.search(body[:_PEEK_BYTES])
    return match.group(1).decode() if match else None


def round_robin(lanes: Iterable[str], after: str | None) -> list[str]:
    """The order in which a receive visits the lanes: by name, starting after the lane the
    previous receive served last, so even a batch of one alternates between tenants."""
    ordered = sorted(set(lanes))
    if after is None:
        return ordered
    return [lane for lane in ordered if lane > after] + [lane for lane in ordered if lane <= after]


@dataclass
class Delivery:
    stage: Stage
    body: bytes
    message_id: str
    attempt: int
    headers: dict[str, Any] = field(default_factory=dict)
    handle: Any = None


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    ready: int
    unacked: int
    delayed: int
    dead: int

    @property
    def total(self) -> int:
        """What the scaler reads: work waiting plus work in progress (KEDA's includeUnacked)."""
        return self.ready + self.unacked


@dataclass(frozen=True)
class DeadLetterRecord:
    queue: str
    message_id: str
    body: bytes
    error: str
    attempts: int


def peek_tenant_and_run(body: bytes) -> tuple[str | None, int | None]:
    """Best effort: a dead letter keeps its tenant and run when the body says them."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    tenant = data.get("tenant") if isinstance(data.get("tenant"), str) else None
    run_id = data.get("run_id") if isinstance(data.get("run_id"), int) else None
    return tenant, run_id


class QueueBackend(abc.ABC):
    """One connection's worth of queue access; not shared between threads."""

    prefix: str
    max_attempts: int

    @abc.abstractmethod
    def declare(self) -> None:
        """Create the topology (idempotent)."""

    @abc.abstractmethod
    def publish(
        self, stage: Stage, body: bytes, *, message_id: str, headers: dict[str, Any] | None = None
    ) -> None:
        """Store one message durably; returns only once the broker confirmed it."""

    def publish_many(self, stage: Stage, messages: Iterable[tuple[str, bytes]]) -> None:
        for message_id, body in messages:
            self.publish(stage, body, message_id=message_id)

    @abc.abstractmethod
    def receive(self, stage: Stage, max_messages: int = 1, timeout: float = 1.0) -> list[Delivery]:
        """Up to `max_messages`, waiting at most `timeout` seconds for the first one."""

    @abc.abstractmethod
    def ack(self, delivery: Delivery) -> None: ...

    @abc.abstractmethod
    def retry(self, delivery: Delivery, error: str) -> bool:
        """Deliver again after the retry delay; dead-letter once attempts are used up.

        Returns True when the message will be retried, False when it was dead-lettered.
        """

    @abc.abstractmethod
    def dead_letter(self, delivery: Delivery, error: str) -> None:
        """Move to the stage's dead-letter queue at once, keeping the error."""

    @abc.abstractmethod
    def depth(self, stage: Stage) -> QueueDepth: ...

    @abc.abstractmethod
    def dead_letters(self, stage: Stage, limit: int = 100) -> list[DeadLetterRecord]: ...

    @abc.abstractmethod
    def take_dead_letter(
        self, stage: Stage, message_id: str, tenant: str, *, replay: bool
    ) -> DeadLetterRecord | None:
        """Remove the tenant's dead letter `message_id` from the stage's dead-letter queue; with
        `replay`, publish it back to the stage's queue (with fresh attempts) before removing it, so
        a crash in between replays it twice (every write is an upsert) but never loses it.
        None when the tenant has no such dead letter."""

    @abc.abstractmethod
    def purge(self, stage: Stage) -> None:
        """Drop every message of the stage, dead letters included (tests, `quarry queues --purge`)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> QueueBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
