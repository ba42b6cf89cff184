"""The chart as a platform team installs it: `helm lint --strict`, `helm template` for the defaults
and meaningful combinations, every rendered object valid against the Kubernetes OpenAPI schemas,
a values typo rejected by values.schema.json, and the install-time promises (CRDs kept, the
scaler's replicas never overwritten, hardened pods, a migration hook)."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from quarry_backend.resource_backend import KUBE_CALLS
from tests.kube.tools import ensure_helm, tool_or_skip

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "quarry"
K8S_VERSION = "1.30.0"
COMBINATIONS = {
    "defaults": [],
    "namespaced": ["operator.watchNamespaces={acme,globex}"],
    "external-secret": ["config.existingSecret=quarry-connections"],
    "ingress-tls": [
        "api.ingress.enabled=true", "api.ingress.className=nginx", "api.ingress.tlsSecret=quarry-tls"
    ],
    "monitoring": ["metrics.serviceMonitor.enabled=true", "metrics.grafanaDashboard.enabled=true"],
    "replica": ["config.databaseReplicaUrl=postgresql://quarry@replica:5432/quarry"],
    "local-resources-no-crds": ["api.resources=local", "crds.install=false", "networkPolicy.enabled=false"],
}


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(tool_or_skip(ensure_helm)), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def render(*sets: str) -> list[dict[str, Any]]:
    extra = [arg for s in sets for arg in ("--set", s)]
    out = helm("template", "rel", str(CHART), "--namespace", "quarry-system", *extra).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pods(docs: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "Job")
    ]


def test_lint_strict() -> None:
    assert "0 chart(s) failed" in helm("lint", "--strict", str(CHART)).stdout


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_every_rendered_object_is_valid_kubernetes(name: str) -> None:
    docs = render(*COMBINATIONS[name])
    assert docs
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            assert doc["kind"] == "ServiceMonitor"  # not a core type: no schema in the Kubernetes OpenAPI
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_values_schema_is_current_and_rejects_typos_and_wrong_types() -> None:
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "chart-schema.py"), "--check"])
    assert check.returncode == 0, "values.schema.json is stale: run scripts/chart-schema.py"
    typo = helm("template", "rel", str(CHART), "--set", "api.replcas=3", check=False)
    assert typo.returncode != 0 and "replcas" in typo.stderr
    wrong = helm("template", "rel", str(CHART), "--set", "api.replicas=many", check=False)
    assert wrong.returncode != 0 and "replicas" in wrong.stderr
    enum = helm("template", "rel", str(CHART), "--set", "api.resources=cluster", check=False)
    assert enum.returncode != 0 and "resources" in enum.stderr


PASSTHROUGH = ("resources:", "podResources:", "podSecurityContext:", "securityContext:")


def test_every_value_is_documented() -> None:
    """Every key has a comment line above it, except inside Kubernetes objects passed through as is."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        ancestors = []
        for j in range(i - 1, -1, -1):
            text = lines[j].strip()
            if text and not text.startswith("#") and len(lines[j]) - len(lines[j].lstrip()) < indent:
                ancestors.append(text)
                indent = len(lines[j]) - len(lines[j].lstrip())
        if any(a in PASSTHROUGH for a in ancestors):
            continue
        assert lines[i - 1].strip().startswith("#"), f"values.yaml:{i + 1} {stripped} has no comment"


def test_uninstall_keeps_every_tenants_resources() -> None:
    crds = of_kind(render(), "CustomResourceDefinition")
    assert {c["metadata"]["name"] for c in crds} == {"integrations.quarry.dev", "etljobs.quarry.dev"}
    assert all(c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for c in crds)
    assert of_kind(render("crds.install=false"), "CustomResourceDefinition") == []
    unkept = of_kind(render("crds.keep=false"), "CustomResourceDefinition")
    assert all("helm.sh/resource-policy" not in (c["metadata"].get("annotations") or {}) for c in unkept)


def test_the_chart_never_sets_replicas_the_scaler_owns() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind(render(), "Deployment")}
    for name in ("rel-transform", "rel-load"):
        assert "replicas" not in deployments[name]["spec"]
    assert deployments["rel-operator"]["spec"]["replicas"] == 1
    assert deployments["rel-operator"]["spec"]["strategy"]["type"] == "Recreate"
    assert deployments["rel-api"]["spec"]["replicas"] == 2


def test_every_pod_is_hardened() -> None:
    for name, spec in pods(render()):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert "fsGroup" in spec["securityContext"], name
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "resources" in container and container["resources"]["limits"]["memory"], name
            env = [e["name"] for e in container.get("env", [])]
            assert len(env) == len(set(env)), f"{name} sets an environment variable twice"
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, name  # a writable scratch dir on a read-only root


def test_migrations_run_as_a_hook_before_install_and_upgrade() -> None:
    [job] = of_kind(render(), "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_connections_come_from_a_secret_never_from_plain_values() -> None:
    docs = render("config.existingSecret=quarry-connections")
    assert of_kind(docs, "Secret") == []
    for name, spec in pods(docs):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if env["name"] in ("DATABASE_URL", "AMQP_URL", "QDRANT_URL", "QUARRY_JWT_SECRET"):
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "quarry-connections", name


def test_the_replica_url_reaches_the_api() -> None:
    docs = render("config.databaseReplicaUrl=postgresql://quarry@replica:5432/quarry")
    [secret] = of_kind(docs, "Secret")
    assert secret["stringData"]["DATABASE_REPLICA_URL"] == "postgresql://quarry@replica:5432/quarry"
    [api] = [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "rel-api"]
    names = {e["name"] for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "DATABASE_REPLICA_URL" in names


def test_ingress_monitoring_and_namespaced_rbac_render_when_asked() -> None:
    [ingress] = of_kind(render(*COMBINATIONS["ingress-tls"]), "Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "quarry-tls"
    monitoring = render(*COMBINATIONS["monitoring"])
    monitors = {m["metadata"]["name"] for m in of_kind(monitoring, "ServiceMonitor")}
    assert monitors == {"rel-api", "rel-operator"}
    [dashboard] = of_kind(monitoring, "ConfigMap")
    assert '"title": "Quarry"' in dashboard["data"]["quarry.json"]
    scoped = render(*COMBINATIONS["namespaced"])
    api_bindings = [b for b in of_kind(scoped, "RoleBinding") if b["roleRef"]["name"] == "rel-api"]
    assert sorted(b["metadata"]["namespace"] for b in api_bindings) == ["acme", "globex"]
    assert "rel-api" not in {b["roleRef"]["name"] for b in of_kind(scoped, "ClusterRoleBinding")}


def test_notes_tell_what_to_do_next() -> None:
    notes = helm("install", "--dry-run=client", "rel", str(CHART), "--namespace", "quarry-system").stdout
    notes = notes[notes.index("NOTES:"):]
    steps = ("rollout status", "admin create-tenant", "kubectl apply -f", "condition=Succeeded")
    for step in (*steps, "port-forward"):
        assert step in notes


def test_the_api_role_grants_exactly_the_calls_the_api_makes() -> None:
    [role] = [r for r in of_kind(render(), "ClusterRole") if r["metadata"]["name"] == "rel-api"]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == KUBE_CALLS
    assert of_kind(render("api.resources=local"), "ClusterRole") and not [
        r for r in of_kind(render("api.resources=local"), "ClusterRole") if r["metadata"]["name"] == "rel-api"
    ]
