"""`kubectl apply` / `get` / `delete` of the example manifests against the emulator, operator running."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

import pytest

from tests.kube.harness import KubeHandle
from tests.kube.tools import ensure_kubectl, tool_or_skip

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def namespace() -> str:
    return "acme"  # the examples' namespace; the test database is this session's own


@pytest.fixture
def kubectl(kube: KubeHandle) -> Any:
    binary = tool_or_skip(ensure_kubectl)

    def run(*args: str) -> str:
        result = subprocess.run([str(binary), "--kubeconfig", str(kube.kubeconfig_path), *args],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout

    return run


def test_examples_apply_get_delete(kube: KubeHandle, kubectl: Any, run_operator: Any) -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    with run_operator(QUARRY_CHECK_TIMEOUT="0.5"):
        for path in files:
            out = kubectl("apply", "--validate=false", "-f", str(path))
            assert "created" in out
        jobs = json.loads(kubectl("get", "etljobs", "-n", "acme", "-o", "json"))
        names = sorted(item["metadata"]["name"] for item in jobs["items"])
        assert names == ["acme-github-app-sync", "acme-github-sync", "acme-jira-every-30m", "acme-jira-sync"]
        assert kubectl("get", "ej", "-n", "acme", "-o", "name").split() == [
            f"etljob.quarry.dev/{name}" for name in names]

        # The sources are not reachable from here: the integrations say so, precisely.
        for name in ("acme-github", "acme-github-app", "acme-jira", "acme-jira-cloud"):
            integration = kube.wait_for_object(
                "integrations", "acme", name, lambda o: (o.get("status") or {}).get("phase") == "Error")
            ready = integration["status"]["conditions"][0]
            assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "Unreachable")
        kube.wait_for_object("etljobs", "acme", "acme-jira-sync",
                             lambda o: (o.get("status") or {}).get("phase") == "Pending")

        for path in files:
            kubectl("delete", "-f", str(path), "--wait=false")
        kube.wait_for_absence("etljobs", "acme", "acme-jira-sync")
        kube.wait_for_absence("integrations", "acme", "acme-github")
