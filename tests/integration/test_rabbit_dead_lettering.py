"""Quorum queues dead-letter at least once; queues declared by an earlier version keep working."""

from __future__ import annotations

import json
import logging
import urllib.request
from base64 import b64encode

import pytest

from quarry_core.queue.rabbit import RabbitQueue, connect


def _arguments(amqp_url: str, queue: str) -> dict[str, object]:
    q = RabbitQueue(amqp_url, prefix="unused")
    try:
        assert q.management_url is not None
        request = urllib.request.Request(f"{q.management_url}/api/queues/%2F/{queue}")
        request.add_header("Authorization", "Basic " + b64encode(b"guest:guest").decode())
        with urllib.request.urlopen(request, timeout=10) as resp:
            return dict(json.load(resp)["arguments"])
    finally:
        q.close()


def test_work_and_retry_queues_dead_letter_at_least_once(amqp_url: str, queue_prefix: str) -> None:
    q = RabbitQueue(amqp_url, prefix=queue_prefix)
    try:
        q.declare()
        for name in (f"{queue_prefix}.transform", f"{queue_prefix}.transform.retry"):
            args = _arguments(amqp_url, name)
            assert args["x-dead-letter-strategy"] == "at-least-once"
            assert args["x-overflow"] == "reject-publish"
    finally:
        q.delete_topology()
        q.close()


def test_queues_of_an_earlier_version_are_used_with_a_warning(
    amqp_url: str, queue_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(amqp_url)
    channel = conn.channel()
    main, dlq = f"{queue_prefix}.load", f"{queue_prefix}.load.dlq"
    channel.queue_declare(
        main,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": 4,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dlq,
        },
    )
    conn.close()
    q = RabbitQueue(amqp_url, prefix=queue_prefix)
    try:
        with caplog.at_level(logging.WARNING):
            q.declare()
        assert f"queue {main} was declared without at-least-once dead-lettering" in caplog.text
    finally:
        q.delete_topology()
        q.close()
