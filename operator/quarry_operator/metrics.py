"""Prometheus metrics of the operator (served on QUARRY_OPERATOR_METRICS_PORT at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from quarry_core.scaling import ScaleReason

QUEUE_DEPTH = Gauge(
    "quarry_operator_queue_depth", "Ready + unacked messages the scaler last read", ["stage"]
)
WORKER_REPLICAS = Gauge(
    "quarry_operator_worker_replicas", "spec.replicas the scaler decided for the worker Deployment", ["stage"]
)
WORKER_DESIRED = Gauge(
    "quarry_operator_worker_desired_replicas", "Replicas the queue depth alone asks for", ["stage"]
)
SCALER_REASON = Gauge(
    "quarry_operator_scaler_reason",
    "1 for the reason of the stage's last scaling decision, 0 for the others",
    ["stage", "reason"],
)
SCALER_FALLBACK = Gauge(
    "quarry_operator_scaler_fallback", "1 while the stage holds its fallback replicas", ["stage"]
)
SCALER_POOL = Gauge(
    "quarry_operator_scaler_pool_setting",
    "Pool settings in force (Deployment annotations raised by active EtlJobs)",
    ["stage", "setting"],
)
SCALE_PATCHES = Counter(
    "quarry_operator_scale_patches_total", "Writes of spec.replicas to worker Deployments", ["stage"]
)
QUEUE_READ_ERRORS = Counter(
    "quarry_operator_queue_read_errors_total", "Failed queue-depth reads", ["stage"]
)
EXTRACT_JOBS = Counter(
    "quarry_operator_extract_jobs_created_total", "Extract Jobs created", ["namespace"]
)
RUN_DECISIONS = Counter(
    "quarry_operator_run_decisions_total", "Decisions of the reconcile core carried out", ["decision"]
)
RECONCILE_SECONDS = Histogram(
    "quarry_operator_reconcile_seconds", "Duration of one EtlJob reconcile", buckets=(
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
)
RECONCILE_ERRORS = Counter(
    "quarry_operator_reconcile_errors_total", "EtlJob reconciles that raised", ["kind"]
)
INTEGRATION_READY = Gauge(
    "quarry_operator_integration_ready", "1 when the Integration's check passed", ["namespace", "name"]
)

EXTRA_REASONS = ("Paused", "HpaManaged")


def set_reason(stage: str, reason: str) -> None:
    for known in (*(r.value for r in ScaleReason), *EXTRA_REASONS):
        SCALER_REASON.labels(stage, known).set(1 if known == reason else 0)
