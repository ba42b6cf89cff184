"""What the platform-level benchmarks share: an environment for a `quarry up` of their own, the
Jira manifest, applying manifests, starting and stopping `quarry up`, dropping their queues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
JIRA_EMAIL, JIRA_TOKEN = "bot@quarry.dev", "bench-jira-token"

JIRA = """
apiVersion: v1
kind: Secret
metadata: {{name: jira-creds, namespace: {ns}}}
stringData: {{email: {email}, token: {token}}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: jira, namespace: {ns}}}
spec:
  type: jira
  baseUrl: {url}
  credentials: {{secretRef: {{name: jira-creds}}}}
  scope: {{projects: [ENG, OPS]}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: jira-sync, namespace: {ns}}}
spec:
  integrationRef: {{name: jira}}
  mode: {mode}
  entities: [projects, issues, sprints]
  retry: {{maxAttempts: 5, backoffSeconds: 1}}
  workers:
    transform: {{maxReplicas: {workers}, pollingSeconds: 1, cooldownSeconds: 60}}
    load: {{maxReplicas: {workers}, pollingSeconds: 1, cooldownSeconds: 60}}
"""


def jira_manifest(tenant: str, url: str, mode: str, workers: int) -> str:
    return JIRA.format(ns=tenant, email=JIRA_EMAIL, token=JIRA_TOKEN, url=url, mode=mode, workers=workers)


def environment(workdir: Path, prefix: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "QUARRY_DATA_DIR": str(workdir / "data"),
        "QUARRY_SECRET_KEY": Fernet.generate_key().decode(),
        "QUARRY_EMBEDDER": "off",  # vectors are off the critical path; the benchmarks time tables
        "QUARRY_QUEUE_PREFIX": prefix,
        "QUARRY_EGRESS_ALLOW_PRIVATE": "true",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    env.pop("AMQP_URL", None)
    return env


def quarry(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def apply(env: dict[str, str], docs: list[str]) -> None:
    """`quarry apply`; a job without a schedule starts its first run when it is created."""
    applied = quarry(env, "apply", "-f", "-", stdin="\n---\n".join(docs))
    if applied.returncode != 0:
        raise SystemExit(f"quarry apply failed: {applied.stderr}")


def start_up(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "quarry_cli.main", "up", "--port", "0"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def stop_up(up: subprocess.Popen[bytes] | None) -> None:
    if up is None or up.poll() is not None:
        return
    up.send_signal(signal.SIGTERM)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)


def delete_queues(amqp_url: str, prefix: str) -> None:
    from quarry_core.queue.rabbit import RabbitQueue

    queue = RabbitQueue(amqp_url, prefix=prefix)
    queue.delete_topology()
    queue.close()
