"""Jira data for the worker tests: the imitation server's dataset (always there) and the recorded
devlake items (an extra: read from <repo root>/../shared/fixtures/devlake, never copied; skipped
when that folder is absent)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import Any

import pytest

from quarry_sandbox.jira_data import JiraDataset
from tests.support.recorded import DEVLAKE_DIR as DEVLAKE


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


@dataclass(frozen=True)
class JiraSource:
    """What an extraction of one Jira project stores: search items, the status catalog, and the
    full changelog pages (issue id -> histories)."""

    name: str
    issues: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    changelogs: dict[str, list[dict[str, Any]]]

    @property
    def scope(self) -> str:
        return str(self.issues[0]["fields"]["project"]["key"])

    def summary(self, index: int) -> str:
        return str(self.issues[index]["fields"]["summary"])


def imitation_source() -> JiraSource:
    """33 issues as the imitation Jira serves them (search with embedded changelogs, full changelogs)."""
    ds = JiraDataset.synthetic(33, projects=1, seed=5, long_changelog_rate=0.0)
    live = list(ds.live_issues())
    return JiraSource(
        "imitation",
        [ds.render_issue(rec, "*all", True) for rec in live],
        ds.statuses(),
        {str(rec.id): ds.changelog(rec) for rec in live},
    )


def recorded_source() -> JiraSource:
    """The 33 recorded devlake issues; their recorded full changelogs belong to other issues."""
    changelogs: dict[str, list[dict[str, Any]]] = {}
    for r in rows("jira/_raw_jira_api_issue_changelogs.csv"):
        changelogs.setdefault(str(r["input"]["issue_id"]), []).append(r["data"])
    return JiraSource(
        "recorded",
        items("jira/_raw_jira_api_issues.csv"),
        items("jira/_raw_jira_api_status.csv"),
        changelogs,
    )


SOURCES = {"imitation": imitation_source, "recorded": recorded_source}
