"""The Helm chart: `helm lint`, `helm template`, RBAC equal to the operator's API calls, and the
rendered objects accepted by `kubectl apply` against the emulator."""

from __future__ import annotations

import pathlib
import subprocess
from collections.abc import Iterable
from typing import Any

import yaml

from quarry_operator.k8s import API_CALLS
from quarry_operator.scaler import pool_from_annotations
from tests.kube.harness import run_emulator
from tests.kube.tools import ensure_helm, ensure_kubectl, tool_or_skip

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "quarry"


def helm(*args: str) -> str:
    result = subprocess.run([str(tool_or_skip(ensure_helm)), *args], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(*sets: str) -> list[dict[str, Any]]:
    extra = [arg for s in sets for arg in ("--set", s)]
    out = helm("template", "rel", str(CHART), "--namespace", "quarry-system", *extra)
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_chart_lints() -> None:
    out = helm("lint", str(CHART))
    assert "0 chart(s) failed" in out


def test_rbac_grants_exactly_the_calls_the_operator_makes() -> None:
    docs = render()
    granted = {
        (group, resource, verb)
        for role in of_kind(docs, "ClusterRole") + of_kind(docs, "Role")
        if role["metadata"]["name"].startswith("rel-operator")
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == set(API_CALLS)
    # Worker scaling is confined to the release's namespace.
    [workers_role] = of_kind(docs, "Role")
    assert {r for rule in workers_role["rules"] for r in rule["resources"]} == {
        "deployments", "horizontalpodautoscalers"}


def test_watched_namespaces_get_role_bindings_instead_of_cluster_wide_access() -> None:
    cluster_wide = render()
    assert {b["roleRef"]["name"] for b in of_kind(cluster_wide, "ClusterRoleBinding")} == {
        "rel-operator", "rel-operator-framework", "rel-api"}
    scoped = render("operator.watchNamespaces={acme,globex}")
    assert {b["roleRef"]["name"] for b in of_kind(scoped, "ClusterRoleBinding")} == {"rel-operator-framework"}
    bindings = [b for b in of_kind(scoped, "RoleBinding") if b["roleRef"]["name"] == "rel-operator"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["acme", "globex"]
    [operator] = [d for d in of_kind(scoped, "Deployment") if d["metadata"]["name"] == "rel-operator"]
    args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=acme" in args and "--namespace=globex" in args and "--all-namespaces" not in args


def test_operator_deployment_and_worker_pools() -> None:
    docs = render()
    deployments = {d["metadata"]["name"]: d for d in of_kind(docs, "Deployment")}
    operator = deployments["rel-operator"]
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"] == {"type": "Recreate"}
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:3] == ["operator", "--standalone", "--all-namespaces"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    for stage in ("transform", "load"):
        workers = deployments[f"rel-{stage}"]
        assert workers["metadata"]["labels"]["quarry.dev/stage"] == stage
        assert "replicas" not in workers["spec"]  # owned by the operator
        assert pool_from_annotations(workers["metadata"]["annotations"]).max_replicas == 4
    crds = {d["metadata"]["name"]: d for d in of_kind(docs, "CustomResourceDefinition")}
    for path in (ROOT / "crds").glob("*.yaml"):
        source = yaml.safe_load(path.read_text())
        rendered = crds[source["metadata"]["name"]]
        # The chart adds only Helm's keep policy (so an uninstall leaves tenants' resources alone).
        assert rendered["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
        assert rendered == source
    assert of_kind(render("crds.install=false"), "CustomResourceDefinition") == []


def test_rendered_chart_applies_with_kubectl(tmp_path: pathlib.Path) -> None:
    kubectl = tool_or_skip(ensure_kubectl)
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(helm("template", "rel", str(CHART), "--namespace", "quarry-system"))
    with run_emulator(crd_dirs=(), namespaces=("default", "quarry-system")) as kube:
        result = subprocess.run(
            [str(kubectl), "--kubeconfig", str(kube.kubeconfig_path), "apply", "--validate=false",
             "-n", "quarry-system", "-f", str(manifest)],
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert kube.get("deployments", "quarry-system", "rel-operator") is not None
        assert kube.get("customresourcedefinitions", None, "etljobs.quarry.dev") is not None
