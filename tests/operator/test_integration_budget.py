"""The operator's Integration re-checks are requests to the source: they count in its budget."""

from __future__ import annotations

import time
from typing import Any

from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.kube.harness import KubeHandle
from tests.operator.support import apply, jira_manifests


def test_integration_rechecks_stay_within_its_request_budget(
    kube: KubeHandle, run_operator: Any, namespace: str
) -> None:
    with JiraServer(JiraDataset.synthetic(5, projects=1, seed=1)) as jira:
        secret, integration, _job = jira_manifests(namespace, jira.base_url)
        integration["spec"]["budget"] = {"requestsPerHour": 2}
        with run_operator(QUARRY_OPERATOR_INTEGRATION_CHECK_SECONDS="0.3"):
            apply(kube, namespace, secret, integration)
            ready = lambda o: (o.get("status") or {}).get("phase") == "Ready"  # noqa: E731
            kube.wait_for_object("integrations", namespace, "acme-jira", ready)
            time.sleep(3)  # about ten re-checks fall due; the hour's budget has room for one more
        assert jira.counters.total() == 2, dict(jira.counters.by_path)
