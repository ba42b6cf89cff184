"""The embedded queue: PostgreSQL rows claimed with FOR UPDATE SKIP LOCKED.

A claimed message is invisible until its visibility timeout passes; a consumer that dies
without acking therefore loses nothing: the message becomes visible again and is redelivered.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

from sqlalchemy import Engine, text

from quarry_core.db.tenancy import as_platform
from quarry_core.queue.base import (
    STAGES,
    DeadLetterRecord,
    Delivery,
    QueueBackend,
    QueueDepth,
    dead_letter_queue_name,
    lane_of,
    lane_queue_name,
    peek_tenant_and_run,
    queue_name,
    round_robin,
)
from quarry_core.states import Stage

# Fair claim. Each tenant's messages are a lane: rows of queue `<stage queue>.t.<tenant>`
# (`lane_queue_name`), the stage's own queue being the default lane. The lanes are found by walking
# the distinct queue names on the (queue, available_at, id) index, one probe each; then the first
# ready rows of every lane are ranked within their lane (1st of each lane, then 2nd, ...), lanes in
# name order starting after the one this consumer served last. So one tenant's backlog never
# queues the others behind it, and a claim costs the same at any backlog.
_READY = "{t}.available_at <= now() AND ({t}.locked_until IS NULL OR {t}.locked_until < now())"
_CLAIM = text(
    f"""
    WITH RECURSIVE walk(queue) AS (
        (SELECT queue FROM queue_messages WHERE queue >= :queue ORDER BY queue LIMIT 1)
        UNION ALL
        SELECT (SELECT m.queue FROM queue_messages m WHERE m.queue > w.queue ORDER BY m.queue LIMIT 1)
        FROM walk w WHERE w.queue IS NOT NULL
    ), lanes AS (
        SELECT queue AS lane FROM walk WHERE queue = :queue OR starts_with(queue, :lanes)
    ), fair AS (
        SELECT c.id, c.rank, lanes.lane FROM lanes
        CROSS JOIN LATERAL (
            SELECT m.id, row_number() OVER (ORDER BY m.available_at, m.id) AS rank FROM queue_messages m
            WHERE m.queue = lanes.lane AND {_READY.format(t="m")}
            ORDER BY m.available_at, m.id LIMIT :candidates
        ) c
    )
    UPDATE queue_messages SET locked_until = now() + make_interval(secs => :vis),
           locked_by = :me, attempt = attempt + 1
    WHERE id IN (
        SELECT q.id FROM queue_messages q JOIN fair ON fair.id = q.id
        WHERE {_READY.format(t="q")}
        ORDER BY fair.rank, fair.lane <= :after, fair.lane, q.id
        LIMIT :n FOR UPDATE OF q SKIP LOCKED)
    RETURNING id, queue, message_id, body, headers, attempt, last_error
    """
)
# Every lane of a stage: the stage's queue and its tenants' queues.
_OF_STAGE = "(queue = :queue OR starts_with(queue, :lanes))"
_MOVE_TO_DEAD = text(
    """
    WITH moved AS (
        DELETE FROM queue_messages WHERE id = :id RETURNING message_id, body, headers, attempt)
    INSERT INTO dead_letters (tenant, queue, message_id, body, headers, error, attempts, run_id)
    SELECT CAST(:tenant AS varchar), :dlq, message_id, body, headers, :error, attempt, CAST(:run_id AS bigint)
    FROM moved
    """
)


class PgQueue(QueueBackend):
    def __init__(
        self,
        engine: Engine,
        *,
        prefix: str = "quarry",
        max_attempts: int = 5,
        retry_delay: float = 5.0,
        visibility_timeout: float = 300.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.engine = engine
        self.prefix = prefix
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.visibility_timeout = visibility_timeout
        self.poll_interval = poll_interval
        self.consumer_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._last_lane: dict[Stage, str] = {}

    def declare(self) -> None:
        # The tables come with the schema migration; nothing else to create.
        with self.engine.connect() as conn:
            as_platform(conn)
            conn.execute(text("select 1 from queue_messages limit 0"))

    def publish(
        self, stage: Stage, body: bytes, *, message_id: str, headers: dict[str, Any] | None = None
    ) -> None:
        self.publish_many(stage, [(message_id, body)])

    def publish_many(self, stage: Stage, messages: Any) -> None:
        rows = [
            {
                "queue": lane_queue_name(self.prefix, stage, tenant)
                if (tenant := lane_of(body))
                else queue_name(self.prefix, stage),
                "message_id": mid,
                "body": body,
            }
            for mid, body in messages
        ]
        if not rows:
            return
        with self.engine.begin() as conn:
            as_platform(conn)
            conn.execute(
                text(
                    "INSERT INTO queue_messages (queue, message_id, body, headers, attempt) "
                    "VALUES (:queue, :message_id, :body, '{}'::jsonb, 0)"
                ),
                rows,
            )

    def receive(self, stage: Stage, max_messages: int = 1, timeout: float = 1.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        params = {
            "vis": self.visibility_timeout,
            "me": self.consumer_id,
            "queue": queue_name(self.prefix, stage),
            "lanes": lane_queue_name(self.prefix, stage, ""),
            "n": max_messages,
            "candidates": max_messages * 2,
        }
        while True:
            with self.engine.begin() as conn:
                as_platform(conn)
                rows = conn.execute(_CLAIM, {**params, "after": self._last_lane.get(stage, "")}).all()
            if rows:
                served = {str(r.queue) for r in rows}
                self._last_lane[stage] = round_robin(served, self._last_lane.get(stage))[-1]
            deliveries = []
            for row in sorted(rows, key=lambda r: r.id):
                delivery = Delivery(
                    stage=stage,
                    body=bytes(row.body),
                    message_id=row.message_id,
                    attempt=row.attempt,
                    headers=dict(row.headers or {}),
                    handle=row.id,
                )
                if row.attempt > self.max_attempts:
                    # Delivered too often without an ack or a nack: its consumers keep dying on it.
                    last = f"; last error: {row.last_error}" if row.last_error else ""
                    self.dead_letter(delivery, f"delivery limit exceeded ({self.max_attempts}){last}")
                    continue
                deliveries.append(delivery)
            if deliveries or time.monotonic() >= deadline:
                return deliveries
            time.sleep(self.poll_interval)

    def ack(self, delivery: Delivery) -> None:
        with self.engine.begin() as conn:
            as_platform(conn)
            conn.execute(
                text("DELETE FROM queue_messages WHERE id = :id AND locked_by = :me"),
                {"id": delivery.handle, "me": self.consumer_id},
            )

    def retry(self, delivery: Delivery, error: str) -> bool:
        if delivery.attempt >= self.max_attempts:
            self.dead_letter(delivery, error)
            return False
        with self.engine.begin() as conn:
            as_platform(conn)
            conn.execute(
                text(
                    "UPDATE queue_messages SET locked_until = NULL, locked_by = NULL, last_error = :error, "
                    "available_at = now() + make_interval(secs => :delay) WHERE id = :id AND locked_by = :me"
                ),
                {"id": delivery.handle, "me": self.consumer_id, "error": error, "delay": self.retry_delay},
            )
        return True

    def dead_letter(self, delivery: Delivery, error: str) -> None:
        tenant, run_id = peek_tenant_and_run(delivery.body)
        with self.engine.begin() as conn:
            as_platform(conn)
            conn.execute(
                _MOVE_TO_DEAD,
                {
                    "id": delivery.handle,
                    "dlq": dead_letter_queue_name(self.prefix, delivery.stage),
                    "error": error,
                    "tenant": tenant,
                    "run_id": run_id,
                },
            )

    def depth(self, stage: Stage) -> QueueDepth:
        with self.engine.connect() as conn:
            as_platform(conn)
            row = conn.execute(
                text(
                    f"""
                    SELECT
                      count(*) FILTER (WHERE available_at <= now()
                                         AND (locked_until IS NULL OR locked_until < now())) AS ready,
                      count(*) FILTER (WHERE locked_until >= now()) AS unacked,
                      count(*) FILTER (WHERE available_at > now()
                                         AND (locked_until IS NULL OR locked_until < now())) AS delayed
                    FROM queue_messages WHERE {_OF_STAGE}
                    """
                ),
                self._stage_params(stage),
            ).one()
            dead = conn.execute(
                text("SELECT count(*) FROM dead_letters WHERE queue = :q"),
                {"q": dead_letter_queue_name(self.prefix, stage)},
            ).scalar_one()
        return QueueDepth(queue_name(self.prefix, stage), row.ready, row.unacked, row.delayed, dead)

    def dead_letters(self, stage: Stage, limit: int = 100) -> list[DeadLetterRecord]:
        with self.engine.connect() as conn:
            as_platform(conn)
            rows = conn.execute(
                text(
                    "SELECT queue, message_id, body, error, attempts FROM dead_letters "
                    "WHERE queue = :q ORDER BY id LIMIT :n"
                ),
                {"q": dead_letter_queue_name(self.prefix, stage), "n": limit},
            ).all()
        return [DeadLetterRecord(r.queue, r.message_id, bytes(r.body), r.error, r.attempts) for r in rows]

    def take_dead_letter(
        self, stage: Stage, message_id: str, tenant: str, *, replay: bool
    ) -> DeadLetterRecord | None:
        with self.engine.begin() as conn:
            as_platform(conn)  # the queue's own tables; the caller's tenant is in the WHERE
            row = conn.execute(
                text(
                    "SELECT id, queue, message_id, body, headers, error, attempts FROM dead_letters "
                    "WHERE queue = :q AND message_id = :m AND tenant = :t ORDER BY id LIMIT 1 FOR UPDATE"
                ),
                {"q": dead_letter_queue_name(self.prefix, stage), "m": message_id, "t": tenant},
            ).first()
            if row is None:
                return None
            if replay:
                headers = dict(row.headers or {})
                self.publish(stage, bytes(row.body), message_id=row.message_id, headers=headers)
            conn.execute(text("DELETE FROM dead_letters WHERE id = :id"), {"id": row.id})
        return DeadLetterRecord(row.queue, row.message_id, bytes(row.body), row.error, row.attempts)

    def purge(self, stage: Stage) -> None:
        with self.engine.begin() as conn:
            as_platform(conn)
            conn.execute(text(f"DELETE FROM queue_messages WHERE {_OF_STAGE}"), self._stage_params(stage))
            conn.execute(
                text("DELETE FROM dead_letters WHERE queue = :q"),
                {"q": dead_letter_queue_name(self.prefix, stage)},
            )

    def _stage_params(self, stage: Stage) -> dict[str, str]:
        return {"queue": queue_name(self.prefix, stage), "lanes": lane_queue_name(self.prefix, stage, "")}

    def close(self) -> None:
        # The engine belongs to the caller (shared by the process).
        return None


__all__ = ["STAGES", "PgQueue"]
