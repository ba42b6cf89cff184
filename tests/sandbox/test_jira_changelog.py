"""Embedded (truncated) changelogs, the full changelog endpoint, bulkfetch, metadata and mutations."""

from __future__ import annotations

from typing import Any

import httpx

from quarry_sandbox.jira_data import EMBEDDED_CHANGELOG_LIMIT, JiraDataset

from .conftest import search_all


def full_changelog(jc: httpx.Client, key: str) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = []
    start = 0
    while True:
        body = jc.get(
            f"/rest/api/3/issue/{key}/changelog", params={"startAt": start, "maxResults": 100}
        ).json()
        assert body["startAt"] == start
        values.extend(body["values"])
        if body["isLast"]:
            assert "nextPage" not in body
            return values
        assert body["nextPage"]
        start += len(body["values"])


def test_embedded_changelog_is_truncated_newest_first(jc: httpx.Client, jira_ds: JiraDataset) -> None:
    long = next(i for i in jira_ds.live_issues() if i.n_gen > 100)
    issue = jc.get(
        "/rest/api/3/search/jql",
        params={"jql": f"key = {long.key}", "expand": "changelog", "fields": "status"},
    ).json()["issues"][0]
    cl = issue["changelog"]
    assert cl["total"] == long.n_gen > EMBEDDED_CHANGELOG_LIMIT
    assert len(cl["histories"]) == EMBEDDED_CHANGELOG_LIMIT == cl["maxResults"]
    full = full_changelog(jc, long.key)
    assert len(full) == cl["total"]
    assert [h["id"] for h in full] == [h["id"] for h in jira_ds.changelog(long.key)]
    assert [h["id"] for h in cl["histories"]] == [h["id"] for h in full[::-1][:EMBEDDED_CHANGELOG_LIMIT]]
    # The status chain in the full changelog ends at the issue's current status.
    statuses = [it["toString"] for h in full for it in h["items"] if it["field"] == "status"]
    if statuses:
        assert statuses[-1] == issue["fields"]["status"]["name"]
    assert full[-1]["created"] == jc.get(f"/rest/api/3/issue/{long.key}").json()["fields"]["updated"]


def test_bulkfetch_pages_through_changelogs(jc: httpx.Client, jira_ds: JiraDataset) -> None:
    keys = [i.key for i in list(jira_ds.live_issues())[:60]]
    merged: dict[str, list[str]] = {}
    token = None
    pages = 0
    while True:
        body: dict[str, Any] = {"issueIdOrKeys": keys, "maxResults": 100}
        if token:
            body["nextPageToken"] = token
        r = jc.post("/rest/api/3/changelog/bulkfetch", json=body)
        assert r.status_code == 200, r.text
        data = r.json()
        pages += 1
        for log in data["issueChangeLogs"]:
            merged.setdefault(log["issueId"], []).extend(h["id"] for h in log["changeHistories"])
        token = data.get("nextPageToken")
        if not token:
            break
    assert pages > 1
    for k in keys:
        rec = jira_ds.get_issue(k)
        assert rec is not None
        assert merged.get(str(rec.id), []) == [h["id"] for h in jira_ds.changelog(k)]
    status_only = jc.post(
        "/rest/api/3/changelog/bulkfetch", json={"issueIdOrKeys": keys[:5], "fieldIds": ["status"]}
    ).json()
    assert all(
        it["fieldId"] == "status"
        for log in status_only["issueChangeLogs"]
        for h in log["changeHistories"]
        for it in h["items"]
    )
    assert jc.post("/rest/api/3/changelog/bulkfetch", json={"issueIdOrKeys": []}).status_code == 400


