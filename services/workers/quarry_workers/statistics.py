"""Planner statistics for a final table a load fills from nothing.

Autovacuum analyzes a table once a tenth of it changed, looking once a minute: a first run fills
the final tables in seconds, and PostgreSQL plans the load's key lookups with no statistics at
all. Measured at 20 000 issues: the load's reads of the stored items and transitions of a batch
used only (tenant, integration_id) of the unique key and filtered every row of the integration
(1.35 s of statement time a run, growing with the table: quadratic in a run's size); with the
key's columns analyzed they are index probes (0.08 s), for 0.07 s of ANALYZE.

So the load worker analyzes the natural key's columns of a table it loaded into once the table
holds 1 000 rows and was never analyzed, and again each time it has grown tenfold since. Between
times the planner scales the counted rows by the table's size, and autovacuum's own ANALYZE of
every column follows within its minute. Only the key's columns: every column of `work_items` and
its transitions (descriptions and all) cost 340 ms an ANALYZE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from quarry_core.tables import TABLES

log = logging.getLogger(__name__)

MIN_ROWS = 1_000
GROWTH = 10

_SIZES = text(
    """SELECT c.relname, c.reltuples, s.n_live_tup
       FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
       WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(CAST(:names AS text[]))
         AND pg_has_role(session_user, c.relowner, 'USAGE')"""
)


def stale(analyzed_rows: float, live_rows: int) -> bool:
    """Whether a table with `live_rows` now needs statistics; `analyzed_rows` is what the last
    ANALYZE counted (pg_class.reltuples, -1 when never analyzed)."""
    if live_rows < MIN_ROWS:
        return False
    return analyzed_rows < 0 or live_rows > GROWTH * analyzed_rows


def analyze_sql(tables: Iterable[str]) -> str:
    """One ANALYZE of the scope and natural-key columns of each (registered) final table."""
    targets = [f"{t} ({', '.join(('tenant', 'integration_id', *TABLES[t].natural_key))})" for t in tables]
    return f"ANALYZE (SKIP_LOCKED) {', '.join(targets)}"


def refresh_statistics(session: Session, tables: Iterable[str]) -> list[str]:
    """ANALYZE those of the final `tables` whose statistics are stale, in the caller's transaction
    (call it last: the transaction leaves the runtime role). Returns the tables analyzed.

    ANALYZE is the tables' owner's right: a login that does not own them (they were migrated by
    another) leaves them to autovacuum. It reads no rows for the caller (the statistics of a
    row-secured table are visible to its owner only). A table another process is analyzing is
    skipped, not waited for.
    """
    names = sorted(set(tables) & set(TABLES))
    if not names:
        return []
    sizes = session.execute(_SIZES, {"names": names}).all()
    due = sorted(name for name, analyzed, live in sizes if stale(analyzed, live))
    if due:
        session.execute(text("SET LOCAL ROLE NONE"))
        session.execute(text(analyze_sql(due)))
        log.debug("analyzed %s", ", ".join(due))
    return due
