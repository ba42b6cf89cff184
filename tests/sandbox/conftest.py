"""Imitation servers started for real on 127.0.0.1 and driven over HTTP with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from quarry_sandbox.github_data import GithubDataset
from quarry_sandbox.github_server import GithubServer
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.support.recorded import DEVLAKE_DIR

JIRA_AUTH = ("bot@quarry.dev", "jira-token")
GH_HEADERS = {"Authorization": "token gh-token"}
ANCHOR_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, so the synthetic data never depends on today


def needs_fixtures() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not DEVLAKE_DIR.is_dir(), reason=f"{DEVLAKE_DIR} is not present")


@pytest.fixture(scope="module")
def jira_ds() -> JiraDataset:
    return JiraDataset.synthetic(1500, projects=3, seed=7, anchor_ms=ANCHOR_MS, long_changelog_rate=0.03)


@pytest.fixture(scope="module")
def jira(jira_ds: JiraDataset) -> Iterator[JiraServer]:
    with JiraServer(jira_ds) as server:
        yield server


@pytest.fixture
def jc(jira: JiraServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=jira.base_url, auth=JIRA_AUTH, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def gh_ds() -> GithubDataset:
    return GithubDataset.synthetic(3, 450, seed=3, empty_repos=1, big_pr_commits=260, anchor_ms=ANCHOR_MS)


@pytest.fixture(scope="module")
def github(gh_ds: GithubDataset) -> Iterator[GithubServer]:
    with GithubServer(gh_ds) as server:
        yield server


@pytest.fixture
def gc(github: GithubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=github.base_url, headers=GH_HEADERS, timeout=10) as client:
        yield client


def search_all(client: httpx.Client, jql: str, **params: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """Page search/jql to the end; returns the issues and the size of every page."""
    issues: list[dict[str, Any]] = []
    sizes: list[int] = []
    token: str | None = None
    while True:
        query = {"jql": jql, **params}
        if token:
            query["nextPageToken"] = token
        r = client.get("/rest/api/3/search/jql", params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        assert "total" not in body and "startAt" not in body
        issues.extend(body["issues"])
        sizes.append(len(body["issues"]))
        if body["isLast"]:
            assert "nextPageToken" not in body
            return issues, sizes
        token = body["nextPageToken"]


def follow_links(
    client: httpx.Client, url: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        r = client.get(next_url, params=params)
        params = None
        assert r.status_code == 200, r.text
        items.extend(r.json())
        next_url = r.links.get("next", {}).get("url")
    return items
