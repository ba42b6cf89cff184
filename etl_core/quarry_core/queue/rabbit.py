"""RabbitMQ backend (pika): durable quorum queues, publisher confirms, manual acks.

Topology per stage, e.g. for `quarry.transform`:
  quarry.transform        the work queue (quorum; x-delivery-limit dead-letters a message whose
                          consumers keep crashing on it)
  quarry.transform.retry  holds a failed message for the retry delay (message TTL), then
                          dead-letters it back to the work queue
  quarry.transform.dlq    dead letters, each with its error in the `x-quarry-error` header
  quarry.transform.t.<tenant>
                          one tenant's messages (its lane), set up like the work queue; consumers
                          take from the lanes round-robin, so a tenant's backlog cannot starve the
                          others. Lanes are found through the management API (the one the scaler
                          reads unacked counts from); without one, every message uses the work
                          queue. Retried messages come back through the work queue, the default lane.
                          A lane unused for `lane_expires` is deleted by the broker (x-expires); a
                          message never waits there for more than half of that (x-message-ttl, then
                          dead-lettered to the work queue), so no message goes with its lane.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from prometheus_client import Counter

from quarry_core.db.engine import redact
from quarry_core.errors import ConfigError, RetriableError, Unreachable
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
    retry_queue_name,
    round_robin,
)
from quarry_core.states import Stage

log = logging.getLogger(__name__)

DEPTH_READ_ERRORS = Counter(
    "quarry_queue_depth_read_errors_total",
    "Failed reads of a queue's depth (unacked count from the RabbitMQ management API)",
    ["queue"],
)

ATTEMPT_HEADER = "x-quarry-attempt"
# Quorum queues dead-letter at most once by default: a message expiring from the retry queue, or
# over the delivery limit, is dropped if the hop fails. At-least-once keeps it until the target
# confirms (RabbitMQ requires reject-publish overflow for that).
_SAFE_DEAD_LETTERING = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
ERROR_HEADER = "x-quarry-error"
# How often a consumer re-lists the lanes (a new tenant's first messages wait at most this long).
LANE_REFRESH_SECONDS = 2.0
# A consumer whose known lanes are all empty re-lists sooner: a new tenant's first pages (its lane
# just declared by the publisher) then wait a fraction of a second, not up to two.
LANE_IDLE_REFRESH_SECONDS = 0.3
# A lane empty for this long (at most a quarter of its expiry) is no longer polled, so that the
# broker can expire it; it is polled again as soon as a probe finds messages in it.
LANE_DORMANT_SECONDS = 600.0


def redact_amqp(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def connect(url: str) -> pika.BlockingConnection:
    try:
        params = pika.URLParameters(url)
    except Exception as exc:
        raise ConfigError(f"AMQP_URL is not a valid AMQP URL ({redact_amqp(url)}): {exc}") from exc
    params.heartbeat = 600
    params.blocked_connection_timeout = 300
    params.connection_attempts = 1
    params.socket_timeout = 5
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.ProbableAuthenticationError as exc:
        raise ConfigError(f"AMQP_URL: authentication failed for {redact_amqp(url)}") from exc
    except pika.exceptions.AMQPError as exc:
        reason = "; ".join(str(a) for a in exc.args if str(a)) or "connection refused or host unreachable"
        raise Unreachable(f"AMQP_URL: cannot connect to {redact_amqp(url)}: {reason}") from exc


class RabbitQueue(QueueBackend):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "quarry",
        max_attempts: int = 5,
        retry_delay: float = 5.0,
        management_url: str | None = None,
        lane_expires: float = 86400.0,
    ) -> None:
        self.url = url
        self.lane_expires = lane_expires
        self.prefix = prefix
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.management_url = management_url or _default_management_url(url)
        self._conn = connect(url)
        self._channel = self._open_channel()
        # Bumped on every reconnect: delivery tags of an earlier connection cannot be acked (the
        # broker already requeued those messages when that connection died).
        self._generation = 0
        self.poll_interval = 0.05
        self._lanes: dict[Stage, set[str]] = {}
        self._lanes_listed_at: dict[Stage, float] = {}
        # lane -> (connection generation, when): a declaration renews the lane's lease (x-expires)
        self._declared_lanes: dict[str, tuple[int, float]] = {}
        # lane -> when it last held messages (a probe, a get, a publish): polled while recent
        self._busy_at: dict[str, float] = {}
        self._probed_at: dict[Stage, float] = {}
        self._probe: BlockingChannel | None = None
        self._listing_ok = False
        self._last_lane: dict[Stage, str] = {}

    @property
    def lanes_enabled(self) -> bool:
        return self.management_url is not None

    def _ensure_open(self) -> None:
        """Reconnect after the broker went away (restart, network); the caller's retry does the rest."""
        if self._conn.is_open and self._channel.is_open:
            return
        if self._conn.is_open:
            self._channel = self._open_channel()
            self._generation += 1
            return
        try:
            self._conn = connect(self.url)
        except ConfigError as exc:
            # It worked before: now it is an outage to wait out, not a setting to fix.
            raise pika.exceptions.AMQPConnectionError(str(exc)) from exc
        self._channel = self._open_channel()
        self._generation += 1

    def _open_channel(self) -> BlockingChannel:
        channel = self._conn.channel()
        channel.confirm_delivery()
        return channel

    # --- topology -------------------------------------------------------------------------

    def declare(self) -> None:
        for stage in STAGES:
            main, retry, dlq = self._names(stage)
            self._declare(dlq, {"x-queue-type": "quorum"})
            self._declare(main, self._work_queue_arguments(stage))
            self._declare(
                retry,
                {
                    "x-queue-type": "quorum",
                    "x-message-ttl": int(self.retry_delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": main,
                    **_SAFE_DEAD_LETTERING,
                },
            )

    def _lane_arguments(self, stage: Stage) -> dict[str, Any]:
        main = queue_name(self.prefix, stage)
        return {
            **self._work_queue_arguments(stage),
            "x-expires": int(self.lane_expires * 1000),
            # A message left in a lane for half the expiry moves to the work queue (still served,
            # by every consumer): a lane cannot expire with messages in it. A message over the
            # delivery limit takes this hop too; the work queue's consumer dead-letters it.
            "x-message-ttl": int(self.lane_expires * 500),
            "x-dead-letter-routing-key": main,
        }

    def _work_queue_arguments(self, stage: Stage) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            # Returned more often than this = delivered max_attempts times: dead-lettered.
            "x-delivery-limit": max(self.max_attempts - 1, 0),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_letter_queue_name(self.prefix, stage),
            **_SAFE_DEAD_LETTERING,
        }

    def _declare(self, name: str, arguments: dict[str, Any]) -> None:
        try:
            self._channel.queue_declare(name, durable=True, arguments=arguments)
        except pika.exceptions.ChannelClosedByBroker as exc:
            self._channel = self._open_channel()
            if exc.reply_code == 406 and any(arg in str(exc.reply_text) for arg in _SAFE_DEAD_LETTERING):
                # A queue declared by an earlier version: it keeps working; the stall sweep fails
                # the runs whose messages its at-most-once dead-lettering loses.
                log.warning(
                    "queue %s was declared without at-least-once dead-lettering; delete it once "
                    "drained (or use a new QUARRY_QUEUE_PREFIX) to get it",
                    name,
                )
                plain = {k: v for k, v in arguments.items() if k not in _SAFE_DEAD_LETTERING}
                self._declare(name, plain)
                return
            if exc.reply_code == 406:
                raise ConfigError(
                    f"queue {name} exists with other settings ({exc.reply_text}); delete it, or set "
                    "QUARRY_QUEUE_PREFIX to use another set of queues"
                ) from exc
            raise

    def _declare_lane(self, lane: str, stage: Stage) -> None:
        try:
            self._channel.queue_declare(lane, durable=True, arguments=self._lane_arguments(stage))
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:
                raise
            # Messages taken on the closed channel went back to their queues: not to be acked.
            self._channel = self._open_channel()
            self._generation += 1
            # A lane declared by an earlier version (without expiry): used as it is.
            log.warning("lane %s was declared with other settings (%s); it stays until deleted", lane, exc)
            self._channel.queue_declare(lane, passive=True)

    def _names(self, stage: Stage | str) -> tuple[str, str, str]:
        return (
            queue_name(self.prefix, stage),
            retry_queue_name(self.prefix, stage),
            dead_letter_queue_name(self.prefix, stage),
        )

    # --- publishing -----------------------------------------------------------------------

    def publish(
        self, stage: Stage, body: bytes, *, message_id: str, headers: dict[str, Any] | None = None
    ) -> None:
        self._ensure_open()
        self._publish(self._route(stage, body), body, message_id, headers or {})

    def _route(self, stage: Stage, body: bytes) -> str:
        tenant = lane_of(body) if self._lanes_usable(stage) else None
        if tenant is None:
            return queue_name(self.prefix, stage)
        lane = lane_queue_name(self.prefix, stage, tenant)
        generation, declared_at = self._declared_lanes.get(lane, (-1, 0.0))
        now = time.monotonic()
        # Declared again well within its expiry: published into, a lane outlives the message's
        # time in it (x-message-ttl), however long the lane had been idle.
        if generation != self._generation or now - declared_at > self.lane_expires / 4:
            self._declare_lane(lane, stage)
            self._declared_lanes[lane] = (self._generation, now)
            self._lanes.setdefault(stage, set()).add(lane)
        self._busy_at[lane] = now
        return lane

    def _lanes_usable(self, stage: Stage) -> bool:
        """Publish into lanes only while the management API answers: consumers find lanes through
        it, so a lane they cannot list would hold its messages unseen (until x-message-ttl)."""
        if not self.lanes_enabled:
            return False
        self._lanes_of(stage)  # lists again at most every LANE_REFRESH_SECONDS
        return self._listing_ok

    def _publish(self, routing_key: str, body: bytes, message_id: str, headers: dict[str, Any]) -> None:
        props = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            content_type="application/json",
            headers=headers,
        )
        try:
            self._channel.basic_publish("", routing_key, body, props, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            self._declared_lanes.pop(routing_key, None)  # a lane deleted meanwhile: declare it again
            raise RetriableError(f"broker did not confirm the message for {routing_key}: {exc}") from exc

    # --- consuming ------------------------------------------------------------------------

    def receive(self, stage: Stage, max_messages: int = 1, timeout: float = 1.0) -> list[Delivery]:
        # basic_get, not a push consumer: an idle worker must not hold prefetched messages
        # hostage, and the depth the scaler reads stays exact.
        self._ensure_open()
        deliveries: list[Delivery] = []
        deadline = time.monotonic() + timeout
        idle = False
        while True:
            lanes = round_robin(self._polled_lanes(stage, idle), self._last_lane.get(stage))
            # One message per lane per round; a lane found empty is left for the rest of this receive.
            while lanes and len(deliveries) < max_messages:
                for lane in list(lanes):
                    if len(deliveries) >= max_messages:
                        break
                    delivery = self._get(stage, lane)
                    if delivery is None:
                        lanes.remove(lane)
                        continue
                    deliveries.append(delivery)
                    self._last_lane[stage] = lane
                    self._busy_at[lane] = time.monotonic()
            if deliveries or time.monotonic() >= deadline:
                return deliveries
            idle = True
            self._conn.sleep(self.poll_interval)

    def _get(self, stage: Stage, queue: str) -> Delivery | None:
        try:
            method, props, body = self._channel.basic_get(queue, auto_ack=False)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            # A lane deleted since it was listed; the channel (and its unacked gets) closed with it.
            self._channel = self._open_channel()
            self._generation += 1
            self._lanes.get(stage, set()).discard(queue)
            return None
        if method is None:
            return None
        headers = dict(props.headers or {})
        # x-delivery-count counts crash redeliveries; our header counts explicit retries.
        attempt = int(headers.get(ATTEMPT_HEADER, 1)) + int(headers.get("x-delivery-count", 0))
        delivery = Delivery(
            stage=stage,
            body=body,
            message_id=props.message_id or "",
            attempt=attempt,
            headers=headers,
            handle=(self._generation, method.delivery_tag),
        )
        if over_delivery_limit(headers):
            # A lane dead-letters into the work queue (see _lane_arguments): this message used up
            # its deliveries there already.
            self.dead_letter(delivery, self._delivery_limit_error())
            return None
        return delivery

    def _lanes_of(self, stage: Stage, idle: bool = False) -> list[str]:
        """The stage's work queue and its tenant lanes, re-listed every LANE_REFRESH_SECONDS (every
        LANE_IDLE_REFRESH_SECONDS while every known lane is empty)."""
        main = queue_name(self.prefix, stage)
        every = LANE_IDLE_REFRESH_SECONDS if idle else LANE_REFRESH_SECONDS
        if self.lanes_enabled and time.monotonic() - self._lanes_listed_at.get(stage, -1e9) > every:
            self._lanes_listed_at[stage] = time.monotonic()
            try:
                listed = self._list_queues(stage)
            except QueueReadError as exc:
                log.debug("keeping the known lanes of %s, all polled: %s", main, exc)
                self._busy_at.update(dict.fromkeys(self._lanes.get(stage, ()), time.monotonic()))
                self._listing_ok = False
            else:
                self._note_listing(stage, listed)
        return [main, *self._lanes.get(stage, ())]

    def _polled_lanes(self, stage: Stage, idle: bool = False) -> list[str]:
        """The lanes a receive visits: the work queue and every lane that held messages lately.
        A get keeps a lane from expiring, so a dormant lane is only probed (a passive declare
        does not) every LANE_REFRESH_SECONDS, and polled again once it holds messages."""
        main, *lanes = self._lanes_of(stage, idle)
        now = time.monotonic()
        probe = now - self._probed_at.get(stage, -1e9) > LANE_REFRESH_SECONDS
        if probe:
            self._probed_at[stage] = now
        polled = []
        for lane in lanes:
            if is_dormant(self._busy_at.get(lane), now, self.lane_expires):
                if not probe or self._passive_count(lane) == 0:
                    continue
                self._busy_at[lane] = now
            polled.append(lane)
        return [main, *polled]

    def _note_listing(self, stage: Stage, listed: dict[str, int]) -> None:
        self._listing_ok = True
        main = queue_name(self.prefix, stage)
        now = time.monotonic()
        known = self._lanes.get(stage, set())
        lanes = {name for name in listed if name != main}
        # A lane seen for the first time was most likely just declared by a publisher: polled at
        # once rather than left for the next probe.
        for lane in lanes - known:
            self._busy_at.setdefault(lane, now)
        self._lanes[stage] = lanes
        self._lanes_listed_at[stage] = now

    def _list_queues(self, stage: Stage) -> dict[str, int]:
        """{name: unacked} of the stage's work queue and lanes, from the management API."""
        assert self.management_url
        main = queue_name(self.prefix, stage)
        pattern = f"^{re.escape(main)}(\\.t\\..+)?$"
        query = urllib.parse.urlencode(
            {
                "page": 1,
                "page_size": 500,
                "name": pattern,
                "use_regex": "true",
                "columns": "name,messages_unacknowledged",
            }
        )
        data = self._management_get(f"/api/queues/{self._quoted_vhost()}?{query}", main)
        items = data.get("items", []) if isinstance(data, dict) else []
        return {
            str(item["name"]): int(item.get("messages_unacknowledged", 0) or 0)
            for item in items
            if isinstance(item, dict) and "name" in item
        }

    def ack(self, delivery: Delivery) -> None:
        if self._stale(delivery):
            return  # taken on a connection that died: the broker delivers it again
        self._channel.basic_ack(delivery.handle[1])

    def _stale(self, delivery: Delivery) -> bool:
        return bool(delivery.handle[0] != self._generation)

    def retry(self, delivery: Delivery, error: str) -> bool:
        if self._stale(delivery):
            return True  # the broker requeued it when the old connection died
        if delivery.attempt >= self.max_attempts:
            self.dead_letter(delivery, error)
            return False
        headers = _carry_headers(delivery.headers)
        headers[ATTEMPT_HEADER] = delivery.attempt + 1
        headers[ERROR_HEADER] = error[:4000]
        # Publish (confirmed) before the ack: a crash in between duplicates, never loses.
        self._publish(
            retry_queue_name(self.prefix, delivery.stage), delivery.body, delivery.message_id, headers
        )
        self.ack(delivery)
        return True

    def dead_letter(self, delivery: Delivery, error: str) -> None:
        if self._stale(delivery):
            return  # requeued by the broker; it is judged again on its next delivery
        headers = _carry_headers(delivery.headers)
        headers[ATTEMPT_HEADER] = delivery.attempt
        headers[ERROR_HEADER] = error[:4000]
        self._publish(
            dead_letter_queue_name(self.prefix, delivery.stage), delivery.body, delivery.message_id, headers
        )
        self.ack(delivery)

    # --- inspection -----------------------------------------------------------------------

    def depth(self, stage: Stage) -> QueueDepth:
        self._ensure_open()
        main, retry, dlq = self._names(stage)
        unacked = self._unacked(stage)
        ready = sum(self._passive_count(name) for name in self._lanes_of(stage))
        delayed = self._passive_count(retry)
        dead = self._passive_count(dlq)
        return QueueDepth(main, ready, unacked, delayed, dead)

    def _passive_count(self, name: str) -> int:
        """Ready messages, 0 for a queue that is gone. On a channel of its own: a 404 closes it,
        and the consuming channel's unacked messages must not go with it."""
        if self._probe is None or not self._probe.is_open:
            self._probe = self._conn.channel()
        try:
            frame = self._probe.queue_declare(name, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            self._probe = None
            if exc.reply_code == 404:
                return 0
            raise
        return int(frame.method.message_count)

    def _unacked(self, stage: Stage) -> int:
        """Unacked count of the work queue and its lanes from the management API (AMQP cannot
        tell it); 0 when none is configured.

        A failed read raises: reading it as 0 would under-count work in progress and scale workers
        down under load, while a failed read lets the scaler hold, then fall back (KEDA's fallback).
        """
        if not self.management_url:
            return 0
        main = queue_name(self.prefix, stage)
        try:
            listed = self._list_queues(stage)
        except QueueReadError as exc:
            DEPTH_READ_ERRORS.labels(main).inc()
            shown = redact(self.management_url)
            log.warning("cannot read the unacked count of %s from %s: %s", main, shown, exc)
            raise
        self._note_listing(stage, listed)
        return sum(listed.values())

    def _quoted_vhost(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        return urllib.parse.quote(vhost, safe="")

    def _management_get(self, path: str, name: str) -> Any:
        parts = urllib.parse.urlsplit(self.url)
        user = urllib.parse.unquote(parts.username or "guest")
        password = urllib.parse.unquote(parts.password or "guest")
        request = urllib.request.Request(
            f"{self.management_url}{path}",
            headers={"Authorization": "Basic " + b64encode(f"{user}:{password}".encode()).decode()},
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                return json.load(resp)
        except (OSError, ValueError, AttributeError) as exc:
            raise QueueReadError(
                f"unacked count of {name} unreadable from the management API: {exc}"
            ) from exc

    def dead_letters(self, stage: Stage, limit: int = 100) -> list[DeadLetterRecord]:
        """Read without removing: get each, then requeue them all on a channel we close."""
        dlq = dead_letter_queue_name(self.prefix, stage)
        channel = self._conn.channel()
        records: list[DeadLetterRecord] = []
        try:
            for _ in range(limit):
                method, props, body = channel.basic_get(dlq, auto_ack=False)
                if method is None:
                    break
                records.append(self._dead_record(dlq, props, body))
        finally:
            channel.close()  # unacked gets go back to the queue in order
        return records

    def _delivery_limit_error(self) -> str:
        return f"delivery limit exceeded ({self.max_attempts}): consumers kept failing"

    def _dead_record(self, dlq: str, props: pika.BasicProperties, body: bytes) -> DeadLetterRecord:
        headers = dict(props.headers or {})
        error = headers.get(ERROR_HEADER)
        if error is None and headers.get("x-death"):
            error = self._delivery_limit_error()
        return DeadLetterRecord(
            dlq, props.message_id or "", body, str(error or ""), int(headers.get(ATTEMPT_HEADER, 0))
        )

    def take_dead_letter(
        self, stage: Stage, message_id: str, tenant: str, *, replay: bool, scan: int = 10_000
    ) -> DeadLetterRecord | None:
        self._ensure_open()
        dlq = dead_letter_queue_name(self.prefix, stage)
        channel = self._conn.channel()
        try:
            for _ in range(scan):
                method, props, body = channel.basic_get(dlq, auto_ack=False)
                if method is None:
                    return None
                if props.message_id != message_id or peek_tenant_and_run(body)[0] != tenant:
                    continue
                if replay:
                    headers = _carry_headers(dict(props.headers or {}))
                    headers.pop(ATTEMPT_HEADER, None)
                    headers.pop(ERROR_HEADER, None)
                    self.publish(stage, body, message_id=message_id, headers=headers)
                channel.basic_ack(method.delivery_tag)
                return self._dead_record(dlq, props, body)
            return None
        finally:
            channel.close()  # the letters passed over go back to the queue

    def purge(self, stage: Stage) -> None:
        for name in {*self._names(stage), *self._known_lanes(stage)}:
            try:
                self._channel.queue_purge(name)
            except pika.exceptions.ChannelClosedByBroker:
                self._channel = self._open_channel()

    def delete_topology(self) -> None:
        for stage in STAGES:
            for name in {*self._names(stage), *self._known_lanes(stage)}:
                self._channel.queue_delete(name)

    def _known_lanes(self, stage: Stage) -> set[str]:
        if self.lanes_enabled:
            with contextlib.suppress(QueueReadError):
                main = queue_name(self.prefix, stage)
                self._lanes[stage] = {n for n in self._list_queues(stage) if n != main}
        return set(self._lanes.get(stage, ()))

    def close(self) -> None:
        if self._conn.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._conn.close()


class QueueReadError(RetriableError):
    """A queue's depth could not be read; the scaler counts it toward its fallback."""


def is_dormant(busy_at: float | None, now: float, lane_expires: float) -> bool:
    """Whether a lane has been empty long enough to stop polling it (so that it can expire)."""
    return busy_at is None or now - busy_at >= min(LANE_DORMANT_SECONDS, lane_expires / 4)


def over_delivery_limit(headers: dict[str, Any]) -> bool:
    """Whether a queue's delivery limit dead-lettered this message before (its x-death history)."""
    deaths = headers.get("x-death")
    return isinstance(deaths, list) and any(
        isinstance(d, dict) and d.get("reason") in ("delivery_limit", b"delivery_limit") for d in deaths
    )


def _carry_headers(headers: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in headers.items() if not k.startswith("x-") or k.startswith("x-quarry-")}


def _default_management_url(amqp_url: str) -> str | None:
    parts = urllib.parse.urlsplit(amqp_url)
    if not parts.hostname:
        return None
    scheme = "https" if parts.scheme == "amqps" else "http"
    return f"{scheme}://{parts.hostname}:15672"
