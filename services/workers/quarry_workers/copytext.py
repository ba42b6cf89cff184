"""Rows -> the CSV that `COPY … (FORMAT csv, NULL …)` reads (pure).

The csv module quotes in C, so a row costs one list and one `writerow`, not a Python call per
value: the columns are read with one `itemgetter` call and NULLs replaced by a C-level `map`.
NULL is written as a marker no real value is (a lone U+0001), so an empty string stays an empty
string. JSON columns are written as JSON text. NUL is dropped (PostgreSQL text cannot hold it).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Column

NULL = "\x01"
COPY_OPTIONS = "FORMAT csv, NULL E'\\x01'"


def is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)  # JSONB is a JSON subclass


# One encoder for all values: `json.dumps` with options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_NULLS = {None: NULL}


def encode_json(value: Any) -> str:
    return NULL if value is None else _encode(value)


def _nulls_marked(values: Sequence[Any]) -> list[Any]:
    try:
        return list(map(_NULLS.get, values, values))
    except TypeError:  # an unhashable value (never None): compare one by one
        return [NULL if v is None else v for v in values]


def _getter(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values of `columns` as a tuple; a missing key is NULL."""
    if not columns:
        return lambda row: ()
    get = itemgetter(*columns)
    if len(columns) == 1:
        return lambda row: (get(row),)
    return get


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
    columns = (*plain, *json_columns)
    get = _getter(columns)
    first_json = len(plain)
    for lead, row in rows:
        try:
            own = get(row)
        except KeyError:
            own = tuple(row.get(c) for c in columns)
        values = _nulls_marked((*lead, *own[:first_json]))
        values.extend([encode_json(v) for v in own[first_json:]])
        values.extend(tail)
        writer.writerow(values)
    text = buf.getvalue()
    return text.replace("\x00", "") if "\x00" in text else text
