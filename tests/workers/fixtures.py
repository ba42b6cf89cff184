"""Read the devlake recorded API items (never copied into the repo); tests skip without them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

DEVLAKE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "devlake"
if not DEVLAKE.exists():
    DEVLAKE = Path("/work/shared/fixtures/devlake")


def rows(name: str) -> list[dict[str, Any]]:
    path = DEVLAKE / name
    if not path.exists():
        pytest.skip(f"devlake fixtures not found at {DEVLAKE}")
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8") as fh:
        out = []
        for row in csv.DictReader(fh):
            out.append(
                {
                    "data": json.loads(row["data"]),
                    "input": json.loads(row["input"]) if row["input"] not in ("", "null") else None,
                    "url": row["url"],
                }
            )
        return out


def items(name: str) -> list[Any]:
    return [r["data"] for r in rows(name)]
