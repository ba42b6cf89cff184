"""The pydantic models and the CRD schemas describe the same resources; manifests validate like kubectl."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from quarry_core import resources as r
from quarry_core.manifests import (
    ManifestError,
    crd_dir,
    crd_schema,
    load_crd,
    load_manifest_file,
    load_manifests,
    validate_manifest,
)
from quarry_core.resources import Entity
from quarry_core.sources import ALL_ENTITIES
from quarry_core.states import JobPhase

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
CONSTRAINTS = ("minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems")


# --- comparing a pydantic JSON schema with a CRD structural schema ---------------------------------


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        node = {**defs[node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    branches = [b for b in node.get("anyOf", []) if b.get("type") != "null"]
    if "anyOf" in node and len(branches) == 1:
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return _resolve({**branches[0], **rest}, defs)
    return node


def _types(node: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    if node.get("x-kubernetes-int-or-string"):
        return {"integer", "string"}
    if "anyOf" in node:
        return {t for b in node["anyOf"] for t in _types(_resolve(b, defs), defs)} - {"null"}
    if "type" in node:
        return {node["type"]}
    if "enum" in node or "const" in node:
        return {"string"}
    return set()


def _constraints(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    found = {k: node[k] for k in CONSTRAINTS if k in node}
    for branch in node.get("anyOf", []):
        found.update({k: v for k, v in _resolve(branch, defs).items() if k in CONSTRAINTS})
    return found


def _compare(crd: dict[str, Any], py: dict[str, Any], defs: dict[str, Any], path: str, strict: bool) -> None:
    py = _resolve(py, defs)
    assert _types(crd, defs) == _types(py, defs), f"{path}: type"
    if "enum" in crd or "enum" in py:
        assert set(crd.get("enum", [])) == set(py.get("enum", [])), f"{path}: enum"
    if strict:
        assert _constraints(crd, defs) == _constraints(py, defs), f"{path}: constraints"
        if "default" in py and not isinstance(py["default"], dict | list):
            assert crd.get("default") == py["default"], f"{path}: default"
    if "properties" in crd:
        assert set(crd["properties"]) == set(py.get("properties", {})), f"{path}: properties"
        assert set(crd.get("required", [])) == set(py.get("required", [])), f"{path}: required"
        for name, sub in crd["properties"].items():
            _compare(sub, py["properties"][name], defs, f"{path}.{name}", strict)
    elif isinstance(crd.get("additionalProperties"), dict):
        _compare(crd["additionalProperties"], py["additionalProperties"], defs, f"{path}.*", strict)
    if "items" in crd:
        _compare(crd["items"], py["items"], defs, f"{path}[]", strict)


@pytest.mark.parametrize(
    ("kind", "spec", "status"),
    [("Integration", r.IntegrationSpec, r.IntegrationStatus), ("EtlJob", r.EtlJobSpec, r.EtlJobStatus)],
)
def test_models_and_crd_schemas_agree(kind: str, spec: type[BaseModel], status: type[BaseModel]) -> None:
    schema = crd_schema(kind)
    for part, model, strict in (("spec", spec, True), ("status", status, False)):
        py = model.model_json_schema(by_alias=True)
        _compare(schema["properties"][part], py, py.get("$defs", {}), part, strict)


def test_crd_defaults_are_model_defaults_for_omitted_objects() -> None:
    # The API server fills `default: {}` objects with their members' defaults; the models must too.
    job = r.EtlJobSpec.model_validate({"integrationRef": {"name": "x"}, "entities": ["issues"]})
    assert job.workers.transform == r.WorkerPoolSettings()
    assert job.retry.max_attempts == 3


@pytest.mark.parametrize("kind", ["Integration", "EtlJob"])
def test_crd_metadata(kind: str) -> None:
    crd = load_crd(kind)
    spec = crd["spec"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert spec["group"] == r.GROUP and spec["scope"] == "Namespaced"
    assert "quarry" in spec["names"]["categories"] and spec["names"]["shortNames"]
    (version,) = spec["versions"]
    assert version["name"] == r.VERSION and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    expected = (
        ["Integration", "Phase", "Progress", "Last success", "Age"]
        if kind == "EtlJob"
        else ["Type", "Phase", "URL", "Age"]
    )
    assert columns[: len(expected)] == expected
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


@pytest.mark.parametrize("kind", ["Integration", "EtlJob"])
def test_crd_schemas_are_structural(kind: str) -> None:
    for node in _walk(crd_schema(kind)):
        if not isinstance(node.get("type"), str) and "properties" not in node and "items" not in node:
            continue
        # Structural schemas forbid these; unknown fields are pruned / rejected by field validation.
        assert node.get("additionalProperties") is not False
        assert "uniqueItems" not in node
        if "properties" in node or "additionalProperties" in node:
            assert node.get("type") == "object"
            assert "description" in node or node is not crd_schema(kind)


def test_entity_enum_matches_the_entity_lists() -> None:
    assert {e.value for e in Entity} == set(ALL_ENTITIES)


def test_crd_dir_is_found_from_the_package() -> None:
    assert (crd_dir() / "etljobs.quarry.dev.yaml").is_file()


# --- examples -----------------------------------------------------------------------------------


def test_the_design_example_is_shipped_verbatim() -> None:
    design = (REPO / "examples" / "acme-jira.yaml").read_text()
    assert "schedule: \"*/30 * * * *\"" in design
    kinds = [m.kind for m in load_manifest_file(REPO / "examples" / "acme-jira.yaml")]
    assert kinds == ["Secret", "Integration", "EtlJob"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_validates_through_schema_and_models(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    manifests = load_manifests(path.read_text())
    assert len(manifests) == len(docs) >= 3
    for doc, manifest in zip(docs, manifests, strict=True):
        assert manifest.metadata.namespace == doc["metadata"]["namespace"]
        assert manifest.kind == doc["kind"]
        # The model's own document round-trips and validates again.
        assert validate_manifest(manifest.to_document()) == manifest


def test_github_example_is_github() -> None:
    manifests = load_manifest_file(REPO / "examples" / "acme-github.yaml")
    integration = next(m for m in manifests if isinstance(m, r.IntegrationResource))
    job = next(m for m in manifests if isinstance(m, r.EtlJobResource))
    assert integration.spec.type == r.IntegrationType.GITHUB
    assert integration.spec.auth_style == r.AuthStyle.BEARER
    assert job.spec.entities_outside(integration.spec.type) == ()
    assert job.spec.entities_outside(r.IntegrationType.JIRA) == ("repositories", "pull_requests", "commits")


# --- validation errors name the field ------------------------------------------------------------

JOB = """
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {name: acme-jira-sync, namespace: acme}
spec:
  integrationRef: {name: acme-jira}
  mode: incremental
  entities: [projects, issues, sprints]
