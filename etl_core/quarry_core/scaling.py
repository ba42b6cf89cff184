"""Worker-pool size from queue depth, with KEDA's semantics on top of the HPA's.

Per poll (every `pollingSeconds`) the runtime reads the queue depth and calls
`decide_replicas(settings, state, observation, now)`, sets the Deployment (or local process count)
to the returned replicas and keeps the returned state for the next call.

- replicas = clamp(ceil(depth / targetPerReplica), max(minReplicas, 1), maxReplicas) while scaled up;
- from zero, a pool starts only when depth > activation (KEDA's activation threshold);
- with minReplicas 0 the pool returns to zero once the queue has been at or below activation for
  cooldownSeconds (KEDA's cooldownPeriod); scaling to zero bypasses the HPA window, as in KEDA;
- scale-down is stabilised: the highest recommendation of the last stabilizationSeconds wins
  (the HPA's scaleDown stabilization window), scale-up is immediate;
- after failureThreshold consecutive failed queue reads the pool holds fallbackReplicas (KEDA's
  fallback) and the reason is Fallback; before that it holds its current size.

The state lives in memory: after a restart the window starts empty, as the HPA's does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from quarry_core.resources import WorkerPoolSettings, WorkerStatus


class ScaleReason(StrEnum):
    ACTIVE = "Active"  # work above activation: sized from depth
    COOLDOWN = "Cooldown"  # no work, waiting cooldownSeconds before zero
    IDLE = "Idle"  # no work and scaled to zero
    BELOW_ACTIVATION = "BelowActivation"  # at zero; some work, but not above activation
    MIN_REPLICAS = "MinReplicas"  # no work; held at minReplicas > 0
    STABILIZING = "Stabilizing"  # a higher recommendation within the window holds the size
    QUEUE_READ_ERROR = "QueueReadError"  # read failed, below failureThreshold: hold
    FALLBACK = "Fallback"  # failureThreshold reached: hold fallbackReplicas


@dataclass(frozen=True)
class ScalerState:
    replicas: int = 0
    last_active: datetime | None = None
    recommendations: tuple[tuple[datetime, int], ...] = ()
    failures: int = 0
    depth: int | None = None
    desired: int = 0


@dataclass(frozen=True)
class QueueObservation:
    """One read of the queue: its depth (ready + unacked messages), or the error reading it."""

    depth: int | None
    error: str | None = None

    @classmethod
    def failed(cls, error: str) -> QueueObservation:
        return cls(None, error)


class ScalingDecision(NamedTuple):
    replicas: int
    state: ScalerState
    reason: ScaleReason

    @property
    def fallback(self) -> bool:
        return self.reason == ScaleReason.FALLBACK


def recommend(settings: WorkerPoolSettings, depth: int) -> int:
    """The HPA's raw recommendation while the pool is scaled up (never below one)."""
    wanted = math.ceil(depth / settings.target_per_replica)
    return min(max(wanted, settings.min_replicas, 1), settings.max_replicas)


def decide_replicas(
    settings: WorkerPoolSettings, state: ScalerState, observation: QueueObservation, now: datetime
) -> ScalingDecision:
    if observation.depth is None:
        failures = state.failures + 1
        if failures >= settings.failure_threshold:
            held = replace(state, failures=failures, replicas=settings.fallback_replicas)
            return ScalingDecision(settings.fallback_replicas, held, ScaleReason.FALLBACK)
        waiting = replace(state, failures=failures)
        return ScalingDecision(state.replicas, waiting, ScaleReason.QUEUE_READ_ERROR)

    depth = observation.depth
    active = depth > settings.activation
    last_active = now if active else state.last_active
    desired = recommend(settings, depth)
    base = ScalerState(state.replicas, last_active, state.recommendations, 0, depth, desired)

    if not active and settings.min_replicas == 0:
        if state.replicas == 0:
            reason = ScaleReason.BELOW_ACTIVATION if depth > 0 else ScaleReason.IDLE
            return ScalingDecision(0, replace(base, recommendations=(), desired=0), reason)
        cooled = last_active is None or now - last_active >= timedelta(seconds=settings.cooldown_seconds)
        if cooled:
            idle = replace(base, replicas=0, recommendations=(), desired=0)
            return ScalingDecision(0, idle, ScaleReason.IDLE)

    window_start = now - timedelta(seconds=settings.stabilization_seconds)
    kept = tuple((t, n) for t, n in state.recommendations if t > window_start)
    recommendations = (*kept, (now, desired))
    replicas = min(max(n for _, n in recommendations), settings.max_replicas)
    if not active and settings.min_replicas == 0:
        reason = ScaleReason.COOLDOWN
    elif replicas > desired:
        reason = ScaleReason.STABILIZING
    else:
        reason = ScaleReason.ACTIVE if active else ScaleReason.MIN_REPLICAS
    scaled = replace(base, replicas=replicas, recommendations=recommendations)
    return ScalingDecision(replicas, scaled, reason)


def worker_status(decision: ScalingDecision) -> WorkerStatus:
    """The EtlJob status.workers entry for one pool after a decision."""
    state = decision.state
    return WorkerStatus(
        replicas=decision.replicas,
        desired=state.desired,
        queue_depth=state.depth,
        reason=decision.reason.value,
        last_active_time=state.last_active,
    )
