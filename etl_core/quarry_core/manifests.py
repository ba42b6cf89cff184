"""Read the YAML that `kubectl apply -f` takes, validated the way the API server would.

Custom resources are checked against the openAPIV3Schema of the CRDs in crds/ (so `quarry apply`
and `kubectl apply` reject the same mistakes, naming the field), then parsed into the pydantic
models, which add the CEL rules of the CRDs.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import ValidationError

from quarry_core.resources import (
    API_VERSION,
    EtlJobResource,
    IntegrationResource,
    Manifest,
    SecretManifest,
)

CRD_FILES = {"Integration": "integrations.quarry.dev.yaml", "EtlJob": "etljobs.quarry.dev.yaml"}
_MODELS: dict[str, type[IntegrationResource] | type[EtlJobResource]] = {
    "Integration": IntegrationResource,
    "EtlJob": EtlJobResource,
}


class ManifestError(ValueError):
    """A manifest that `kubectl apply` would reject too; the message names the object and field."""


def crd_dir() -> Path:
    """The crds/ folder: $QUARRY_CRD_DIR, else the source checkout's top-level crds/."""
    override = os.environ.get("QUARRY_CRD_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "crds"


@functools.cache
def load_crd(kind: str) -> dict[str, Any]:
    """The whole CustomResourceDefinition document of `kind` (Integration or EtlJob)."""
    path = crd_dir() / CRD_FILES[kind]
    with path.open(encoding="utf-8") as f:
        crd: dict[str, Any] = yaml.safe_load(f)
    return crd


def crd_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of the served version of `kind`."""
    version = API_VERSION.split("/")[1]
    for v in load_crd(kind)["spec"]["versions"]:
        if v["name"] == version:
            schema: dict[str, Any] = v["schema"]["openAPIV3Schema"]
            return schema
    raise LookupError(f"crd for {kind} does not serve {version}")


def _closed(schema: Any) -> Any:
    """Copy of a structural schema where objects with properties reject unknown fields.

    The API server prunes unknown fields and kubectl's strict field validation turns that into an
    error; jsonschema needs additionalProperties: false to do the same.
    """
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@functools.cache
def _validator(kind: str) -> jsonschema.Draft4Validator:
    # OpenAPI v3.0 schemas are closest to JSON Schema draft 4.
    return jsonschema.Draft4Validator(_closed(copy.deepcopy(crd_schema(kind))))


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _schema_messages(error: jsonschema.ValidationError) -> list[str]:
    where = _path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        return [
            f"{_path([*error.absolute_path, key])}: unknown field"
            for key in error.instance
            if key not in allowed
        ]
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value if k not in error.instance]
        return [f"{_path([*error.absolute_path, key])}: required field is missing" for key in missing]
    return [f"{where or '<root>'}: {error.message}"]


def _synthetic(part: int | str) -> bool:
    """Parts of a pydantic error location that are not fields (validator names, dict-key markers)."""
    return isinstance(part, str) and (part.startswith("function-") or part == "[key]")


def _pydantic_messages(error: ValidationError) -> list[str]:
    messages = []
    for e in error.errors():
        loc = [p for p in e["loc"] if not _synthetic(p)]
        msg = e["msg"].removeprefix("Value error, ")
        messages.append(f"{_path(loc) or '<root>'}: {msg}")
    return messages


def _describe(kind: str, metadata: Mapping[str, Any], namespace: str) -> str:
    name = metadata.get("name", "<unnamed>")
    return f"{kind} {namespace}/{name}"


def validate_manifest(doc: Any, default_namespace: str = "default") -> Manifest:
    """Check one manifest document and parse it into its model.

    Raises ManifestError, e.g.
    `EtlJob acme/acme-jira-sync: spec.mode: 'sometimes' is not one of ['full', 'incremental']`.
    A missing metadata.namespace becomes `default_namespace`, as with `kubectl apply -n`.
    """
    if not isinstance(doc, Mapping):
        raise ManifestError(f"a manifest must be a mapping, not {type(doc).__name__}")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    metadata = doc.get("metadata")
    if not isinstance(metadata, Mapping) or not metadata.get("name"):
        raise ManifestError(f"{kind or 'manifest'}: metadata.name: required field is missing")
    namespace = metadata.get("namespace") or default_namespace
    label = _describe(str(kind), metadata, namespace)
    doc = {**doc, "metadata": {**metadata, "namespace": namespace}}

    if (api_version, kind) == ("v1", "Secret"):
        model: type[Manifest] = SecretManifest
    elif api_version == API_VERSION and kind in _MODELS:
        errors = sorted(_validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            messages = [m for e in errors for m in _schema_messages(e)]
            raise ManifestError(f"{label}: " + "; ".join(messages))
        model = _MODELS[kind]
    else:
        known = ", ".join(["v1/Secret", *(f"{API_VERSION}/{k}" for k in _MODELS)])
        raise ManifestError(f"{label}: unsupported apiVersion/kind {api_version}/{kind} (known: {known})")

    try:
        return model.model_validate(doc)
    except ValidationError as e:
        raise ManifestError(f"{label}: " + "; ".join(_pydantic_messages(e))) from None


def yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong and where, without the offending line: in a Secret it is the token itself."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return type(error).__name__
    parts = [
        f"{what} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else what
        for what, mark in ((error.context, error.context_mark), (error.problem, error.problem_mark))
        if what
    ]
    return "; ".join(parts) or "syntax error"


def load_manifests(text: str, default_namespace: str = "default") -> list[Manifest]:
    """Every manifest of a (multi-document) YAML text, in order; a `kind: List` is flattened."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise ManifestError(f"not valid YAML: {yaml_problem(e)}") from None
    manifests: list[Manifest] = []
    for doc in docs:
        items = doc.get("items") if isinstance(doc, Mapping) and doc.get("kind") == "List" else [doc]
        if not isinstance(items, list):
            raise ManifestError("List: items must be a list")
        manifests.extend(validate_manifest(item, default_namespace) for item in items)
    return manifests


def load_manifest_file(path: str | os.PathLike[str], default_namespace: str = "default") -> list[Manifest]:
    return load_manifests(Path(path).read_text(encoding="utf-8"), default_namespace)