def test_metadata_endpoints(jc: httpx.Client, jira_ds: JiraDataset) -> None:
    page = jc.get("/rest/api/3/project/search", params={"maxResults": 2}).json()
    assert page["total"] == 3 and page["isLast"] is False and len(page["values"]) == 2 and page["nextPage"]
    rest = jc.get("/rest/api/3/project/search", params={"startAt": 2, "maxResults": 2}).json()
    assert rest["isLast"] is True and [p["key"] for p in page["values"] + rest["values"]] == [
        "ENG",
        "OPS",
        "WEB",
    ]
    types = jc.get("/rest/api/3/issuetype").json()
    assert isinstance(types, list) and {t["hierarchyLevel"] for t in types} == {-1, 0, 1}
    statuses = jc.get("/rest/api/3/status").json()
    assert isinstance(statuses, list)
    assert all(
        isinstance(s["statusCategory"]["id"], int)
        and s["statusCategory"]["key"]
        and s["statusCategory"]["name"]
        for s in statuses
    )
    fields = jc.get("/rest/api/3/field").json()
    assert any(f["id"] == "customfield_10016" and f["custom"] for f in fields)
    me = jc.get("/rest/api/3/myself").json()
    assert me["emailAddress"] == "bot@quarry.dev" and me["timeZone"] == jira_ds.user_timezone


def test_boards_and_sprints(jc: httpx.Client, jira_ds: JiraDataset) -> None:
    boards = jc.get("/rest/agile/1.0/board").json()
    assert boards["total"] == 3 and all(isinstance(b["id"], int) for b in boards["values"])
    scrum = next(b for b in boards["values"] if b["type"] == "scrum")
    kanban = next(b for b in boards["values"] if b["type"] == "kanban")
    sprints = jc.get(f"/rest/agile/1.0/board/{scrum['id']}/sprint", params={"maxResults": 4}).json()
    assert sprints["total"] == 6 and len(sprints["values"]) == 4 and sprints["isLast"] is False
    assert sprints["values"][0]["originBoardId"] == scrum["id"]
    active = jc.get(f"/rest/agile/1.0/board/{scrum['id']}/sprint", params={"state": "active,future"}).json()
    assert {s["state"] for s in active["values"]} == {"active", "future"}
    r = jc.get(f"/rest/agile/1.0/board/{kanban['id']}/sprint")
    assert r.status_code == 400 and r.json()["errorMessages"] == ["The board does not support sprints"]
    assert jc.get("/rest/agile/1.0/board/999/sprint").status_code == 404


def test_mutations_show_up_in_incremental_queries() -> None:
    from quarry_sandbox.jira_server import JiraServer

    ds = JiraDataset.synthetic(200, projects=2, seed=11)
    with (
        JiraServer(ds) as server,
        httpx.Client(base_url=server.base_url, auth=("bot@quarry.dev", "jira-token")) as c,
    ):
        bookmark = max(i.updated_ms for i in ds.issues) + 1
        changed = ds.transition_some(3)
        victim = next(k for k in ds.issue_keys() if k not in changed)
        ds.delete_issue(victim)
        new_key = ds.create_issue("ENG", summary="Fresh work")
        issues, _ = search_all(
            c, f"project in (ENG, OPS) AND updated >= {bookmark}", fields="status,summary", expand="changelog"
        )
        assert {i["key"] for i in issues} == {*changed, new_key}
        for issue in issues:
            if issue["key"] in changed:
                last = issue["changelog"]["histories"][0]
                assert last["items"][0]["field"] == "status"
                assert last["items"][0]["toString"] == issue["fields"]["status"]["name"]
        all_keys = {
            i["key"] for i in search_all(c, "project in (ENG, OPS)", maxResults=5000, fields="key")[0]
        }
        assert victim not in all_keys and len(all_keys) == ds.truth()["issues"] == 200
        assert c.get(f"/rest/api/3/issue/{victim}/changelog").status_code == 404
        assert ds.truth()["deleted_issues"] == 1


def test_a_transitioned_issue_keeps_its_history_when_the_cache_forgets_it() -> None:
    # The generated part of a history derives from the issue's status and update time, which a
    # transition changes: rebuilt after the cache dropped it, it must still be the same history.
    ds = JiraDataset.synthetic(2_500, projects=1, seed=4)
    changed = ds.transition_some(100, seed=1)
    before = {k: ds.changelog(k) for k in changed}
    for rec in ds.live_issues():  # more than the cache holds
        ds.changelog(rec)
    for key in changed:
        assert ds.changelog(key) == before[key]
        assert ds.status_transitions(key)[-1][1] == ds.issue(key)["fields"]["status"]["name"]
