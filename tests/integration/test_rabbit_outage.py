"""A RabbitMQ outage: consumers back off, reconnect, and lose nothing.

The shared broker is never stopped: the consumer reaches it through a proxy the test cuts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from quarry_core.messages import TransformMessage
from quarry_core.queue.consumer import Consumer
from quarry_core.queue.rabbit import RabbitQueue
from quarry_core.states import Stage
from tests.support.proxy import Proxy


def test_consumer_survives_a_broker_outage(amqp_url: str, queue_prefix: str) -> None:
    parts = urlsplit(amqp_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5672))
    proxied = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}").geturl()
    direct = RabbitQueue(amqp_url, prefix=queue_prefix, max_attempts=3, retry_delay=0.2)
    direct.declare()
    seen: list[int] = []
    stop = threading.Event()

    def handle(batch: Sequence[TransformMessage]) -> None:
        seen.extend(m.raw_id for m in batch)

    def publish(*ids: int) -> None:
        for i in ids:
            m = TransformMessage(tenant="acme", run_id=1, integration_id=1, raw_id=i, entity="issues")
            direct.publish(Stage.TRANSFORM, m.to_bytes(), message_id=m.message_id)

    consumer_queue = RabbitQueue(proxied, prefix=queue_prefix, max_attempts=3, retry_delay=0.2)
    consumer = Consumer(consumer_queue, Stage.TRANSFORM, TransformMessage, handle, idle_timeout=0.2)
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    try:
        thread.start()
        publish(1, 2)
        deadline = time.monotonic() + 10
        while len(set(seen)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(seen) == {1, 2}

        proxy.cut()
        publish(3, 4)  # the broker keeps them while the consumer cannot reach it
        time.sleep(1.5)
        assert thread.is_alive(), "the consumer died during the outage"
        proxy.restore()

        deadline = time.monotonic() + 30
        while set(seen) != {1, 2, 3, 4} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(seen) == {1, 2, 3, 4}  # nothing lost (at-least-once: a repeat is allowed)
        assert consumer.stats.dead_lettered == 0
        assert direct.dead_letters(Stage.TRANSFORM) == []
    finally:
        stop.set()
        thread.join(timeout=10)
        consumer_queue.close()
        proxy.close()
        direct.delete_topology()
        direct.close()
