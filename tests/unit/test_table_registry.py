"""The table registry agrees with the schema, and every reader of per-table facts follows it."""

from __future__ import annotations

import pytest
from sqlalchemy import UniqueConstraint

from quarry_core.db.models import Base
from quarry_core.sources import ALL_ENTITIES
from quarry_core.tables import EMBEDDED, FINAL_TABLES, TABLES
from quarry_workers.embed_worker import SOURCES as EMBED_SOURCES


@pytest.mark.parametrize("name", FINAL_TABLES)
def test_natural_key_is_a_unique_constraint_of_the_table(name: str) -> None:
    table = Base.metadata.tables[name]
    uniques = {
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    }
    assert ("tenant", "integration_id", *TABLES[name].natural_key) in uniques


@pytest.mark.parametrize("name", FINAL_TABLES)
def test_every_named_column_exists(name: str) -> None:
    spec, columns = TABLES[name], set(Base.metadata.tables[name].c.keys())
    named = set(spec.natural_key) | spec.keep_if_null
    if spec.never_back_in_time:
        named.add(spec.never_back_in_time)
    if spec.vectors:
        named |= set(spec.vectors.text_columns) | {"embedded_at"}
    assert named <= columns
    for child in spec.children:
        assert set(child.columns) <= set(Base.metadata.tables[child.table].c.keys())
        assert child.parent_columns == spec.natural_key
    assert spec.refreshed_by is None or spec.refreshed_by in ALL_ENTITIES


def test_parents_load_before_their_children() -> None:
    for spec in TABLES.values():
        for child in spec.children:
            assert FINAL_TABLES.index(spec.name) < FINAL_TABLES.index(child.table)


def test_the_embed_worker_embeds_exactly_the_tables_with_vectors() -> None:
    assert {(s.kind, s.table) for s in EMBED_SOURCES} == {
        (t.vectors.kind, t.name) for t in EMBEDDED if t.vectors is not None
    }
