"""The Helm chart: `helm lint`, `helm template`, RBAC equal to the operator's API calls, and the
rendered objects accepted by `kubectl apply` against the emulator."""

from __future__ import annotations

import pathlib
import subprocess
from collections.abc import Iterable
from typing import Any

import yaml

from quarry_core.resources import EtlJobSpec
from quarry_operator.k8s import API_CALLS, CLUSTER_CALLS, PLATFORM_CALLS, TENANT_CALLS
from quarry_operator.manifests import ExtractPodConfig, Owner, extract_job
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


def _grants(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_rbac_grants_exactly_the_calls_the_operator_makes_where_it_makes_them() -> None:
    docs = render()
    roles = {
        r["metadata"]["name"]: r
        for r in of_kind(docs, "ClusterRole") + of_kind(docs, "Role")
        if r["metadata"]["name"].startswith("rel-operator")
    }
    assert set(roles) == {"rel-operator-framework", "rel-operator", "rel-operator-workers"}
    assert _grants(roles["rel-operator-framework"]) == CLUSTER_CALLS
    assert _grants(roles["rel-operator"]) == TENANT_CALLS  # per watched namespace, or cluster-wide
    assert _grants(roles["rel-operator-workers"]) == PLATFORM_CALLS  # the release's namespace only
    assert roles["rel-operator-workers"]["kind"] == "Role"
    assert CLUSTER_CALLS | TENANT_CALLS | PLATFORM_CALLS == API_CALLS
    # Secrets: read by name in tenant namespaces, created in the release's; never listed or changed.
    secret_verbs = {v for role in roles.values() for (_, r, v) in _grants(role) if r == "secrets"}
    assert secret_verbs == {"get", "create"}
    assert ("", "secrets", "create") not in TENANT_CALLS


def test_extract_pods_have_a_network_policy() -> None:
    [policy] = [p for p in of_kind(render(), "NetworkPolicy") if p["metadata"]["name"].endswith("-extract")]
    spec = EtlJobSpec.model_validate({"integrationRef": {"name": "i"}, "entities": ["issues"]})
    job = extract_job(owner=Owner("j", "uid"), tenant="acme", namespace="quarry-system", run_id=1, attempt=1,
                      spec=spec, config=ExtractPodConfig(image="quarry:test", config_secret="quarry-config"))
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and policy["spec"]["ingress"] == []
    blocks = [to["ipBlock"] for rule in policy["spec"]["egress"] for to in rule.get("to", [])]
    assert blocks and all("169.254.0.0/16" in b["except"] for b in blocks)
    assert of_kind(render("networkPolicy.enabled=false"), "NetworkPolicy") == []


def test_private_egress_is_off_by_default() -> None:
    [operator] = [d for d in of_kind(render(), "Deployment") if d["metadata"]["name"] == "rel-operator"]
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["QUARRY_EGRESS_ALLOW_PRIVATE"] == "false"


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
    assert "--namespace=quarry-system" in args  # extract Jobs run in the release's namespace


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