"""

INTEGRATION = """
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {name: acme-jira, namespace: acme}
spec:
  type: jira
  baseUrl: https://acme.atlassian.net
  credentials: {secretRef: {name: jira-creds}}
  scope: {projects: [ENG, OPS]}
"""


def _error(text: str) -> str:
    with pytest.raises(ManifestError) as info:
        load_manifests(text)
    return str(info.value)


def test_bad_enum_names_object_and_field() -> None:
    message = _error(JOB.replace("mode: incremental", "mode: sometimes"))
    expected = "EtlJob acme/acme-jira-sync: spec.mode: 'sometimes' is not one of ['full', 'incremental']"
    assert message == expected


def test_unknown_field_is_rejected_by_name() -> None:
    assert _error(JOB + "  shedule: '* * * * *'\n").endswith("spec.shedule: unknown field")
    assert "spec.workers.transform.maxReplica: unknown field" in _error(
        JOB + "  workers: {transform: {maxReplica: 3}}\n"
    )


def test_wrong_type_and_bounds() -> None:
    assert "spec.suspend: 'yes' is not of type 'boolean'" in _error(JOB + "  suspend: 'yes'\n")
    assert "spec.retry.maxAttempts: 0 is less than the minimum of 1" in _error(
        JOB + "  retry: {maxAttempts: 0}\n"
    )
    assert "spec.entities[1]: 'tickets' is not one of" in _error(JOB.replace("issues,", "tickets,"))


def test_missing_required_field() -> None:
    message = _error(JOB.replace("  integrationRef: {name: acme-jira}\n", ""))
    assert message.endswith("spec.integrationRef: required field is missing")


def test_schedule_must_be_valid_cron() -> None:
    assert "spec.schedule" in _error(JOB + "  schedule: 'every day'\n")
    assert "spec.schedule: " in _error(JOB + "  schedule: '61 * * * *'\n")
    good = load_manifests(JOB + "  schedule: '*/30 * * * *'\n")[0]
    assert isinstance(good, r.EtlJobResource) and good.spec.schedule == "*/30 * * * *"


def test_cel_rules_are_enforced_by_the_models() -> None:
    assert "minReplicas must not exceed maxReplicas" in _error(
        JOB + "  workers: {load: {minReplicas: 5, maxReplicas: 2}}\n"
    )
    assert "entities must be unique" in _error(JOB.replace("sprints]", "issues]"))
    github = INTEGRATION.replace("type: jira", "type: github")
    assert "scope.org/repos, not scope.projects" in _error(github)
    assert "needs scope.org or scope.repos" in _error(github.replace("{projects: [ENG, OPS]}", "{}"))
    assert "auth applies to jira" in _error(
        github.replace("{projects: [ENG, OPS]}", "{org: acme}") + "  auth: bearer\n"
    )
    assert "not scope.org" in _error(INTEGRATION.replace("{projects: [ENG, OPS]}", "{org: acme}"))


def test_integration_defaults_and_bad_url() -> None:
    integration = load_manifests(INTEGRATION)[0]
    assert isinstance(integration, r.IntegrationResource)
    assert integration.spec.budget.requests_per_hour == 5000
    assert integration.spec.credentials.secret_ref.keys == r.SecretKeys(username="email", token="token")
    assert integration.spec.auth_style == r.AuthStyle.BASIC
    assert "spec.baseUrl" in _error(INTEGRATION.replace("https://acme.atlassian.net", "acme.atlassian.net"))


def test_credentials_cannot_be_inline() -> None:
    message = _error(INTEGRATION.replace("{secretRef: {name: jira-creds}}", "{token: abc}"))
    assert "spec.credentials.token: unknown field" in message
    assert "spec.credentials.secretRef: required field is missing" in message


def test_unknown_kind_or_version_is_rejected() -> None:
    assert "unsupported apiVersion/kind quarry.dev/v1/EtlJob" in _error(
        JOB.replace("quarry.dev/v1alpha1", "quarry.dev/v1")
    )
    assert "unsupported apiVersion/kind v1/ConfigMap" in _error(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    )
    assert "metadata.name: required field is missing" in _error("apiVersion: v1\nkind: Secret\n")
    assert "not valid YAML" in _error("a: [")
    assert "must be a mapping" in _error("- 1\n- 2\n")


def test_missing_namespace_takes_the_default() -> None:
    text = JOB.replace("namespace: acme", "labels: {team: a}")
    assert load_manifests(text)[0].metadata.namespace == "default"
    assert load_manifests(text, default_namespace="acme")[0].metadata.namespace == "acme"
    # An explicit namespace wins over the default.
    assert load_manifests(JOB, default_namespace="other")[0].metadata.namespace == "acme"


def test_bad_name_is_rejected() -> None:
    assert "metadata.name" in _error(JOB.replace("name: acme-jira-sync", "name: Acme_Sync"))


def test_server_fields_in_metadata_are_tolerated() -> None:
    text = JOB.replace("namespace: acme}", "namespace: acme, resourceVersion: '12', managedFields: []}")
    assert load_manifests(text)[0].metadata.resource_version == "12"


def test_list_documents_are_flattened() -> None:
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(JOB)]})
    assert [m.kind for m in load_manifests(text)] == ["EtlJob"]


def test_status_is_validated_too() -> None:
    text = JOB + "status: {phase: Exploded}\n"
    assert "status.phase: 'Exploded' is not one of" in _error(text)
    ok = load_manifests(JOB + "status: {phase: Running}\n")[0]
    assert isinstance(ok, r.EtlJobResource) and ok.status is not None
    assert ok.status.phase == JobPhase.RUNNING
    # Status read back from the cluster may carry fields of a newer operator.
    assert r.EtlJobStatus.model_validate({"phase": "Failed", "futureField": 1}).phase == JobPhase.FAILED


# --- secrets ------------------------------------------------------------------------------------

SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: jira-creds, namespace: acme}\n"


def test_secret_with_string_data_and_data() -> None:
    encoded = base64.b64encode(b"bot@acme.io").decode()
    text = SECRET + f"data: {{email: {encoded}, token: b2xk}}\nstringData: {{token: new}}\n"
    secret = load_manifests(text)[0]
    assert isinstance(secret, r.SecretManifest)
    assert secret.values() == {"email": "bot@acme.io", "token": "new"}
    assert secret.type == "Opaque"


def test_secret_rejects_bad_base64_and_unknown_fields() -> None:
    assert "data.token is not valid base64" in _error(SECRET + "data: {token: '***'}\n")
    assert "stringdata" in _error(SECRET + "stringdata: {token: x}\n")
    bad_key = _error(SECRET + "stringData: {'bad key': x}\n")
    assert "stringData.bad key: String should match pattern" in bad_key


# --- conditions ---------------------------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_set_condition_keeps_transition_time_while_status_holds() -> None:
    conditions = r.set_condition((), "Ready", True, "Verified", "ok", T0)
    later = r.set_condition(conditions, "Ready", True, "Verified", "still ok", T0 + timedelta(hours=1))
    assert later[0].last_transition_time == T0 and later[0].message == "still ok"
    flipped = r.set_condition(later, "Ready", False, "AuthFailed", "401", T0 + timedelta(hours=2))
    assert flipped[0].last_transition_time == T0 + timedelta(hours=2)
    both = r.set_condition(flipped, "Running", False, "Idle", "", T0)
    assert [c.type for c in both] == ["Ready", "Running"]
    assert r.get_condition(both, "Running") is not None and r.get_condition(both, "Nope") is None


def test_condition_reason_must_be_camel_case() -> None:
    with pytest.raises(ValidationError):
        r.Condition(type="Ready", status=r.ConditionStatus.TRUE, reason="not ok", last_transition_time=T0)


def test_status_document_is_camel_case() -> None:
    status = r.EtlJobStatus(phase=JobPhase.RUNNING, counts={"issues": r.EntityCounts(extracted=3)})
    assert status.to_document() == {
        "phase": "Running",
        "conditions": [],
        "counts": {"issues": {"extracted": 3, "transformed": 0, "loaded": 0}},
    }


def test_progress_text() -> None:
    assert r.progress_text({}) == ""
    counts = {"issues": r.EntityCounts(extracted=1000, loaded=250), "sprints": r.EntityCounts(extracted=500)}
    assert r.progress_text(counts) == "250/1500 loaded (16%)"


def test_retry_backoff_doubles_and_caps() -> None:
    policy = r.RetryPolicy(backoff_seconds=30, max_backoff_seconds=100)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
