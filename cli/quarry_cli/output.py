"""Printing for the CLI: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("   ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip())


def add_output_flag(parser: Any) -> None:
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table", help="output format")
