"""Write helm/quarry/values.schema.json from values.yaml: every object closed
(additionalProperties: false) so a typo fails, every leaf typed by its default, plus the enums
and patterns below. Run it after changing values.yaml; tests/chart checks it is current."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "quarry"
# Where a default does not say enough.
EXTRA: dict[str, dict[str, Any]] = {
    "image.pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    "config.logFormat": {"enum": ["json", "text"]},
    "api.resources": {"enum": ["kubernetes", "local"]},
    "api.service.type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "embed.embedder": {"enum": ["auto", "hashing", "sentence", "off"]},
    "operator.watchNamespaces": {"items": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}},
    "image.pullSecrets": {"items": {"type": "string"}},
    "api.corsOrigins": {"items": {"type": "string"}},
    "metrics.serviceMonitor.interval": {"pattern": "^[0-9]+(ms|s|m|h)$"},
    "config.databaseUrl": {"pattern": "^postgres(ql)?(\\+[a-z0-9]+)?://"},
    "config.amqpUrl": {"pattern": "^amqps?://"},
}
# Free-form maps (Kubernetes objects or label sets): any keys.
OPEN = {
    "podSecurityContext", "securityContext", "api.podResources", "api.ingress.annotations",
    "operator.resources", "workers.transform.resources", "workers.load.resources", "embed.resources",
    "migrations.resources", "metrics.serviceMonitor.labels", "metrics.grafanaDashboard.labels",
}
PEER_LISTS = {"networkPolicy.apiFrom", "networkPolicy.metricsFrom"}


def schema(value: Any, path: str) -> dict[str, Any]:
    if path in OPEN:
        return {"type": "object"}
    if path in PEER_LISTS:
        return {"type": "array", "items": {"type": "object"}}
    extra = EXTRA.get(path, {})
    if isinstance(value, dict):
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: schema(v, f"{path}.{k}" if path else k) for k, v in value.items()},
        }
    if isinstance(value, bool):
        return {"type": "boolean", **extra}
    if isinstance(value, int):
        return {"type": "integer", "minimum": 0, **extra}
    if isinstance(value, list):
        return {"type": "array", **extra}
    return {"type": "string", **extra}


def build() -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    doc = {"$schema": "https://json-schema.org/draft-07/schema#", "title": "Quarry chart values",
           **schema(values, "")}
    return json.dumps(doc, indent=2) + "\n"


if __name__ == "__main__":
    target = CHART / "values.schema.json"
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if target.read_text() == build() else 1)
    target.write_text(build())
