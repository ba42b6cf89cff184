"""search/jql paging, JQL semantics and the removed search endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import REMOVED_SEARCH_MESSAGE, SEARCH_PATH, UNBOUNDED_MESSAGE, JiraServer

from .conftest import search_all

ALL = "project in (ENG, OPS, WEB)"


def test_paging_returns_every_issue_exactly_once(
    jira: JiraServer, jc: httpx.Client, jira_ds: JiraDataset
) -> None:
    before = len(jira.counters.served_keys(SEARCH_PATH))
    issues, sizes = search_all(
        jc, f"{ALL} order by updated ASC, key ASC", maxResults=100, fields="*all", expand="changelog"
    )
    keys = [i["key"] for i in issues]
    assert len(keys) == len(set(keys)) == jira_ds.truth()["issues"]
    assert set(keys) == set(jira_ds.issue_keys())
    # Many fields plus changelogs: the server answers with fewer than maxResults per page.
    assert max(sizes) < 100
    updated = [(i["fields"]["updated"], i["key"]) for i in issues]
    stamps = [datetime.strptime(u, "%Y-%m-%dT%H:%M:%S.%f%z") for u, _ in updated]
    assert stamps == sorted(stamps)
    assert jira.counters.served_keys(SEARCH_PATH)[before:] == keys


def test_default_fields_are_id_only_and_sweeps_get_big_pages(jc: httpx.Client, jira_ds: JiraDataset) -> None:
    r = jc.get("/rest/api/3/search/jql", params={"jql": "project = ENG", "maxResults": 5000})
    body = r.json()
    assert all(set(i) == {"id"} for i in body["issues"])
    assert len(body["issues"]) == sum(1 for i in jira_ds.live_issues() if i.project_key == "ENG")
    default = jc.get("/rest/api/3/search/jql", params={"jql": "project = ENG"}).json()
    assert len(default["issues"]) == 50 and default["isLast"] is False


def test_post_search_and_field_lists(jc: httpx.Client) -> None:
    r = jc.post(
        "/rest/api/3/search/jql",
        json={
            "jql": "project = OPS order by key asc",
            "maxResults": 7,
            "fields": ["summary", "status", "customfield_10016"],
        },
    )
    assert r.status_code == 200
    first = r.json()["issues"][0]
    assert first["key"] == "OPS-1" and isinstance(first["id"], str)
    assert set(first["fields"]) == {"summary", "status", "customfield_10016"}
    assert first["fields"]["status"]["statusCategory"]["key"] in {"new", "indeterminate", "done"}
    token = r.json()["nextPageToken"]
    page2 = jc.post(
        "/rest/api/3/search/jql",
        json={
            "jql": "project = OPS order by key asc",
            "maxResults": 7,
            "fields": ["summary"],
            "nextPageToken": token,
        },
    ).json()
    assert page2["issues"][0]["key"] == "OPS-8"


def test_issue_shapes(jc: httpx.Client, jira_ds: JiraDataset) -> None:
    sub = next(i for i in jira_ds.live_issues() if i.type_idx == 4)
    body = jc.get(f"/rest/api/3/issue/{sub.key}").json()
    f = body["fields"]
    assert f["issuetype"]["subtask"] is True and f["issuetype"]["hierarchyLevel"] == -1
    assert f["parent"]["key"] == jira_ds.issues[sub.parent or 0].key
    assert f["description"]["type"] == "doc" and f["description"]["version"] == 1
    assert datetime.strptime(f["created"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert f["created"][-5] in "+-" and ":" not in f["created"][-5:]
    assert f["reporter"]["accountId"] and "displayName" in f["reporter"]
    with_sprint = next(i for i in jira_ds.live_issues() if i.sprint is not None)
    sprint = jc.get(f"/rest/api/3/issue/{with_sprint.key}").json()["fields"]["customfield_10020"]
    assert isinstance(sprint[0]["id"], int) and sprint[0]["state"] in {"active", "closed", "future"}


def test_removed_search_answers_410(jc: httpx.Client) -> None:
    for path in ("/rest/api/3/search", "/rest/api/2/search"):
        r = jc.get(path, params={"jql": "project = ENG"})
        assert r.status_code == 410
        assert r.json() == {"errorMessages": [REMOVED_SEARCH_MESSAGE], "errors": {}}
        assert r.json()["errorMessages"][0].startswith(
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
        )
    assert jc.post("/rest/api/2/search", json={"jql": "project = ENG"}).status_code == 410


def test_unbounded_and_invalid_jql_answer_400(jc: httpx.Client) -> None:
    r = jc.get("/rest/api/3/search/jql", params={"jql": "order by updated ASC"})
    assert r.status_code == 400
    assert r.json() == {"errorMessages": [UNBOUNDED_MESSAGE], "errors": {}}
    assert jc.get("/rest/api/3/search/jql").status_code == 400
    r = jc.get("/rest/api/3/search/jql", params={"jql": "project = NOPE"})
    assert r.status_code == 400 and "NOPE" in r.json()["errorMessages"][0]
    r = jc.get("/rest/api/3/search/jql", params={"jql": "project = ENG", "nextPageToken": "garbage"})
    assert r.status_code == 400


def test_key_in_and_order_by_id(jc: httpx.Client) -> None:
    issues, _ = search_all(jc, "key in (ENG-3, OPS-2, ENG-1) order by id ASC", fields="key")
    keys = [i["key"] for i in issues]
    assert sorted(keys) == ["ENG-1", "ENG-3", "OPS-2"]
    assert [int(i["id"]) for i in issues] == sorted(int(i["id"]) for i in issues)


def test_jql_datetime_is_read_in_the_user_timezone(jc: httpx.Client, jira_ds: JiraDataset) -> None:
    tz = ZoneInfo(jira_ds.user_timezone)
    assert tz.utcoffset(datetime(2025, 6, 1)).total_seconds() < 0  # type: ignore[union-attr]
    updated = sorted(i.updated_ms for i in jira_ds.live_issues())
    bookmark = updated[len(updated) // 2] // 60_000 * 60_000
    expected = {i.key for i in jira_ds.live_issues() if i.updated_ms >= bookmark}

    def keys(clause: str) -> set[str]:
        return {i["key"] for i in search_all(jc, f"{ALL} AND {clause}", fields="key", maxResults=100)[0]}

    assert keys(f"updated >= {bookmark}") == expected
    local = datetime.fromtimestamp(bookmark / 1000, tz).strftime("%Y/%m/%d %H:%M")
    assert keys(f'updated >= "{local}"') == expected
    as_utc = datetime.fromtimestamp(bookmark / 1000, UTC).strftime("%Y/%m/%d %H:%M")
    # A UTC bookmark formatted as a bare date is read as Los Angeles time: hours later, so it misses data.
    missed = expected - keys(f'updated >= "{as_utc}"')
    assert missed
    assert all(rec.updated_ms < bookmark + 9 * 3_600_000 for k in missed if (rec := jira_ds.get_issue(k)))
    # Minute granularity: seconds in a bare date are rejected.
    assert (
        jc.get("/rest/api/3/search/jql", params={"jql": f'{ALL} AND updated >= "{local}:30"'}).status_code
        == 400
    )
