"""A final table filled from nothing gets planner statistics from the load, not a minute later."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import Engine, create_engine, func, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from quarry_core.db.models import DeadLetter
from quarry_core.db.tenancy import bind_runtime_role
from quarry_workers import load_worker
from quarry_workers.statistics import MIN_ROWS, analyze_sql, refresh_statistics, stale
from tests.support.services import temporary_database
from tests.workers.conftest import Platform
from tests.workers.fixtures import JiraSource
from tests.workers.test_pipeline import _seed_jira_run


@pytest.mark.parametrize(
    ("analyzed", "live", "due"),
    [
        (-1, MIN_ROWS - 1, False),  # small: any plan reads it quickly
        (-1, MIN_ROWS, True),  # never analyzed
        (0, MIN_ROWS, True),  # analyzed while empty
        (1_000, 10_000, False),  # grown, but the planner scales the count by the table's size
        (1_000, 10_001, True),  # grown tenfold
    ],
)
def test_stale(analyzed: float, live: int, due: bool) -> None:
    assert stale(analyzed, live) is due


def test_only_the_scope_and_natural_key_are_analyzed() -> None:
    assert analyze_sql(["work_items", "work_item_transitions"]) == (
        "ANALYZE (SKIP_LOCKED) work_items (tenant, integration_id, source_id), "
        "work_item_transitions (tenant, integration_id, work_item_source_id, history_id, item_seq)"
    )


def _sizes(owner: Engine) -> dict[str, tuple[float, int]]:
    with owner.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, c.reltuples, s.n_live_tup FROM pg_stat_user_tables s JOIN pg_class c "
                "ON c.oid = s.relid WHERE c.relname IN ('work_items', 'projects')"
            )
        ).all()
    return {name: (tuples, live) for name, tuples, live in rows}


def test_the_runtime_role_analyzes_a_table_filled_from_nothing() -> None:
    with temporary_database("quarry_stats") as url:
        owner = create_engine(url)
        runtime = bind_runtime_role(create_engine(url, pool_size=1, max_overflow=0))
        try:
            with owner.begin() as conn:
                conn.execute(text("INSERT INTO tenants (name) VALUES ('acme')"))
                conn.execute(
                    text(
                        "INSERT INTO integrations (tenant, name, uid, type, spec, status, generation, "
                        "resource_version, labels, annotations) "
                        "VALUES ('acme', 'jira', 'u', 'jira', '{}', '{}', 1, 1, '{}', '{}')"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO work_items (tenant, integration_id, source_id, key, sprint_ids, labels) "
                        "SELECT 'acme', i.id, g::text, 'K-' || g, '[]', '[]' "
                        "FROM integrations i, generate_series(1, :n) g"
                    ),
                    {"n": MIN_ROWS + 500},
                )
            owner.dispose()  # a backend that ends reports its row counts at once
            deadline = time.monotonic() + 15
            while _sizes(owner)["work_items"][1] < MIN_ROWS and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _sizes(owner)["work_items"][0] < 0  # never analyzed

            # A login that does not own the tables leaves them to autovacuum: it does not even try.
            other = f"quarry_stats_{uuid.uuid4().hex[:8]}"
            with owner.begin() as conn:
                conn.execute(text(f"CREATE ROLE {other} LOGIN IN ROLE quarry_runtime"))
            stranger = bind_runtime_role(create_engine(make_url(url).set(username=other)))
            try:
                with Session(stranger) as session, session.begin():
                    assert session.execute(text("SELECT current_user")).scalar() == "quarry_runtime"
                    assert refresh_statistics(session, ["work_items"]) == []
            finally:
                stranger.dispose()
                with owner.begin() as conn:
                    conn.execute(text(f"DROP ROLE {other}"))
            assert _sizes(owner)["work_items"][0] < 0

            with Session(runtime) as session, session.begin():
                assert session.execute(text("SELECT current_user")).scalar() == "quarry_runtime"
                done = refresh_statistics(session, ["work_items", "projects", "not_a_table"])
            assert done == ["work_items"]  # projects is empty; unknown names are ignored
            with Session(runtime) as session:  # the same pooled connection: the role came back
                assert session.execute(text("SELECT current_user")).scalar() == "quarry_runtime"
            assert _sizes(owner)["work_items"][0] == MIN_ROWS + 500
            with owner.connect() as conn:
                analyzed = conn.execute(
                    text(
                        "SELECT array_agg(attname ORDER BY attname) FROM pg_stats "
                        "WHERE tablename = 'work_items'"
                    )
                ).scalar()
            assert analyzed == ["integration_id", "source_id", "tenant"]

            with Session(runtime) as session, session.begin():
                assert refresh_statistics(session, ["work_items"]) == []  # fresh now
        finally:
            owner.dispose()
            runtime.dispose()


def test_a_failed_analyze_never_fails_the_loaded_batch(
    platform: Platform, jira_source: JiraSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_session: Session, _tables: object) -> list[str]:
        raise OperationalError("ANALYZE", None, Exception("canceling statement due to lock timeout"))

    monkeypatch.setattr(load_worker, "refresh_statistics", refuse)
    run_id, _ = _seed_jira_run(platform, jira_source)
    platform.drain()
    run = platform.run(run_id)
    assert run.phase == "Succeeded", run.error
    with platform.factory() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.run_id == run_id)) == 0
