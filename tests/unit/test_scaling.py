"""KEDA/HPA semantics of decide_replicas, one rule per test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quarry_core.resources import WorkerPoolSettings
from quarry_core.scaling import (
    QueueObservation,
    ScaleReason,
    ScalerState,
    ScalingDecision,
    decide_replicas,
    recommend,
    worker_status,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POOL = WorkerPoolSettings(
    min_replicas=0,
    max_replicas=5,
    target_per_replica=10,
    activation=0,
    cooldown_seconds=60,
    stabilization_seconds=30,
    failure_threshold=3,
    fallback_replicas=2,
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(settings: WorkerPoolSettings, depths: list[int | None], step: float = 10) -> list[ScalingDecision]:
    """Feed one observation per `step` seconds; None is a failed queue read."""
    state, out = ScalerState(), []
    for i, depth in enumerate(depths):
        obs = QueueObservation(depth) if depth is not None else QueueObservation.failed("down")
        decision = decide_replicas(settings, state, obs, at(i * step))
        state = decision.state
        out.append(decision)
    return out


@pytest.mark.parametrize(("depth", "expected"), [(1, 1), (10, 1), (11, 2), (35, 4), (50, 5), (500, 5)])
def test_replicas_are_ceil_of_depth_over_target_clamped_to_max(depth: int, expected: int) -> None:
    decision = decide_replicas(POOL, ScalerState(), QueueObservation(depth), T0)
    assert decision.replicas == expected
    assert decision.reason == ScaleReason.ACTIVE


def test_min_replicas_is_a_floor() -> None:
    pool = POOL.model_copy(update={"min_replicas": 2})
    assert decide_replicas(pool, ScalerState(), QueueObservation(5), T0).replicas == 2
    idle = decide_replicas(pool, ScalerState(replicas=2), QueueObservation(0), T0)
    assert (idle.replicas, idle.reason) == (2, ScaleReason.MIN_REPLICAS)
    assert recommend(pool, 0) == 2


def test_zero_to_one_only_above_activation() -> None:
    pool = POOL.model_copy(update={"activation": 20})
    below = decide_replicas(pool, ScalerState(), QueueObservation(20), T0)
    assert (below.replicas, below.reason) == (0, ScaleReason.BELOW_ACTIVATION)
    above = decide_replicas(pool, below.state, QueueObservation(21), at(10))
    assert (above.replicas, above.reason) == (3, ScaleReason.ACTIVE)


def test_empty_queue_at_zero_is_idle() -> None:
    decision = decide_replicas(POOL, ScalerState(), QueueObservation(0), T0)
    assert (decision.replicas, decision.reason) == (0, ScaleReason.IDLE)


def test_back_to_zero_only_after_cooldown_without_work() -> None:
    # Work at t=0, then empty; cooldown 60 s, so zero at t=60 and not before (the 30 s window
    # keeps 3 replicas until the t=0 recommendation leaves it at t=30).
    decisions = run(POOL, [30, 0, 0, 0, 0, 0, 0, 0])
    assert [d.replicas for d in decisions] == [3, 3, 3, 1, 1, 1, 0, 0]
    assert decisions[1].reason == ScaleReason.COOLDOWN
    assert decisions[6].reason == ScaleReason.IDLE
    assert decisions[6].state.recommendations == ()


def test_work_during_cooldown_restarts_it() -> None:
    decisions = run(POOL, [30, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0])
    # Last work at t=40, so the pool reaches zero at t=100.
    assert decisions[9].replicas == 1 and decisions[10].replicas == 0


def test_below_activation_during_cooldown_counts_as_no_work() -> None:
    pool = POOL.model_copy(update={"activation": 10})
    decisions = run(pool, [30, 5, 5, 5, 5, 5, 5, 5])
    assert decisions[6].replicas == 0 and decisions[6].reason == ScaleReason.IDLE


def test_scale_down_uses_the_highest_recommendation_in_the_window() -> None:
    pool = POOL.model_copy(update={"cooldown_seconds": 3600})
    decisions = run(pool, [50, 10, 10, 10, 10, 10])
    # Window 30 s: the recommendation 5 from t=0 holds until it is 30 s old (t=30).
    assert [d.replicas for d in decisions] == [5, 5, 5, 1, 1, 1]
    assert decisions[1].reason == ScaleReason.STABILIZING
    assert decisions[3].reason == ScaleReason.ACTIVE


def test_scale_up_is_immediate() -> None:
    decisions = run(POOL, [10, 50])
    assert [d.replicas for d in decisions] == [1, 5]


def test_stepwise_scale_down_follows_the_window_maximum() -> None:
    pool = POOL.model_copy(update={"cooldown_seconds": 3600, "stabilization_seconds": 20})
    decisions = run(pool, [50, 40, 30, 20, 10, 10, 10])
    # A recommendation leaves the 20 s window when it is 20 s old.
    assert [d.replicas for d in decisions] == [5, 5, 4, 3, 2, 1, 1]


def test_without_window_scale_down_is_immediate() -> None:
    pool = POOL.model_copy(update={"stabilization_seconds": 0})
    assert [d.replicas for d in run(pool, [50, 10])] == [5, 1]


def test_old_recommendations_are_pruned() -> None:
    decisions = run(POOL, [10] * 20)
    assert len(decisions[-1].state.recommendations) <= 3


def test_lowered_max_applies_at_once() -> None:
    first = decide_replicas(POOL, ScalerState(), QueueObservation(50), T0)
    smaller = POOL.model_copy(update={"max_replicas": 2})
    assert decide_replicas(smaller, first.state, QueueObservation(50), at(10)).replicas == 2


def test_failed_reads_hold_then_fall_back() -> None:
    decisions = run(POOL, [30, None, None, None, None])
    assert [d.replicas for d in decisions] == [3, 3, 3, 2, 2]
    assert [d.reason for d in decisions[1:]] == [
        ScaleReason.QUEUE_READ_ERROR,
        ScaleReason.QUEUE_READ_ERROR,
        ScaleReason.FALLBACK,
        ScaleReason.FALLBACK,
    ]
    assert decisions[3].fallback and not decisions[2].fallback


def test_fallback_applies_from_zero_too() -> None:
    decisions = run(POOL, [None, None, None])
    assert [d.replicas for d in decisions] == [0, 0, 2]


def test_a_successful_read_ends_fallback_and_resets_the_count() -> None:
    decisions = run(POOL.model_copy(update={"cooldown_seconds": 0}), [None, None, None, 0, None])
    assert decisions[3].reason == ScaleReason.IDLE and decisions[3].replicas == 0
    assert decisions[3].state.failures == 0
    assert decisions[4].reason == ScaleReason.QUEUE_READ_ERROR and decisions[4].replicas == 0


def test_state_is_immutable_and_input_is_untouched() -> None:
    state = ScalerState()
    decision = decide_replicas(POOL, state, QueueObservation(30), T0)
    assert state == ScalerState() and decision.state is not state
    with pytest.raises(AttributeError):
        decision.state.replicas = 9  # type: ignore[misc]


def test_decision_unpacks_as_a_triple() -> None:
    replicas, state, reason = decide_replicas(POOL, ScalerState(), QueueObservation(30), T0)
    assert (replicas, reason, state.depth, state.desired) == (3, ScaleReason.ACTIVE, 30, 3)


def test_worker_status_reports_the_decision() -> None:
    decision = decide_replicas(POOL, ScalerState(), QueueObservation(30), T0)
    status = worker_status(decision)
    assert status.to_document() == {
        "replicas": 3,
        "desired": 3,
        "queueDepth": 30,
        "reason": "Active",
        "lastActiveTime": "2026-01-01T00:00:00Z",
    }
