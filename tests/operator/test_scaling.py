"""Worker Deployments follow a real RabbitMQ queue: 0 -> N -> 0 with KEDA's activation, cooldown,
max and fallback, raised by active EtlJobs' pools, paused by annotation, and never fighting an HPA."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from quarry_core.queue.rabbit import RabbitQueue
from quarry_core.states import Stage
from quarry_sandbox.jira_server import JiraServer
from tests.kube.harness import KubeHandle
from tests.operator.support import apply, jira_manifests

WORKERS = "quarry-transform"
POOL = {
    "quarry.dev/max-replicas": "3",
    "quarry.dev/target-per-replica": "10",
    "quarry.dev/activation": "5",
    "quarry.dev/cooldown-seconds": "1",
    "quarry.dev/stabilization-seconds": "0",
    "quarry.dev/failure-threshold": "2",
    "quarry.dev/fallback-replicas": "2",
}


def worker_deployment(namespace: str, annotations: dict[str, str], replicas: int = 0) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "quarry", "app.kubernetes.io/component": "worker-transform"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": WORKERS, "namespace": namespace, "annotations": annotations,
                     "labels": {**labels, "quarry.dev/stage": "transform"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                     {"name": "worker", "image": "quarry:test", "args": ["worker", "transform"]}]}}},
    }


@pytest.fixture
def queue(amqp_url: str, queue_prefix: str) -> Iterator[RabbitQueue]:
    q = RabbitQueue(amqp_url, prefix=queue_prefix)
    q.declare()
    yield q
    q.close()


def publish(queue: RabbitQueue, n: int) -> None:
    for _ in range(n):
        queue.publish(Stage.TRANSFORM, b"{}", message_id=uuid.uuid4().hex)


def replicas_are(n: int) -> Any:
    return lambda o: o["spec"]["replicas"] == n


def transform(etljob: dict[str, Any]) -> dict[str, Any]:
    workers: dict[str, Any] = ((etljob.get("status") or {}).get("workers") or {}).get("transform") or {}
    return workers


def metric_becomes(expected: float, name: str, timeout: float = 3.0, **labels: str) -> bool:
    """The scaler records its metrics just after it acts: poll briefly instead of racing it."""
    deadline = time.monotonic() + timeout
    while metric(name, **labels) != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def metric(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def held(kube: KubeHandle, namespace: str, replicas: int, seconds: float = 1.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kube.get("deployments", namespace, WORKERS)["spec"]["replicas"] != replicas:
            return False
        time.sleep(0.05)
    return True


def test_deployment_follows_queue_depth(
    kube: KubeHandle, run_operator: Any, namespace: str, queue: RabbitQueue, jira: JiraServer
) -> None:
    kube.create("deployments", worker_deployment(namespace, POOL), namespace)
    with run_operator():
        publish(queue, 5)  # not above activation: stays at zero
        assert held(kube, namespace, 0, 1.0)
        assert metric_becomes(1, "quarry_operator_scaler_reason", stage="transform", reason="BelowActivation")

        publish(queue, 20)  # 25 messages / 10 per replica -> 3 (the Deployment's max)
        kube.wait_for_object("deployments", namespace, WORKERS, replicas_are(3), timeout=5)
        publish(queue, 20)
        assert held(kube, namespace, 3, 0.8)  # 45 would need 5; maxReplicas holds 3

        # An EtlJob with an active run asks for up to 5 transform workers: the pool is raised.
        pools = {"workers": {"transform": {"maxReplicas": 5, "targetPerReplica": 10}}}
        apply(kube, namespace, *jira_manifests(namespace, jira.base_url, job=pools))
        five = lambda o: transform(o).get("replicas") == 5  # noqa: E731
        job = kube.wait_for_object("etljobs", namespace, "acme-jira-sync", five)
        workers = job["status"]["workers"]["transform"]
        assert (workers["desired"], workers["queueDepth"], workers["reason"]) == (5, 45, "Active")
        assert metric_becomes(5, "quarry_operator_worker_replicas", stage="transform")
        pool_max = {"stage": "transform", "setting": "max_replicas"}
        assert metric_becomes(5, "quarry_operator_scaler_pool_setting", **pool_max)

        queue.purge(Stage.TRANSFORM)  # drained: zero after the cooldown (1 s)
        kube.wait_for_object("deployments", namespace, WORKERS, replicas_are(0), timeout=5)
        assert metric_becomes(1, "quarry_operator_scaler_reason", stage="transform", reason="Idle")

        # Paused: the queue fills, the replicas stay.
        paused = {"metadata": {"annotations": {"quarry.dev/paused": "true"}}}
        kube.patch("deployments", namespace, WORKERS, paused)
        publish(queue, 30)
        assert held(kube, namespace, 0, 1.0)
        assert metric_becomes(1, "quarry_operator_scaler_reason", stage="transform", reason="Paused")

        # An HPA owns the Deployment: the scaler leaves it alone even when unpaused.
        kube.create("horizontalpodautoscalers", {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "transform", "namespace": namespace},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": WORKERS},
                     "minReplicas": 1, "maxReplicas": 2},
        }, namespace)
        unpaused = {"metadata": {"annotations": {"quarry.dev/paused": None}}}
        kube.patch("deployments", namespace, WORKERS, unpaused)
        assert held(kube, namespace, 0, 1.0)
        assert metric_becomes(1, "quarry_operator_scaler_reason", stage="transform", reason="HpaManaged")
        patches_before = metric("quarry_operator_scale_patches_total", stage="transform")

        kube.delete("horizontalpodautoscalers", namespace, "transform")
        kube.wait_for_object("deployments", namespace, WORKERS, replicas_are(3), timeout=5)
        # The counter goes up just after the patch lands: give the scaler's thread a moment.
        expected = (patches_before or 0) + 1
        deadline = time.monotonic() + 3
        while metric("quarry_operator_scale_patches_total", stage="transform") != expected:
            assert time.monotonic() < deadline, "the scale patch was not counted"
            time.sleep(0.05)


def test_unreadable_queue_falls_back(kube: KubeHandle, run_operator: Any, namespace: str) -> None:
    """RabbitMQ down, as the operator sees it: nothing listens at AMQP_URL."""
    kube.create("deployments", worker_deployment(namespace, POOL), namespace)
    with run_operator(AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F"):
        kube.wait_for_object("deployments", namespace, WORKERS, replicas_are(2), timeout=5)
        assert metric_becomes(1, "quarry_operator_scaler_fallback", stage="transform")
        assert metric_becomes(1, "quarry_operator_scaler_reason", stage="transform", reason="Fallback")
        assert held(kube, namespace, 2, 0.6)
