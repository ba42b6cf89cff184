"""An unreadable unacked count is an error the scaler sees, never a silent 0 (real RabbitMQ)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from quarry_core.queue.base import queue_name
from quarry_core.queue.rabbit import QueueReadError, RabbitQueue
from quarry_core.resources import WorkerPoolSettings
from quarry_core.scaling import QueueObservation, ScaleReason, ScalerState, decide_replicas
from quarry_core.states import Stage


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_management_api_failure_is_reported_and_the_scaler_falls_back(
    amqp_url: str, queue_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = RabbitQueue(amqp_url, prefix=queue_prefix, management_url=f"http://127.0.0.1:{closed_port()}")
    name = queue_name(queue_prefix, Stage.LOAD)
    errors = "quarry_queue_depth_read_errors_total"
    before = REGISTRY.get_sample_value(errors, {"queue": name}) or 0.0
    try:
        queue.declare()
        for i in range(3):
            queue.publish(Stage.LOAD, b"{}", message_id=f"m{i}")
        pool = WorkerPoolSettings(failure_threshold=2, fallback_replicas=2, max_replicas=4)
        state, now = ScalerState(replicas=3), datetime.now(UTC)
        reasons = []
        for step in range(2):
            try:
                observation = QueueObservation(queue.depth(Stage.LOAD).total)
            except QueueReadError as exc:  # what the controller and the operator do with a failed read
                observation = QueueObservation.failed(str(exc))
            decision = decide_replicas(pool, state, observation, now + timedelta(seconds=15 * step))
            state = decision.state
            reasons.append((decision.reason, decision.replicas))
    finally:
        queue.delete_topology()
        queue.close()
    assert reasons == [(ScaleReason.QUEUE_READ_ERROR, 3), (ScaleReason.FALLBACK, 2)]
    assert REGISTRY.get_sample_value(errors, {"queue": name}) == before + 2
    assert f"cannot read the unacked count of {name}" in caplog.text
