"""GitHub (REST + GraphQL, github.com or Enterprise) as streams.

Pull requests come from GraphQL, 50 per page with their first 100 reviews and commits nested
(one request where REST needs three per PR); the rare PR with more gets REST child pages.
Commits come from REST with `since=` and a conditional request: when the first page has not
changed since the last run (304, free of rate limit), the stream is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from quarry_core.errors import FatalError
from quarry_extractor.http import ApiRequest, ApiResponse
from quarry_extractor.streams import (
    Connector,
    GraphQLPaginator,
    LinkPaginator,
    PageResult,
    SinglePage,
    Stream,
    WorkItem,
    cursor_key,
    max_cursor,
)

_ACTOR = "{ __typename login url ... on User { databaseId } ... on Bot { databaseId } }"
_GIT_ACTOR = "{ name email date user { login databaseId } }"
PULLS_QUERY = f"""
query($owner: String!, $name: String!, $first: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt limit used nodeCount }}
  repository(owner: $owner, name: $name) {{
    pullRequests(first: $first, after: $after, states: [OPEN, CLOSED, MERGED],
                 orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        id databaseId number title body url state isDraft locked createdAt updatedAt closedAt mergedAt
        additions deletions changedFiles headRefName baseRefName headRefOid
        mergeCommit {{ oid }}
        author {_ACTOR}
        mergedBy {_ACTOR}
        labels(first: 20) {{ nodes {{ name }} }}
        reviews(first: 100) {{
          totalCount pageInfo {{ hasNextPage endCursor }}
          nodes {{ id databaseId state body url submittedAt createdAt author {_ACTOR} commit {{ oid }} }}
        }}
        commits(first: 100) {{
          totalCount pageInfo {{ hasNextPage endCursor }}
          nodes {{ commit {{ oid message messageHeadline committedDate authoredDate additions deletions url
                            author {_GIT_ACTOR} committer {_GIT_ACTOR} }} }}
        }}
      }}
    }}
  }}
}}
"""


def iso_minus(value: str | None, seconds: int) -> str | None:
    """An ISO-8601 `Z` timestamp moved back by `seconds` (the overlap window)."""
    if not value:
        return None
    at = datetime.fromisoformat(value.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def repo_names(scope: Mapping[str, Any]) -> list[str]:
    """`owner/name` of every repository the scope lists (names without an owner take the org)."""
    org = scope.get("org")
    out = []
    for r in scope.get("repos") or []:
        name = str(r)
        if "/" not in name:
            if not org:
                raise FatalError(f"GitHub scope lists repository {name!r} without an org")
            name = f"{org}/{name}"
        out.append(name)
    return out


@dataclass
class GithubOptions:
    org: str | None
    repos: list[str]
    entities: set[str]
    mode: str
    cursors: dict[str, dict[str, Any]]
    pr_page_size: int = 50
    overlap_seconds: int = 300


class GithubStream(Stream):
    def key(self, ctx: Mapping[str, Any]) -> str:
        return f"github:{ctx.get('repo') or ctx.get('org')}:{self.entity}"


class Repositories(GithubStream):
    """The org's repositories (Link paging) or one listed repository; parent of everything else."""

    name = entity = "repositories"
    paginator = LinkPaginator()

    def __init__(self, connector: GithubConnector) -> None:
        self.connector = connector

    def key(self, ctx: Mapping[str, Any]) -> str:
        return f"github:{ctx.get('org') or ctx['repo'].split('/')[0]}:repositories"

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        if "repo" in item.ctx:
            items = SinglePage().items(response.body)
            return PageResult(items=items, next=None, children=self.connector.repo_work(item.ctx["repo"]))
        result = super().parse(item, response, candidate)
        for repo in result.items:
            if isinstance(repo, dict) and repo.get("full_name"):
                result.children += self.connector.repo_work(str(repo["full_name"]))
        return result


