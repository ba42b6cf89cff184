"""RabbitMQ lanes go away when idle, and no message goes with them (real broker, short expiry).

A lane is declared with x-expires; the broker deletes a queue that nobody used (no get, no
consumer, no declaration) for that long, ready messages included. So consumers stop polling a lane
that has been empty for a while, and a message never stays in a lane for more than half the
expiry: it is dead-lettered to the stage's work queue, which every consumer serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pika
import pika.exceptions
import pytest

from quarry_core.messages import TransformMessage
from quarry_core.queue.base import lane_queue_name
from quarry_core.queue.rabbit import RabbitQueue
from quarry_core.states import Stage

T = Stage.TRANSFORM
EXPIRES = 4.0  # seconds: messages move on after 2 s, an idle lane is left alone after 1 s


@pytest.fixture
def connect(amqp_url: str, queue_prefix: str) -> Iterator[Callable[[], RabbitQueue]]:
    opened: list[RabbitQueue] = []

    def make() -> RabbitQueue:
        q = RabbitQueue(amqp_url, prefix=queue_prefix, max_attempts=3, retry_delay=0.2, lane_expires=EXPIRES)
        opened.append(q)
        return q

    yield make
    for q in opened:
        q.close()
    cleaner = RabbitQueue(amqp_url, prefix=queue_prefix)
    cleaner.delete_topology()
    cleaner.close()


def exists(amqp_url: str, name: str) -> bool:
    """A passive declare: it does not count as a use, so it does not keep the lane alive."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        conn.channel().queue_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 404
        return False
    finally:
        if conn.is_open:
            conn.close()


def gone(amqp_url: str, name: str, meanwhile: Callable[[], object], timeout: float = 30) -> bool:
    """Whether the queue disappears within `timeout` while `meanwhile` runs again and again."""
    deadline = time.monotonic() + timeout
    while exists(amqp_url, name) and time.monotonic() < deadline:
        meanwhile()
    return not exists(amqp_url, name)


def publish(q: RabbitQueue, tenant: str, raw_id: int) -> None:
    m = TransformMessage(tenant=tenant, run_id=1, integration_id=1, raw_id=raw_id, entity="issues")
    q.publish(T, m.to_bytes(), message_id=m.message_id)


def take(q: RabbitQueue, timeout: float) -> list[int]:
    got: list[int] = []
    deadline = time.monotonic() + timeout
    while not got and time.monotonic() < deadline:
        for d in q.receive(T, 10, timeout=0.5):
            got.append(TransformMessage.model_validate_json(d.body).raw_id)
            q.ack(d)
    return got


def test_an_idle_lane_expires_under_a_polling_consumer_and_comes_back_when_used(
    connect: Callable[[], RabbitQueue], amqp_url: str, queue_prefix: str
) -> None:
    q = connect()
    q.declare()
    lane = lane_queue_name(queue_prefix, T, "acme")
    publish(q, "acme", 1)
    assert exists(amqp_url, lane)
    assert take(q, 10) == [1]
    # The consumer keeps receiving (an idle worker): the lane, empty, must still expire.
    assert gone(amqp_url, lane, lambda: q.receive(T, 1, timeout=0.5)), "a polled idle lane stayed"
    # The tenant's next message declares the lane again and is delivered.
    publish(q, "acme", 2)
    assert exists(amqp_url, lane)
    assert take(q, 15) == [2]
    assert q.dead_letters(T) == []


def test_a_lane_without_consumers_expires_but_its_messages_stay(
    connect: Callable[[], RabbitQueue], amqp_url: str, queue_prefix: str
) -> None:
    publisher = connect()
    publisher.declare()
    lane = lane_queue_name(queue_prefix, T, "beta")
    publish(publisher, "beta", 7)
    publisher.close()  # nobody uses the lane from now on
    assert gone(amqp_url, lane, lambda: time.sleep(0.5)), "the idle lane did not expire"
    consumer = connect()
    assert take(consumer, 10) == [7]  # moved to the work queue before its lane went
    assert consumer.dead_letters(T) == []
