"""GitHub REST paging, shapes, ETags, limits and the GraphQL pull-request query."""

from __future__ import annotations

import time
from typing import Any

import httpx

from quarry_sandbox.faults import FaultConfig
from quarry_sandbox.github_data import GithubDataset
from quarry_sandbox.github_server import GithubConfig, GithubServer

from .conftest import GH_HEADERS, follow_links

PR_QUERY = """
query($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number updatedAt
        reviews(first: 100) { nodes { state } }
        commits(first: 100) { nodes { commit { oid } } }
      }
    }
  }
}"""


def test_link_pagination_returns_every_pull_once(gc: httpx.Client, gh_ds: GithubDataset) -> None:
    repo = gh_ds.repos[0]
    first = gc.get(
        f"/repos/{repo.full_name}/pulls",
        params={"state": "all", "sort": "updated", "direction": "desc", "per_page": 50},
    )
    links = first.links
    assert set(links) == {"next", "last"} and f"/repositories/{repo.id}/pulls" in links["next"]["url"]
    middle = gc.get(links["next"]["url"])
    assert set(middle.links) == {"prev", "next", "last", "first"}
    pulls = follow_links(
        gc,
        f"/repos/{repo.full_name}/pulls",
        {"state": "all", "sort": "updated", "direction": "desc", "per_page": 50},
    )
    numbers = [p["number"] for p in pulls]
    assert len(numbers) == len(set(numbers)) == len(repo.pulls)
    stamps = [p["updated_at"] for p in pulls]
    assert stamps == sorted(stamps, reverse=True)
    assert (
        "merged_by" not in pulls[0] and "additions" not in pulls[0] and pulls[0]["updated_at"].endswith("Z")
    )
    single = gc.get(f"/repos/{repo.full_name}/pulls", params={"state": "all", "per_page": 100, "page": 99})
    assert single.json() == [] and "next" not in single.links
    default_open = gc.get(f"/repos/{repo.full_name}/pulls", params={"per_page": 100}).json()
    assert all(p["state"] == "open" for p in default_open)


def test_no_link_header_on_a_single_page(gc: httpx.Client, gh_ds: GithubDataset) -> None:
    r = gc.get(f"/orgs/{gh_ds.org}/repos")
    assert r.status_code == 200 and "link" not in r.headers and len(r.json()) == 3


def test_full_pull_reviews_and_commit_cap(gc: httpx.Client, gh_ds: GithubDataset) -> None:
    repo = gh_ds.repos[0]
    full = gc.get(f"/repos/{repo.full_name}/pulls/1").json()
    assert {"merged", "merged_by", "additions", "deletions", "changed_files", "commits"} <= set(full)
    assert full["commits"] == 260
    commits = follow_links(gc, f"/repos/{repo.full_name}/pulls/1/commits", {"per_page": 100})
    assert len(commits) == 250
    pull = next(
        p for p in repo.pulls if any(rv.state == "PENDING" for rv in p.reviews) and len(p.reviews) > 1
    )
    reviews = gc.get(f"/repos/{repo.full_name}/pulls/{pull.number}/reviews").json()
    assert [r["id"] for r in reviews] == [rv.id for rv in pull.reviews]
    for r in reviews:
        assert ("submitted_at" in r) == (r["state"] != "PENDING")
    assert gc.get(f"/repos/{repo.full_name}/pulls/999999").status_code == 404


