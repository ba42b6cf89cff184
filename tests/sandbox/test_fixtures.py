"""Fixture mode: the recorded devlake items served through the imitation servers."""

from __future__ import annotations

import httpx
import pytest

from quarry_sandbox.github_data import GithubDataset
from quarry_sandbox.github_server import GithubServer
from quarry_sandbox.jira_data import JiraDataset, read_devlake
from quarry_sandbox.jira_server import JiraServer
from tests.support.recorded import DEVLAKE_DIR

from .conftest import GH_HEADERS, JIRA_AUTH, follow_links, needs_fixtures, search_all

pytestmark = needs_fixtures()


def test_jira_fixture_items_are_served_verbatim() -> None:
    recorded = {i["key"]: i for i in read_devlake(DEVLAKE_DIR / "jira" / "_raw_jira_api_issues.csv")}
    ds = JiraDataset.from_devlake(DEVLAKE_DIR)
    assert ds.truth()["issues"] == len(recorded) == 33
    with JiraServer(ds) as server, httpx.Client(base_url=server.base_url, auth=JIRA_AUTH) as c:
        issues, _ = search_all(
            c, "project in (EE, K5) order by key asc", fields="*all", expand="changelog", maxResults=10
        )
        assert {i["key"] for i in issues} == set(recorded)
        for issue in issues:
            raw = recorded[issue["key"]]
            assert issue["fields"] == raw["fields"]
            assert issue["changelog"]["total"] == raw["changelog"]["total"]
            assert {h["id"] for h in issue["changelog"]["histories"]} == {
                h["id"] for h in raw["changelog"]["histories"]
            }
        ee1 = c.get("/rest/api/3/issue/EE-1/changelog").json()
        assert ee1["total"] == 25 and ee1["values"][0]["created"] <= ee1["values"][-1]["created"]
        assert any(t["hierarchyLevel"] == 1 for t in c.get("/rest/api/3/issuetype").json())
        assert len(c.get("/rest/api/3/status").json()) > 10
        boards = c.get("/rest/agile/1.0/board").json()["values"]
        sprints = c.get(f"/rest/agile/1.0/board/{boards[0]['id']}/sprint").json()
        assert sprints["total"] == 30
        done_before = ds.get_issue("EE-1")
        assert done_before is not None
        ds.transition("EE-1", "In Progress")
        again = c.get("/rest/api/3/issue/EE-1", params={"expand": "changelog"}).json()
        assert again["fields"]["status"]["name"] == "In Progress"
        assert again["changelog"]["total"] == 26
        assert again["changelog"]["histories"][0]["items"][0]["toString"] == "In Progress"


def test_github_fixture_items_are_served() -> None:
    recorded = {
        p["number"] for p in read_devlake(DEVLAKE_DIR / "github" / "_raw_github_api_pull_requests.csv")
    }
    ds = GithubDataset.from_devlake(DEVLAKE_DIR)
    truth = ds.truth()
    assert truth["pull_requests"] == len(recorded) and truth["reviews"] == 31
    repo = ds.repos[0]
    assert repo.full_name == "panjf2000/ants"
    with GithubServer(ds) as server, httpx.Client(base_url=server.base_url, headers=GH_HEADERS) as c:
        pulls = follow_links(c, "/repos/panjf2000/ants/pulls", {"state": "all", "per_page": 20})
        assert sorted(p["number"] for p in pulls) == sorted(recorded)
        reviews = c.get("/repos/panjf2000/ants/pulls/53/reviews").json()
        assert len(reviews) == 15
        commits = c.get("/repos/panjf2000/ants/pulls/53/commits").json()
        assert len(commits) == 16
        full = c.get("/repos/panjf2000/ants/pulls/53").json()
        assert full["commits"] == 16 and "merged" in full
        q = (
            "query($owner:String!,$name:String!,$first:Int!){repository(owner:$owner,name:$name){"
            "pullRequests(first:$first){nodes{number}}}}"
        )
        body = c.post(
            "/graphql", json={"query": q, "variables": {"owner": "panjf2000", "name": "ants", "first": 100}}
        ).json()
        assert len(body["data"]["repository"]["pullRequests"]["nodes"]) == len(recorded)


@pytest.mark.parametrize("kind", ["jira", "github"])
def test_missing_fixture_folder_raises(tmp_path: object, kind: str) -> None:
    loader = JiraDataset.from_devlake if kind == "jira" else GithubDataset.from_devlake
    with pytest.raises(FileNotFoundError):
        loader(f"{tmp_path}/nowhere")
