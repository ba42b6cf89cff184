"""Operator latencies on the Kubernetes API emulator, with the real PostgreSQL and RabbitMQ.

    .venv/bin/python bench/operator_latency.py [--jobs 20] [--scale-rounds 5] [--polling 2]

1. EtlJob created (through the official client) -> its extract Job exists, for --jobs EtlJobs
   referencing an Integration that is already Ready.
2. Queue depth crosses the activation threshold (messages published to RabbitMQ) -> the worker
   Deployment's spec.replicas is patched, with the scaler polling every --polling seconds (the
   operator's default, 2 s; KEDA's is 30 s).

Baselines measured in the same run: a bare API round trip through the same client (GET of a
ConfigMap) for 1, and the scaler's polling interval for 2. Prints one JSON document with median /
p95 / max in milliseconds and each median's ratio to its baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kopf.testing import KopfRunner

from quarry_core.queue.rabbit import RabbitQueue
from quarry_core.states import Stage
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.kube.harness import KubeHandle, run_emulator
from tests.support.services import AMQP_URL, temporary_database

GROUP, VERSION = "quarry.dev", "v1alpha1"


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ordered[-1], 1),
    }


def wait(probe: Any, timeout: float = 30, interval: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met")


def measure_job_creation(kube: KubeHandle, ns: str, jira_url: str, count: int) -> list[float]:
    kube.core_v1.create_namespaced_secret(ns, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "jira-creds"},
        "stringData": {"email": "bot@quarry.dev", "token": "jira-token"}})
    kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, ns, "integrations", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Integration", "metadata": {"name": "jira"},
        "spec": {"type": "jira", "baseUrl": jira_url, "credentials": {"secretRef": {"name": "jira-creds"}},
                 "scope": {"projects": ["ENG"]}}})
    wait(lambda: ((kube.get("integrations", ns, "jira") or {}).get("status") or {}).get("phase") == "Ready")
    samples = []
    for i in range(count):
        name = f"sync-{i}"
        started = time.monotonic()
        kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, ns, "etljobs", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "EtlJob", "metadata": {"name": name},
            "spec": {"integrationRef": {"name": "jira"}, "entities": ["issues"]}})
        wait(lambda name=name: kube.list("jobs", ns, label_selector=f"quarry.dev/etljob={name}"))
        samples.append((time.monotonic() - started) * 1000)
    return samples


def measure_scaling(kube: KubeHandle, ns: str, queue: RabbitQueue, rounds: int) -> list[float]:
    labels = {"app": "quarry-transform"}
    kube.create("deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "quarry-transform", "labels": {**labels, "quarry.dev/stage": "transform"},
                     "annotations": {"quarry.dev/activation": "5", "quarry.dev/target-per-replica": "10",
                                     "quarry.dev/cooldown-seconds": "0",
                                     "quarry.dev/stabilization-seconds": "0"}},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "worker", "image": "quarry", "args": ["worker", "transform"]}]},
        }},
    }, ns)

    def replicas() -> int:
        return int(kube.get("deployments", ns, "quarry-transform")["spec"]["replicas"])

    samples = []
    for _ in range(rounds):
        for _ in range(5):  # at the activation threshold: nothing happens
            queue.publish(Stage.TRANSFORM, b"{}", message_id=uuid.uuid4().hex)
        time.sleep(0.5)
        started = time.monotonic()
        queue.publish(Stage.TRANSFORM, b"{}", message_id=uuid.uuid4().hex)  # crosses it
        wait(lambda: replicas() > 0)
        samples.append((time.monotonic() - started) * 1000)
        queue.purge(Stage.TRANSFORM)
        wait(lambda: replicas() == 0)
    return samples


def measure_round_trip(kube: KubeHandle, ns: str, count: int) -> list[float]:
    """A bare API round trip: what any reaction through the API costs at least."""
    kube.core_v1.create_namespaced_config_map(ns, {"metadata": {"name": "baseline"}})
    samples = []
    for _ in range(count):
        started = time.monotonic()
        kube.core_v1.read_namespaced_config_map("baseline", ns)
        samples.append((time.monotonic() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--scale-rounds", type=int, default=5)
    parser.add_argument("--polling", type=float, default=2.0)
    args = parser.parse_args()
    ns, prefix = f"bench-{uuid.uuid4().hex[:6]}", f"qb{uuid.uuid4().hex[:8]}"
    with temporary_database("quarry_bench") as db, run_emulator(namespaces=("default", ns)) as kube, \
            JiraServer(JiraDataset.synthetic(10, projects=1, seed=1)) as jira:
        os.environ.update({
            "DATABASE_URL": db, "AMQP_URL": AMQP_URL, "QUARRY_QUEUE_PREFIX": prefix,
            "QUARRY_WORKERS_NAMESPACE": ns, "QUARRY_OPERATOR_METRICS_PORT": "0",
            "QUARRY_OPERATOR_SCALE_POLLING_SECONDS": str(args.polling),
        })
        queue = RabbitQueue(AMQP_URL, prefix=prefix)
        queue.declare()
        try:
            argv = ["run", "--standalone", "-m", "quarry_operator.handlers", "--namespace", ns]
            with KopfRunner(argv, timeout=60) as runner:
                round_trip = measure_round_trip(kube, ns, args.jobs)
                created = measure_job_creation(kube, ns, jira.base_url, args.jobs)
                scaled = measure_scaling(kube, ns, queue, args.scale_rounds)
            if runner.exception is not None or "Traceback" in runner.output:
                print(runner.output, file=sys.stderr)
                return 1
        finally:
            queue.delete_topology()
            queue.close()
    trip = statistics.median(round_trip)
    print(json.dumps({
        "baseline_api_round_trip": summary(round_trip),
        "etljob_created_to_extract_job_created": {
            **summary(created), "ratio_to_api_round_trip": round(statistics.median(created) / trip, 2)},
        "depth_crosses_activation_to_replicas_patched": {
            **summary(scaled), "polling_seconds": args.polling,
            "ratio_to_polling_interval": round(statistics.median(scaled) / (args.polling * 1000), 2)},
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
