"""Row-level security: connected as Quarry's processes connect, one tenant cannot reach another's rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from quarry_core.db.models import FINAL_TABLES, Base, EtlJob, Integration, RawExtractionData, WorkItem
from quarry_core.db.tenancy import acting_as, as_platform, run_tenant
from quarry_core.runs import add_counts, create_run


def _seed(engine: Engine, tenant: str) -> dict[str, int]:
    """As the owner: an integration, job, run, raw page, counter and work item of `tenant`."""
    with Session(engine) as s, s.begin():
        integ = Integration(tenant=tenant, name="jira", uid=uuid.uuid4().hex, type="jira", spec={})
        job = EtlJob(tenant=tenant, name="sync", uid=uuid.uuid4().hex, integration_name="jira", spec={})
        s.add_all([integ, job])
        s.flush()
        run = create_run(s, job, integ, mode="full", entities=["issues"], trigger="manual")
        raw = RawExtractionData(
            tenant=tenant,
            integration_id=integ.id,
            run_id=run.id,
            entity="issues",
            stream="s",
            page_seq=0,
            url="http://x/",
            params={},
            status=200,
            response={"issues": []},
            item_count=0,
        )
        s.add(raw)
        s.flush()
        add_counts(s, tenant, run.id, "issues", pages=1)
        s.add(WorkItem(tenant=tenant, integration_id=integ.id, source_id="1", key="ENG-1", raw_id=raw.id))
        return {"integration": integ.id, "job": job.id, "run": run.id, "raw": raw.id}


Tenants = tuple[str, dict[str, int], str, dict[str, int]]


@pytest.fixture
def two_tenants(engine: Engine) -> Iterator[Tenants]:
    names = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with engine.begin() as conn:
        for n in names:
            conn.execute(text("INSERT INTO tenants (name) VALUES (:n)"), {"n": n})
    yield names[0], _seed(engine, names[0]), names[1], _seed(engine, names[1])


TABLES = ["integrations", "etl_jobs", "etl_runs", "raw_extraction_data", "etl_run_counters", "work_items"]


def _count(conn: Connection, table: str, tenant: str) -> int:
    return int(
        conn.execute(text(f"SELECT count(*) FROM {table} WHERE tenant = :t"), {"t": tenant}).scalar_one()
    )


def test_every_tenant_owned_table_forces_row_level_security(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND (c.relname = 'tenants' OR EXISTS "
                "(SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant'))"
            )
        ).all()
    assert len(rows) >= 25
    unprotected = [
        r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity and r.policies == 2)
    ]
    assert unprotected == []


def test_a_session_that_names_no_tenant_sees_and_writes_nothing(
    runtime_engine: Engine, two_tenants: Tenants
) -> None:
    a, ids_a, b, _ = two_tenants
    with runtime_engine.connect() as conn:
        assert conn.execute(text("select current_user")).scalar_one() == "quarry_runtime"
        for table in TABLES:
            assert _count(conn, table, a) == 0, table
            assert _count(conn, table, b) == 0, table
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 0
    with pytest.raises(DBAPIError, match="row-level security"), runtime_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO etl_run_counters (tenant, run_id, entity) VALUES (:t, :r, 'x')"),
            {"t": a, "r": ids_a["run"]},
        )


def test_tenant_a_can_neither_read_nor_write_tenant_b(runtime_engine: Engine, two_tenants: Tenants) -> None:
    a, _, b, ids_b = two_tenants
    with runtime_engine.begin() as conn:
        acting_as(conn, a)
        for table in TABLES:
            assert _count(conn, table, a) == 1, table
            assert _count(conn, table, b) == 0, table
        # Even by id, without naming the tenant.
        assert conn.execute(text("SELECT id FROM etl_runs WHERE id = :r"), {"r": ids_b["run"]}).all() == []
        changed = conn.execute(
            text("UPDATE raw_extraction_data SET item_count = 99 WHERE id = :id"), {"id": ids_b["raw"]}
        ).rowcount
        deleted = conn.execute(text("DELETE FROM work_items WHERE tenant = :t"), {"t": b}).rowcount
        assert (changed, deleted) == (0, 0)
        # Moving one's own row into another tenant is refused too.
        with pytest.raises(DBAPIError, match="row-level security"), conn.begin_nested():
            conn.execute(text("UPDATE work_items SET tenant = :b WHERE tenant = :a"), {"a": a, "b": b})
    with pytest.raises(DBAPIError, match="row-level security"), runtime_engine.begin() as conn:
        acting_as(conn, a)
        conn.execute(
            text("INSERT INTO etl_run_counters (tenant, run_id, entity) VALUES (:t, :r, 'x')"),
            {"t": b, "r": ids_b["run"]},
        )
    # The setting lasts one transaction: the next one on the same connection names no tenant again.
    with runtime_engine.connect() as conn:
        with conn.begin():
            acting_as(conn, a)
        assert _count(conn, "etl_runs", a) == 0
    with runtime_engine.begin() as conn:
        as_platform(conn)
        assert (
            conn.execute(
                text("SELECT item_count FROM raw_extraction_data WHERE id = :i"), {"i": ids_b["raw"]}
            ).scalar_one()
            == 0
        )


def test_a_row_cannot_name_another_tenants_run(runtime_engine: Engine, two_tenants: Tenants) -> None:
    """Composite keys: even the platform context cannot file tenant A's counter under B's run."""
    a, _, _, ids_b = two_tenants
    with pytest.raises(DBAPIError, match="fk_etl_run_counters_run_id_tenant"), Session(runtime_engine) as s:
        as_platform(s)
        add_counts(s, a, ids_b["run"], "other", failed=1)


@pytest.mark.parametrize("table", FINAL_TABLES)
def test_a_final_row_cannot_name_another_tenants_integration(
    runtime_engine: Engine, two_tenants: Tenants, table: str
) -> None:
    """Every final table's (integration_id, tenant) must name one integration of that tenant."""
    a, _, _, ids_b = two_tenants
    columns = [c for c in Base.metadata.tables[table].columns if not c.nullable and c.server_default is None]
    values = {c.name: _sample(c) for c in columns if c.name not in ("id", "tenant", "integration_id")}
    names = ", ".join(["tenant", "integration_id", *values])
    params = ", ".join([":tenant", ":integration", *(f":{k}" for k in values)])
    with pytest.raises(DBAPIError, match=f"fk_{table}_integration_id_tenant"), runtime_engine.begin() as conn:
        as_platform(conn)
        conn.execute(
            text(f"INSERT INTO {table} ({names}) VALUES ({params})"),
            {"tenant": a, "integration": ids_b["integration"], **values},
        )


def _sample(column: Column[Any]) -> object:
    if isinstance(column.type, JSON):
        return "[]"
    kind = column.type.python_type
    return datetime.now(UTC) if kind is datetime else kind(1) if kind in (int, float) else "x"


def test_platform_context_spans_tenants(runtime_engine: Engine, two_tenants: Tenants) -> None:
    a, ids_a, b, _ = two_tenants
    with runtime_engine.begin() as conn:
        as_platform(conn)
        assert _count(conn, "etl_runs", a) == _count(conn, "etl_runs", b) == 1
    assert run_tenant(runtime_engine, ids_a["run"]) == a