class PullRequests(GithubStream):
    name = entity = "pull_requests"
    paginator = GraphQLPaginator(("repository", "pullRequests"))
    cursor_field = "updatedAt"
    parent = "repositories"

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        body = response.body if isinstance(response.body, dict) else {}
        errors = body.get("errors") or []
        if errors and not (body.get("data") or {}).get("repository"):
            message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
            raise FatalError(f"GitHub GraphQL error for {item.ctx['repo']}: {message}")
        result = super().parse(item, response, candidate)
        since = item.ctx.get("since")
        if since and any(str(n.get("updatedAt") or "") < since for n in result.items):
            result.next = None  # newest first: the rest is older than the bookmark
        return result

    def children(self, item: WorkItem, items: list[Any]) -> list[WorkItem]:
        repo = item.ctx["repo"]
        out = []
        for pr in items:
            number = pr.get("number")
            for conn, entity in (("reviews", "pull_request_reviews"), ("commits", "pull_request_commits")):
                if ((pr.get(conn) or {}).get("pageInfo") or {}).get("hasNextPage"):
                    req = ApiRequest("GET", f"/repos/{repo}/pulls/{number}/{conn}", {"per_page": 100})
                    out.append(WorkItem(entity, {"repo": repo, "pr_number": number}, req))
        return out

    def cursors(
        self, item: WorkItem, items: list[Any], candidate: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        values = [n.get("updatedAt") for n in items if isinstance(n, dict)]
        return max_cursor(
            candidate, cursor_key(f"github:{item.ctx['repo']}", "pull_requests"), "updatedAt", values
        )

    def context_params(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        return {"_repo": ctx["repo"]}


class PullRequestChildren(GithubStream):
    paginator = LinkPaginator()
    parent = "pull_requests"


class PullRequestReviews(PullRequestChildren):
    name = entity = "pull_request_reviews"


class PullRequestCommits(PullRequestChildren):
    name = entity = "pull_request_commits"


class Commits(GithubStream):
    name = entity = "commits"
    paginator = LinkPaginator()
    cursor_field = "commit.committer.date"
    parent = "repositories"

    def parse(self, item: WorkItem, response: ApiResponse, candidate: Mapping[str, Any]) -> PageResult:
        if response.status in (304, 409):  # unchanged since the last run / an empty repository
            return PageResult(items=[], next=None, store=False)
        result = super().parse(item, response, candidate)
        values = [((c.get("commit") or {}).get("committer") or {}).get("date") for c in result.items]
        key = cursor_key(f"github:{item.ctx['repo']}", "commits")
        extra: dict[str, Any] = {}
        if item.ctx.get("first_page", False) and response.header("etag"):
            extra = {"etag": response.header("etag"), "etagParams": item.request.params}
        result.cursors = max_cursor(candidate, key, "committedAt", values, **extra)
        result.next_ctx = {"repo": item.ctx["repo"]}
        return result

    def context_params(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        return {"_repo": ctx["repo"]}


class GithubConnector(Connector):
    def __init__(self, options: GithubOptions) -> None:
        self.o = options
        self.streams: dict[str, Stream] = {
            s.name: s
            for s in (
                Repositories(self),
                PullRequests(),
                PullRequestReviews(),
                PullRequestCommits(),
                Commits(),
            )
        }

    def plan(self) -> list[WorkItem]:
        o = self.o
        if o.repos:
            return [WorkItem("repositories", {"repo": r}, ApiRequest("GET", f"/repos/{r}")) for r in o.repos]
        if not o.org:
            raise FatalError("GitHub scope needs an org or a list of repos")
        return [
            WorkItem(
                "repositories", {"org": o.org}, ApiRequest("GET", f"/orgs/{o.org}/repos", {"per_page": 100})
            )
        ]

    def cursor(self, repo: str, entity: str) -> dict[str, Any]:
        if self.o.mode != "incremental":
            return {}
        return self.o.cursors.get(cursor_key(f"github:{repo}", entity)) or {}

    def repo_work(self, repo: str) -> list[WorkItem]:
        o = self.o
        owner, name = repo.split("/", 1)
        out = []
        if "pull_requests" in o.entities:
            since = iso_minus(self.cursor(repo, "pull_requests").get("updatedAt"), o.overlap_seconds)
            payload = {
                "query": PULLS_QUERY,
                "variables": {"owner": owner, "name": name, "first": o.pr_page_size, "after": None},
            }
            out.append(
                WorkItem(
                    "pull_requests",
                    {"repo": repo, "since": since},
                    ApiRequest("POST", "/graphql", json=payload),
                )
            )
        if "commits" in o.entities:
            committed = self.cursor(repo, "commits")
            params: dict[str, Any] = {"per_page": 100}
            since = iso_minus(committed.get("committedAt"), o.overlap_seconds)
            if since:
                params["since"] = since
            etag = committed.get("etag") if committed.get("etagParams") == params else None
            req = ApiRequest("GET", f"/repos/{repo}/commits", params, allow_status=(409,), etag=etag)
            out.append(WorkItem("commits", {"repo": repo, "first_page": True}, req))
        return out
