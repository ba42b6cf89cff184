"""The scaler's combination rule and its handling of pause, HPA and queue errors (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quarry_core.resources import WorkerPoolSettings
from quarry_operator.scaler import (
    PoolAnnotationError,
    StageScaler,
    combine_pools,
    pool_from_annotations,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pool(**values: Any) -> WorkerPoolSettings:
    return WorkerPoolSettings.model_validate(values)


def test_annotations_give_the_deployments_pool() -> None:
    base = pool_from_annotations({"quarry.dev/max-replicas": "8", "quarry.dev/activation": "3", "other": "x"})
    assert (base.max_replicas, base.activation, base.target_per_replica) == (8, 3, 100)
    with pytest.raises(PoolAnnotationError, match="max-replicas"):
        pool_from_annotations({"quarry.dev/max-replicas": "many"})
    with pytest.raises(PoolAnnotationError):
        pool_from_annotations({"quarry.dev/min-replicas": "5", "quarry.dev/max-replicas": "2"})


def test_active_jobs_raise_max_and_min_and_lower_the_target() -> None:
    base = pool(max_replicas=4, min_replicas=0, target_per_replica=100, activation=10, cooldown_seconds=60)
    jobs = [
        pool(max_replicas=10, target_per_replica=500),
        pool(max_replicas=2, min_replicas=1, target_per_replica=50),
    ]
    combined = combine_pools(base, jobs)
    assert (combined.max_replicas, combined.min_replicas, combined.target_per_replica) == (10, 1, 50)
    # Timing, activation and fallback stay the Deployment's.
    assert (combined.activation, combined.cooldown_seconds) == (10, 60)


def test_jobs_never_lower_the_deployments_pool() -> None:
    base = pool(max_replicas=6, min_replicas=1, target_per_replica=20)
    assert combine_pools(base, [pool(max_replicas=1, target_per_replica=1000)]) == base.model_copy(
        update={"max_replicas": 6, "min_replicas": 1, "target_per_replica": 20})
    assert combine_pools(base, []) is base


class Fake:
    def __init__(self, depth: int | Exception = 0, hpa: set[str] | None = None) -> None:
        self.depth, self.hpa = depth, hpa or set()
        self.patches: list[tuple[str, int]] = []
        self.jobs: list[WorkerPoolSettings] = []

    def read(self, stage: str) -> int:
        if isinstance(self.depth, Exception):
            raise self.depth
        return self.depth

    def scaler(self) -> StageScaler:
        return StageScaler("ops", "quarry-transform", "transform", read_depth=self.read,
                           scale=lambda ns, name, n: self.patches.append((name, n)),
                           hpa_targets=lambda ns: self.hpa, active_pools=lambda stage: self.jobs)


def deployment(replicas: int, **annotations: str) -> dict[str, Any]:
    pool_annotations = {
        "quarry.dev/max-replicas": "5",
        "quarry.dev/target-per-replica": "10",
        "quarry.dev/failure-threshold": "2",
    }
    return {"metadata": {"annotations": {**pool_annotations, **annotations}}, "spec": {"replicas": replicas}}


def test_scales_from_depth_and_patches_only_on_change() -> None:
    fake = Fake(depth=35)
    scaler = fake.scaler()
    result = scaler.poll(deployment(0), T0)
    assert result.patched and fake.patches == [("quarry-transform", 4)]
    assert scaler.poll(deployment(4), T0 + timedelta(seconds=2)).patched is False
    fake.jobs = [pool(max_replicas=20, target_per_replica=5)]
    scaler.poll(deployment(4), T0 + timedelta(seconds=4))
    assert fake.patches[-1] == ("quarry-transform", 7)


def test_pause_and_hpa_are_left_alone() -> None:
    fake = Fake(depth=100, hpa={"quarry-transform"})
    assert fake.scaler().poll(deployment(1), T0).reason == "HpaManaged"
    fake.hpa = set()
    assert fake.scaler().poll(deployment(1, **{"quarry.dev/paused": "true"}), T0).reason == "Paused"
    assert fake.patches == []


def test_queue_errors_hold_then_fall_back() -> None:
    fake = Fake(depth=ConnectionRefusedError("nothing listens"))
    scaler = fake.scaler()
    first = scaler.poll(deployment(3, **{"quarry.dev/fallback-replicas": "1"}), T0)
    assert (first.reason, first.patched) == ("QueueReadError", False)
    second = scaler.poll(deployment(3, **{"quarry.dev/fallback-replicas": "1"}), T0 + timedelta(seconds=2))
    assert second.reason == "Fallback" and fake.patches == [("quarry-transform", 1)]
