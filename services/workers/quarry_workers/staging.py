"""Bulk upserts: COPY a batch into a temporary staging table, then one INSERT … SELECT … ON CONFLICT.

Row-at-a-time VALUES upserts cost the database a parse and plan of thousands of parameters per
statement; COPY plus one set-based merge costs little more than the COPY itself.

Each final table has one staging table per connection (`ON COMMIT DELETE ROWS`, so a rolled back or
committed batch leaves nothing behind). Rows are merged in groups of the same column set, because a
row only updates the columns it carries. Within a group, a natural key that occurs more than once
keeps one row: the newest by `updated_at` for tables that never go back in time, else the last sent.
A change of the text or payload a vector is built from clears `embedded_at`, so the embed stage
picks the row up again; reloading an identical row does not.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from quarry_core.tables import TABLES
from quarry_workers.copytext import COPY_OPTIONS, encode_json, is_json, to_csv

# Columns the database fills; never staged.
SERVER_COLUMNS = frozenset({"id", "loaded_at", "embedded_at"})


def staging_name(name: str) -> str:
    return f"quarry_stage_{name}"


def _q(column: str) -> str:
    return f'"{column}"'


@cache
def json_columns(tbl: Table) -> frozenset[str]:
    return frozenset(c.name for c in tbl.c if is_json(c))


@cache
def insert_defaults(tbl: Table) -> dict[str, Any]:
    """Client-side column defaults (e.g. `labels = []`), applied when a row does not carry them."""
    out: dict[str, Any] = {}
    for c in tbl.c:
        default = c.default
        if default is None or c.name in SERVER_COLUMNS:
            continue
        arg = getattr(default, "arg", None)
        if getattr(default, "is_callable", False) and callable(arg):
            out[c.name] = arg(None)
        elif getattr(default, "is_scalar", False):
            out[c.name] = arg
    return out


def create_staging_sql(tbl: Table) -> str:
    columns = ", ".join(_q(c.name) for c in tbl.c if c.name not in SERVER_COLUMNS)
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {staging_name(tbl.name)} ON COMMIT DELETE ROWS AS "
        f"SELECT 0 AS _grp, 0 AS _ord, {columns} FROM {tbl.name} WITH NO DATA"
    )


def merge_sql(
    tbl: Table,
    key: Sequence[str],
    carried: Sequence[str],
    staged: Sequence[str],
    *,
    never_back_in_time: str | None,
    keep_if_null: frozenset[str] = frozenset(),
) -> str:
    """The merge of one staged group (`:grp`) into its final table (pure).

    `carried` columns are updated on conflict; `staged` is every staged column (carried + key +
    insert-only defaults).
    """
    cols = ", ".join(_q(c) for c in staged)
    keys = ", ".join(_q(c) for c in key)
    newest = never_back_in_time if never_back_in_time in carried else None
    order = keys + (f", {_q(newest)} DESC NULLS LAST" if newest else "") + ", _ord DESC"
    sets = [
        f"{_q(c)} = coalesce(EXCLUDED.{_q(c)}, t.{_q(c)})"
        if c in keep_if_null
        else f"{_q(c)} = EXCLUDED.{_q(c)}"
        for c in carried
        if c not in key
    ]
    vectors = TABLES[tbl.name].vectors
    watched = [c for c in vectors.text_columns if c in carried] if vectors else []
    if watched:
        old = ", ".join(f"t.{_q(c)}" for c in watched)
        new = ", ".join(f"EXCLUDED.{_q(c)}" for c in watched)
        same = f"ROW({old}) IS NOT DISTINCT FROM ROW({new})"
        sets.append(f"embedded_at = CASE WHEN {same} THEN t.embedded_at END")
    sets.append("loaded_at = now()")
    # Copies of one row within a group: a keep_if_null column takes any copy's value, so which copy
    # the DISTINCT ON keeps (it depends on how messages were batched) cannot blank it.
    picked = ", ".join(
        f"max({_q(c)}) OVER (PARTITION BY {keys}) AS {_q(c)}" if c in keep_if_null else _q(c) for c in staged
    )
    sql = (
        f"INSERT INTO {tbl.name} AS t ({cols}) "
        f"SELECT DISTINCT ON ({keys}) {picked} FROM {staging_name(tbl.name)} WHERE _grp = :grp "
        f"ORDER BY {order} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
    )
    if newest:
        c = _q(newest)
        sql += f" WHERE EXCLUDED.{c} IS NULL OR t.{c} IS NULL OR EXCLUDED.{c} >= t.{c}"
    return sql


def ensure_staging(session: Session, tables: Sequence[Table]) -> None:
    # Asked every batch (one round trip): a table created in a transaction that then rolled back
    # is gone again, so remembering it per connection would be wrong.
    if tables:
        session.execute(text("; ".join(create_staging_sql(t) for t in tables)))


def copy_into_staging(
    session: Session,
    tbl: Table,
    grp: int,
    rows: Sequence[tuple[Sequence[Any], Mapping[str, Any]]],
    *,
    lead: Sequence[str],
    own: Sequence[str],
    tail: Mapping[str, Any],
) -> None:
    """COPY one group: each row is (values of the `lead` columns, row holding the `own` columns);
    `tail` gives the same value to every row (insert-only defaults)."""
    json_cols = json_columns(tbl)
    plain = [c for c in own if c not in json_cols]
    as_json = [c for c in own if c in json_cols]
    tail_text = [encode_json(v) if c in json_cols else str(v) for c, v in tail.items()]
    data = to_csv(
        ((((grp, i, *values), row)) for i, (values, row) in enumerate(rows)), plain, as_json, tail_text
    )
    target = ", ".join(["_grp", "_ord", *(_q(c) for c in (*lead, *plain, *as_json, *tail))])
    statement = f"COPY {staging_name(tbl.name)} ({target}) FROM STDIN WITH ({COPY_OPTIONS})"
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    import psycopg2

    cursor = dbapi.cursor()
    try:
        cursor.copy_expert(statement, io.StringIO(data))
    except psycopg2.Error as exc:
        # Raised as SQLAlchemy raises it, so the consumer tells an outage from a bad row.
        raise DBAPIError.instance(statement, None, exc, psycopg2.Error) from exc
    finally:
        cursor.close()
