"""The source registry is the one list of source types: the CRDs, the database constraint, the
extractor's connectors and the workers' transforms all agree with it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, text

from quarry_core import resources as r
from quarry_core.manifests import crd_schema
from quarry_core.sources import ALL_ENTITIES, SOURCES, AuthStyle
from quarry_extractor.connectors import CONNECTORS
from quarry_workers.transform import TRANSFORMS


def _spec(kind: str) -> dict[str, object]:
    props = crd_schema(kind)["properties"]["spec"]["properties"]
    assert isinstance(props, dict)
    return props


def test_crd_enums_are_the_registry() -> None:
    integration = _spec("Integration")
    assert integration["type"]["enum"] == list(SOURCES)  # type: ignore[index]
    assert integration["auth"]["enum"] == [a.value for a in AuthStyle]  # type: ignore[index]
    assert _spec("EtlJob")["entities"]["items"]["enum"] == list(ALL_ENTITIES)  # type: ignore[index]


def test_model_enums_are_the_registry() -> None:
    assert [t.value for t in r.IntegrationType] == list(SOURCES)
    assert [e.value for e in r.Entity] == list(ALL_ENTITIES)


def test_every_source_has_a_connector_and_a_transform() -> None:
    assert set(CONNECTORS) == set(SOURCES)
    assert set(TRANSFORMS) == set(SOURCES)


@pytest.mark.services
def test_the_database_constraint_is_the_registry(engine: Engine) -> None:
    with engine.connect() as conn:
        definition = conn.execute(
            text("select pg_get_constraintdef(oid) from pg_constraint where conname = 'ck_integrations_type'")
        ).scalar_one()
    assert sorted(re.findall(r"'([a-z0-9_-]+)'", definition)) == sorted(SOURCES)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_source_declares_what_the_platform_needs(source: str) -> None:
    s = SOURCES[source]
    assert s.entities and s.scope.fields and s.auth_styles and s.probe_path.startswith("/")
    assert set(s.scope.required_any) <= set(s.scope.fields) <= set(r.Scope.model_fields)
    assert s.title and s.identity_fields
