"""GitHub pages -> repositories, pull requests, reviews, commits, PR commits, people (pure).

Pull requests come as GraphQL bodies (nodes with nested reviews and commits) or REST pages (the
list gives the simple shape; `pull_request_details` adds size and merge fields). A row only
carries the columns its page knows, so a list page never blanks what a details page loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from quarry_core.errors import FatalError
from quarry_workers.transform.common import Records, Row, TransformOptions, as_items, dedupe, ts

_PULL_URL = re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)")
_REPO_URL = re.compile(r"/repos/([^/]+/[^/]+)/")

PR_KEY = ("repository", "number")
COMMIT_KEY = ("repository", "sha")


def transform(entity: str, response: Any, params: Mapping[str, Any], options: TransformOptions) -> Records:
    repo = params.get("_repo")
    if entity == "repositories":
        items = [response] if isinstance(response, dict) and "full_name" in response else as_items(response)
        return {"repositories": [repository_row(r) for r in items], "people": []}
    if entity == "pull_requests":
        if isinstance(response, dict) and "data" in response:
            return _graphql_pulls(response, repo)
        return _rest_pulls(as_items(response), repo, details=False)
    if entity == "pull_request_details":
        return _rest_pulls(
            [response] if isinstance(response, dict) else as_items(response), repo, details=True
        )
    if entity == "pull_request_reviews":
        return _reviews(as_items(response), repo, params.get("_pr_number"))
    if entity == "pull_request_commits":
        return _commits(as_items(response), repo, params.get("_pr_number"))
    if entity == "commits":
        return _commits(as_items(response), repo, None)
    return {}


def user_row(user: Any) -> Row | None:
    if not isinstance(user, dict):
        return None
    source_id = user.get("databaseId", user.get("id"))
    if source_id is None or (isinstance(source_id, str) and not source_id.isdigit()):
        source_id = user.get("login")
    if source_id is None:
        return None
    return {
        "source_id": str(source_id),
        "login": user.get("login"),
        "display_name": user.get("name") or user.get("login"),
        "email": user.get("email") or None,
    }


def _uid(user: Any) -> str | None:
    row = user_row(user)
    return None if row is None else row["source_id"]


def repository_row(repo: Mapping[str, Any]) -> Row:
    owner = repo.get("owner") or {}
    return {
        "source_id": None if repo.get("id") is None else str(repo["id"]),
        "full_name": repo["full_name"],
        "name": repo.get("name"),
        "owner": owner.get("login"),
        "default_branch": repo.get("default_branch"),
        "is_private": repo.get("private"),
        "created_at": ts(repo.get("created_at")),
        "updated_at": ts(repo.get("updated_at")),
    }


def _repo_of(pr: Mapping[str, Any], repo: Any) -> str:
    if repo:
        return str(repo)
    base_repo = ((pr.get("base") or {}).get("repo") or {}).get("full_name")
    if base_repo:
        return str(base_repo)
    match = _PULL_URL.search(str(pr.get("url") or ""))
    if match:
        return match.group(1)
    raise FatalError("pull request page without _repo and without a repository in its items")


def _rest_pulls(items: list[Any], repo: Any, *, details: bool) -> Records:
    pulls: list[Row] = []
    people: list[Row] = []
    for pr in items:
        merged_at = pr.get("merged_at")
        state = "MERGED" if merged_at else str(pr.get("state") or "").upper() or None
        row: Row = {
            "repository": _repo_of(pr, repo),
            "number": int(pr["number"]),
            "source_id": str(pr["id"]),
            "title": pr.get("title"),
            "body": pr.get("body"),
            "state": state,
            "is_draft": pr.get("draft"),
            "author_id": _uid(pr.get("user")),
            "head_ref": (pr.get("head") or {}).get("ref"),
            "base_ref": (pr.get("base") or {}).get("ref"),
            "created_at": ts(pr.get("created_at")),
            "updated_at": ts(pr.get("updated_at")),
            "closed_at": ts(pr.get("closed_at")),
            "merged_at": ts(merged_at),
        }
        if details:
            row.update(
                merged_by_id=_uid(pr.get("merged_by")),
                additions=pr.get("additions"),
                deletions=pr.get("deletions"),
                changed_files=pr.get("changed_files"),
                commits_count=pr.get("commits"),
            )
        pulls.append(row)
        people.extend(p for p in (user_row(pr.get("user")), user_row(pr.get("merged_by"))) if p)
    return {"pull_requests": dedupe(pulls, PR_KEY), "people": dedupe(people, ("source_id",))}


def _graphql_pulls(body: Mapping[str, Any], repo: Any) -> Records:
    if body.get("errors") and not body.get("data"):
        raise FatalError(f"GraphQL page holds only errors: {body['errors']!r:.300}")
    repository = (body.get("data") or {}).get("repository") or {}
    nodes = list((repository.get("pullRequests") or {}).get("nodes") or [])
    if repository.get("pullRequest"):
        nodes.append(repository["pullRequest"])
    pulls: list[Row] = []
    reviews: list[Row] = []
    commits: list[Row] = []
    pr_commits: list[Row] = []
    people: list[Row] = []
    for pr in nodes:
        full_name = _repo_of(pr, repo)
        number = int(pr["number"])
        commit_conn = pr.get("commits") or {}
        pulls.append(
            {
                "repository": full_name,
                "number": number,
                "source_id": str(pr.get("databaseId") or pr.get("id")),
                "title": pr.get("title"),
                "body": pr.get("body"),
                "state": pr.get("state"),
                "is_draft": pr.get("isDraft"),
                "author_id": _uid(pr.get("author")),
                "merged_by_id": _uid(pr.get("mergedBy")),
                "head_ref": pr.get("headRefName"),
                "base_ref": pr.get("baseRefName"),
                "additions": pr.get("additions"),
                "deletions": pr.get("deletions"),
                "changed_files": pr.get("changedFiles"),
                "commits_count": commit_conn.get("totalCount"),
                "created_at": ts(pr.get("createdAt")),
                "updated_at": ts(pr.get("updatedAt")),
                "closed_at": ts(pr.get("closedAt")),
                "merged_at": ts(pr.get("mergedAt")),
            }
        )
        people.extend(p for p in (user_row(pr.get("author")), user_row(pr.get("mergedBy"))) if p)
        for review in (pr.get("reviews") or {}).get("nodes") or []:
            reviews.append(
                {
                    "source_id": str(review.get("databaseId") or review["id"]),
                    "repository": full_name,
                    "pr_number": number,
                    "reviewer_id": _uid(review.get("author")),
                    "state": review.get("state"),
                    "body": review.get("body") or None,
                    "submitted_at": ts(review.get("submittedAt")),
                }
            )
            people.extend(p for p in (user_row(review.get("author")),) if p)
        for node in commit_conn.get("nodes") or []:
            commit = node.get("commit") or node
            author = commit.get("author") or {}
            committer = commit.get("committer") or {}
            commits.append(
                {
                    "repository": full_name,
                    "sha": commit["oid"],
                    "message": commit.get("message"),
                    "author_name": author.get("name"),
                    "author_email": author.get("email"),
                    "author_id": _uid(author.get("user")),
                    "committer_id": _uid(committer.get("user")),
                    "authored_at": ts(commit.get("authoredDate") or author.get("date")),
                    "committed_at": ts(commit.get("committedDate") or committer.get("date")),
                    "additions": commit.get("additions"),
                    "deletions": commit.get("deletions"),
                }
            )
            pr_commits.append({"repository": full_name, "pr_number": number, "sha": commit["oid"]})
            people.extend(p for p in (user_row(author.get("user")), user_row(committer.get("user"))) if p)
    return {
        "pull_requests": dedupe(pulls, PR_KEY),
        "pull_request_reviews": dedupe(reviews, ("source_id",)),
        "commits": dedupe(commits, COMMIT_KEY),
        "pull_request_commits": dedupe(pr_commits, ("repository", "pr_number", "sha")),
        "people": dedupe(people, ("source_id",)),
    }


def _reviews(items: list[Any], repo: Any, pr_number: Any) -> Records:
    rows: list[Row] = []
    people: list[Row] = []
    for review in items:
        match = _PULL_URL.search(str(review.get("pull_request_url") or ""))
        full_name = repo or (match.group(1) if match else None)
        number = pr_number if pr_number is not None else (match.group(2) if match else None)
        if full_name is None or number is None:
            raise FatalError("review page without _repo/_pr_number and without pull_request_url")
        rows.append(
            {
                "source_id": str(review["id"]),
                "repository": str(full_name),
                "pr_number": int(number),
                "reviewer_id": _uid(review.get("user")),
                "state": review.get("state"),
                "body": review.get("body") or None,
                "submitted_at": ts(review.get("submitted_at")),
            }
        )
        people.extend(p for p in (user_row(review.get("user")),) if p)
    return {"pull_request_reviews": dedupe(rows, ("source_id",)), "people": dedupe(people, ("source_id",))}


def _commits(items: list[Any], repo: Any, pr_number: Any) -> Records:
    rows: list[Row] = []
    links: list[Row] = []
    people: list[Row] = []
    for item in items:
        match = _REPO_URL.search(str(item.get("url") or ""))
        full_name = repo or (match.group(1) if match else None)
        if full_name is None:
            raise FatalError("commit page without _repo and without a repository URL in its items")
        commit = item.get("commit") or {}
        author = commit.get("author") or {}
        committer = commit.get("committer") or {}
        stats = item.get("stats") or {}
        rows.append(
            {
                "repository": str(full_name),
                "sha": item["sha"],
                "message": commit.get("message"),
                "author_name": author.get("name"),
                "author_email": author.get("email"),
                "author_id": _uid(item.get("author")),
                "committer_id": _uid(item.get("committer")),
                "authored_at": ts(author.get("date")),
                "committed_at": ts(committer.get("date")),
                "additions": stats.get("additions"),
                "deletions": stats.get("deletions"),
            }
        )
        if pr_number is not None:
            links.append({"repository": str(full_name), "pr_number": int(pr_number), "sha": item["sha"]})
        people.extend(p for p in (user_row(item.get("author")), user_row(item.get("committer"))) if p)
    out: Records = {"commits": dedupe(rows, COMMIT_KEY), "people": dedupe(people, ("source_id",))}
    if links:
        out["pull_request_commits"] = dedupe(links, ("repository", "pr_number", "sha"))
    return out
