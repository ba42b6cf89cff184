"""Scale the shared transform/load worker Deployments from RabbitMQ queue depth (KEDA's rule).

One queue per stage serves every tenant, so one Deployment per stage serves every EtlJob. Its
pool settings are the Deployment's `quarry.dev/*` annotations (the chart's values), and the
`spec.workers.<stage>` settings of EtlJobs that have an active run may *raise* them:

- maxReplicas and minReplicas: the largest of the Deployment's and the active jobs' values;
- targetPerReplica: the smallest (more replicas per message);
- activation, cooldown, stabilization, failure threshold and fallback: the Deployment's.

So a job can ask for more capacity while it runs but never starves another, and once no run is
active the Deployment's own settings apply again. The decision itself is the core's
`decide_replicas`; this module feeds it and carries it out.

The scaler never writes `spec.replicas` while the Deployment carries the pause annotation
(`quarry.dev/paused: "true"`) or is the target of a HorizontalPodAutoscaler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from quarry_core.resources import WorkerPoolSettings
from quarry_core.scaling import (
    QueueObservation,
    ScalerState,
    ScalingDecision,
    decide_replicas,
)

logger = logging.getLogger(__name__)

ANNOTATION_PREFIX = "quarry.dev/"
# Deployment annotation -> WorkerPoolSettings field.
POOL_ANNOTATIONS = {
    "min-replicas": "min_replicas",
    "max-replicas": "max_replicas",
    "target-per-replica": "target_per_replica",
    "activation": "activation",
    "cooldown-seconds": "cooldown_seconds",
    "stabilization-seconds": "stabilization_seconds",
    "failure-threshold": "failure_threshold",
    "fallback-replicas": "fallback_replicas",
}
PAUSED = "Paused"
HPA_MANAGED = "HpaManaged"
TRUTHY = ("true", "1", "yes")


class PoolAnnotationError(ValueError):
    pass


def pool_from_annotations(annotations: Mapping[str, str]) -> WorkerPoolSettings:
    """The Deployment's pool settings; unset annotations keep the CRD defaults."""
    values: dict[str, Any] = {}
    for key, field_name in POOL_ANNOTATIONS.items():
        raw = annotations.get(ANNOTATION_PREFIX + key)
        if raw is None:
            continue
        try:
            values[field_name] = int(raw)
        except ValueError:
            raise PoolAnnotationError(f"{ANNOTATION_PREFIX}{key}: {raw!r} is not an integer") from None
    try:
        return WorkerPoolSettings.model_validate(values)
    except ValidationError as exc:
        raise PoolAnnotationError(f"worker pool annotations are invalid: {exc}") from None


def combine_pools(base: WorkerPoolSettings, jobs: Iterable[WorkerPoolSettings]) -> WorkerPoolSettings:
    """The pool settings in force: `base` raised by the pools of EtlJobs with active runs."""
    jobs = list(jobs)
    if not jobs:
        return base
    return base.model_copy(
        update={
            "max_replicas": max([base.max_replicas, *(j.max_replicas for j in jobs)]),
            "min_replicas": max([base.min_replicas, *(j.min_replicas for j in jobs)]),
            "target_per_replica": min([base.target_per_replica, *(j.target_per_replica for j in jobs)]),
        }
    )


def is_paused(annotations: Mapping[str, str], pause_annotation: str) -> bool:
    return annotations.get(pause_annotation, "").strip().lower() in TRUTHY


@dataclass(frozen=True)
class PollResult:
    """One poll of one stage: what was decided, and whether `spec.replicas` was written."""

    stage: str
    current: int
    decision: ScalingDecision | None
    reason: str
    patched: bool
    settings: WorkerPoolSettings | None = None


@dataclass
class StageScaler:
    """The scaler of one worker Deployment; its state lives in memory (as the HPA's does)."""

    namespace: str
    name: str
    stage: str
    read_depth: Callable[[str], int]
    scale: Callable[[str, str, int], None]
    hpa_targets: Callable[[str], set[str]]
    active_pools: Callable[[str], list[WorkerPoolSettings]]
    pause_annotation: str = "quarry.dev/paused"
    state: ScalerState = field(default_factory=ScalerState)

    def poll(self, deployment: Mapping[str, Any], now: datetime) -> PollResult:
        annotations: Mapping[str, str] = deployment.get("metadata", {}).get("annotations") or {}
        current = int((deployment.get("spec") or {}).get("replicas", 1) or 0)
        if is_paused(annotations, self.pause_annotation):
            return PollResult(self.stage, current, None, PAUSED, False)
        if self.name in self.hpa_targets(self.namespace):
            return PollResult(self.stage, current, None, HPA_MANAGED, False)
        settings = combine_pools(pool_from_annotations(annotations), self.active_pools(self.stage))
        try:
            observation = QueueObservation(self.read_depth(self.stage))
        except Exception as exc:  # any failure to read is KEDA's "scaler error"
            observation = QueueObservation.failed(f"{type(exc).__name__}: {exc}")
        # Someone may have changed spec.replicas by hand: decide from what is there now.
        state = replace(self.state, replicas=current)
        decision = decide_replicas(settings, state, observation, now)
        self.state = decision.state
        patched = False
        if decision.replicas != current:
            self.scale(self.namespace, self.name, decision.replicas)
            patched = True
        return PollResult(self.stage, current, decision, decision.reason.value, patched, settings)
