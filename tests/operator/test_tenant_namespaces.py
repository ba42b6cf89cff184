"""Nothing the operator places in a tenant's namespace grants more than the tenant's own data.

The platform's database and broker URLs stay in the platform's namespace: extract Jobs run there
and read them from the platform's own Secret; the tenant's integration credentials reach the pod
through a per-run Secret owned by its Job.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from quarry_core.db.models import EtlRun
from quarry_operator.k8s import TENANT_CALLS
from quarry_sandbox.jira_server import JiraServer
from tests.kube.harness import KubeHandle
from tests.operator.conftest import operator_calls
from tests.operator.support import apply, jira_manifests

JOB = "acme-jira-sync"


def test_extract_jobs_run_in_the_platform_namespace_with_per_run_credentials(
    kube: KubeHandle, run_operator: Any, namespace: str, jira: JiraServer, engine: Engine
) -> None:
    platform = namespace  # the release's namespace: workers, operator, its connection Secret
    tenant = f"acme-{uuid.uuid4().hex[:6]}"
    kube.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": tenant}})
    with run_operator(tenant):
        apply(kube, tenant, *jira_manifests(tenant, jira.base_url))
        kube.wait_for_object(
            "etljobs", tenant, JOB, lambda o: (o.get("status") or {}).get("phase") == "Running"
        )
        with Session(engine) as session:
            [run] = session.scalars(select(EtlRun).where(EtlRun.tenant == tenant))
        name = f"{JOB}-run-{run.id}-a1"
        job = kube.wait_for_object("jobs", platform, name)
        secret = kube.wait_for_object("secrets", platform, f"{name}-credentials")

        # The tenant's namespace holds only what the tenant put there.
        assert [s["metadata"]["name"] for s in kube.list("secrets", tenant)] == ["jira-creds"]
        assert kube.list("jobs", tenant) == []

        pod = job["spec"]["template"]["spec"]
        env = {e["name"]: e for e in pod["containers"][0]["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "quarry-config"
        assert pod["volumes"][0]["secret"]["secretName"] == f"{name}-credentials"
        assert job["metadata"]["labels"]["quarry.dev/tenant"] == tenant
        # Exactly the tenant's credentials, and gone with the Job.
        data = secret.get("stringData") or secret.get("data") or {}
        assert sorted(data) == ["email", "token"]
        [ref] = secret["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"]) == ("Job", name, job["metadata"]["uid"])

        # Deleting the EtlJob stops its Job in the platform namespace (no owner reference can).
        kube.delete("etljobs", tenant, JOB)
        kube.wait_for_absence("jobs", platform, name)
        kube.wait_for_absence("secrets", platform, f"{name}-credentials")
    # What the operator did in the tenant's namespace is within what the chart grants there.
    in_tenant = operator_calls(kube, tenant)
    assert ("", "secrets", "get") in in_tenant
    assert in_tenant <= TENANT_CALLS, in_tenant - TENANT_CALLS