def test_commits_since_null_authors_and_empty_repo(gc: httpx.Client, gh_ds: GithubDataset) -> None:
    repo = gh_ds.repos[1]
    commits = follow_links(gc, f"/repos/{repo.full_name}/commits", {"per_page": 100})
    assert len(commits) == len(repo.commits)
    assert any(c["author"] is None for c in commits)
    cutoff = commits[len(commits) // 2]["commit"]["committer"]["date"]
    recent = follow_links(gc, f"/repos/{repo.full_name}/commits", {"since": cutoff, "per_page": 100})
    assert recent and all(c["commit"]["committer"]["date"] >= cutoff for c in recent)
    empty = gh_ds.repos[-1]
    r = gc.get(f"/repos/{empty.full_name}/commits")
    assert r.status_code == 409 and r.json()["message"] == "Git Repository is empty."


def test_etag_304_is_free(gc: httpx.Client, gh_ds: GithubDataset) -> None:
    url = f"/repos/{gh_ds.repos[0].full_name}"
    first = gc.get(url)
    etag = first.headers["etag"]
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = gc.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    assert gc.get(url).headers["x-ratelimit-remaining"] == str(remaining - 1)


def test_rate_headers_and_bad_credentials(github: GithubServer, gc: httpx.Client) -> None:
    r = gc.get("/user")
    for h in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset"):
        assert r.headers[h].isdigit()
    assert r.headers["x-ratelimit-resource"] == "core"
    bad = httpx.get(f"{github.base_url}/user", headers={"Authorization": "token nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    rl = gc.get("/rate_limit").json()
    assert (
        gc.get("/rate_limit").json()["resources"]["core"]["remaining"] == rl["resources"]["core"]["remaining"]
    )


def test_primary_limit_until_reset() -> None:
    config = GithubConfig(rest_limit=3, window_seconds=1.0)
    with (
        GithubServer(GithubDataset.synthetic(1, 5), config) as server,
        httpx.Client(base_url=server.base_url, headers=GH_HEADERS) as c,
    ):
        assert [c.get("/user").status_code for _ in range(3)] == [200, 200, 200]
        over = c.get("/user")
        assert over.status_code == 403 and over.headers["x-ratelimit-remaining"] == "0"
        assert "rate limit" in over.json()["message"]
        assert int(over.headers["x-ratelimit-reset"]) <= time.time() + 2
        time.sleep(max(0.0, int(over.headers["x-ratelimit-reset"]) - time.time()) + 0.05)
        assert c.get("/user").status_code == 200


def test_injected_primary_and_secondary_limits() -> None:
    faults = FaultConfig(seed=2, rate_429=1.0, retry_after=1)
    config = GithubConfig(primary_status=429)
    with (
        GithubServer(GithubDataset.synthetic(1, 5), config, faults=faults) as server,
        httpx.Client(base_url=server.base_url, headers=GH_HEADERS) as c,
    ):
        r = c.get("/user")
        assert r.status_code == 429 and r.headers["x-ratelimit-remaining"] == "0"
        assert int(r.headers["x-ratelimit-reset"]) - time.time() <= 2
    faults = FaultConfig(seed=2, rate_secondary=1.0, retry_after=1)
    with (
        GithubServer(
            GithubDataset.synthetic(1, 5), GithubConfig(p_secondary_retry_after=1.0), faults=faults
        ) as s2,
        httpx.Client(base_url=s2.base_url, headers=GH_HEADERS) as c,
    ):
        r = c.get("/user")
        assert r.status_code == 403 and "secondary rate limit" in r.json()["message"]
        assert r.headers["retry-after"] == "1" and int(r.headers["x-ratelimit-remaining"]) > 0
        early = c.get("/user")
        assert early.status_code == 403 and s2.counters.events["early_retry"] == 1


def graphql(c: httpx.Client, query: str, **variables: Any) -> httpx.Response:
    return c.post("/graphql", json={"query": query, "variables": variables})


def test_graphql_pagination_returns_every_pull_once(
    github: GithubServer, gc: httpx.Client, gh_ds: GithubDataset
) -> None:
    repo = gh_ds.repos[0]
    seen: list[int] = []
    after = None
    while True:
        r = graphql(gc, PR_QUERY, owner=repo.owner, name=repo.name, first=40, after=after)
        assert r.status_code == 200 and r.headers["x-ratelimit-resource"] == "graphql"
        data = r.json()["data"]
        assert data["rateLimit"]["cost"] >= 1 and data["rateLimit"]["resetAt"].endswith("Z")
        conn = data["repository"]["pullRequests"]
        seen.extend(n["number"] for n in conn["nodes"])
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(p.number for p in repo.pulls) and len(seen) == len(set(seen))
    node = next(n for n in conn["nodes"])
    assert {"reviews", "commits", "mergedAt", "author", "state"} <= set(node)
    big = graphql(gc, PR_QUERY, owner=repo.owner, name=repo.name, first=1, after=None).json()["data"][
        "repository"
    ]["pullRequests"]["nodes"][0]
    assert big["commits"]["totalCount"] <= 250


def test_graphql_errors(gc: httpx.Client, gh_ds: GithubDataset) -> None:
    repo = gh_ds.repos[0]
    for first in (0, 101):
        body = graphql(gc, PR_QUERY, owner=repo.owner, name=repo.name, first=first).json()
        assert body["errors"] and body["data"] is None
    missing = graphql(gc, PR_QUERY, owner="acme", name="nope", first=10).json()
    assert missing["data"]["repository"] is None and missing["errors"][0]["type"] == "NOT_FOUND"


def test_graphql_rate_limited_is_http_200() -> None:
    config = GithubConfig(graphql_limit=2)
    with (
        GithubServer(GithubDataset.synthetic(1, 30), config) as server,
        httpx.Client(base_url=server.base_url, headers=GH_HEADERS) as c,
    ):
        ok = [graphql(c, PR_QUERY, owner="acme", name="api", first=10) for _ in range(2)]
        assert all("errors" not in r.json() for r in ok)
        limited = graphql(c, PR_QUERY, owner="acme", name="api", first=10)
        assert limited.status_code == 200
        assert limited.json()["errors"][0]["type"] == "RATE_LIMITED"
        assert limited.headers["x-ratelimit-remaining"] == "0"


def test_mutations_add_pulls_and_commits(gh_ds: GithubDataset) -> None:
    ds = GithubDataset.synthetic(2, 20, seed=4)
    before = ds.truth()
    number = ds.add_pull("acme/api")
    shas = ds.add_commits("web", 2)
    after = ds.truth()
    assert after["pull_requests"] == before["pull_requests"] + 1
    assert after["commits"] >= before["commits"] + 2
    with GithubServer(ds) as server, httpx.Client(base_url=server.base_url, headers=GH_HEADERS) as c:
        newest = c.get(
            "/repos/acme/api/pulls", params={"state": "all", "sort": "updated", "direction": "desc"}
        ).json()[0]
        assert newest["number"] == number and newest["merged_at"]
        assert [x["sha"] for x in c.get("/repos/acme/web/commits").json()[:2]] == shas[::-1]
