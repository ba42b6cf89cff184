"""Rows -> the CSV that `COPY … (FORMAT csv, NULL …)` reads (pure).

The csv module quotes in C, so a row costs one list and one `writerow`, not a Python call per
value. NULL is written as a marker no real value is (a lone U+0001), so an empty string stays an
empty string. JSON columns are written as JSON text. NUL is dropped (PostgreSQL text cannot hold it).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Column

NULL = "\x01"
COPY_OPTIONS = "FORMAT csv, NULL E'\\x01'"


def is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)  # JSONB is a JSON subclass


def encode_json(value: Any) -> str:
    return NULL if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def to_csv(
    rows: Iterable[tuple[Sequence[Any], Mapping[str, Any]]],
    plain: Sequence[str],
    json_columns: Sequence[str],
    tail: Sequence[str] = (),
) -> str:
    """One CSV line per (leading values, row): the leading values, the row's `plain` columns, its
    JSON columns (a missing key is NULL), then `tail` (already encoded) — the COPY column order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for lead, row in rows:
        values = [NULL if v is None else v for v in (*lead, *[row.get(c) for c in plain])]
        values += [encode_json(row.get(c)) for c in json_columns]
        values += tail
        writer.writerow(values)
    text = buf.getvalue()
    return text.replace("\x00", "") if "\x00" in text else text
