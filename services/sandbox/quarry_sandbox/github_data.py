"""GitHub datasets for the imitation server: synthetic (from a seed) or the devlake fixtures.

A dataset is one organisation with repositories; each repository has pull requests (with
reviews and commits) and a default-branch commit history made of the commits of merged pull
requests plus direct pushes.  Records are compact dataclasses; REST and GraphQL JSON is built
from them on demand.  :meth:`GithubDataset.truth` gives the counts a pipeline should end up with;
:meth:`GithubDataset.add_pull`, :meth:`GithubDataset.add_commits`, :meth:`GithubDataset.touch_pull`
and :meth:`GithubDataset.add_review` model changes between runs.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .jira_data import devlake_rows

API = "https://api.github.com"
WEB = "https://github.com"
PR_COMMITS_LIMIT = 250
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")
LOGINS = [
    "octo-ada",
    "linus-t",
    "ghopper",
    "kthompson",
    "bliskov",
    "dmr",
    "mhamilton",
    "gvanrossum",
    "fallen",
    "matz",
    "rperlman",
    "bjarne-s",
    "lin-zhang",
    "wei-li",
    "sofia-g",
    "mateo-r",
    "amara-o",
    "ivan-p",
    "chen-x",
    "priya-k",
    "renovate[bot]",
    "dependabot[bot]",
]
TOPICS = [
    "pool",
    "worker",
    "scheduler",
    "timeout",
    "benchmark",
    "docs",
    "ci",
    "panic handler",
    "options",
    "logger",
    "release",
    "goroutine",
    "leak",
    "race",
    "expiry",
    "tests",
]


def iso(ms: int | None) -> str | None:
    """GitHub's timestamp shape: ``2019-01-21T10:57:23Z``."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> int | None:
    if not text:
        return None
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)


def node_id(kind: str, num: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{num}".encode()).decode().rstrip("=")


@dataclass(slots=True)
class GhUser:
    id: int
    login: str
    name: str
    email: str
    type: str = "User"
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class GhCommit:
    sha: str
    author: int | None
    committer: int | None
    author_name: str
    author_email: str
    authored_ms: int
    committed_ms: int
    message: str
    parents: list[str]
    additions: int = 0
    deletions: int = 0
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class GhReview:
    id: int
    user: int | None
    state: str
    submitted_ms: int | None
    body: str
    commit_id: str
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class GhPull:
    repo: int
    number: int
    id: int
    title: str
    body: str
    user: int | None
    state: str  # open | closed
    draft: bool
    created_ms: int
    updated_ms: int
    closed_ms: int | None
    merged_ms: int | None
    merged_by: int | None
    head_ref: str
    base_ref: str
    commits: list[GhCommit] = field(default_factory=list)
    reviews: list[GhReview] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    merge_commit_sha: str | None = None
    comments: int = 0
    changed_files: int = 0
    raw: dict[str, Any] | None = None

    @property
    def merged(self) -> bool:
        return self.merged_ms is not None

    @property
    def additions(self) -> int:
        return sum(c.additions for c in self.commits)

    @property
    def deletions(self) -> int:
        return sum(c.deletions for c in self.commits)


@dataclass(slots=True)
class GhRepo:
    idx: int
    id: int
    owner: str
    name: str
    created_ms: int
    description: str
    default_branch: str = "main"
    pulls: list[GhPull] = field(default_factory=list)
    commits: list[GhCommit] = field(default_factory=list)  # default branch, oldest first
    raw: dict[str, Any] | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class GithubDataset:
    def __init__(self, *, org: str = "acme", seed: int = 0, anchor_ms: int | None = None) -> None:
        self.org = org
        self.seed = seed
        self.anchor_ms = anchor_ms if anchor_ms is not None else (int(time.time()) // 86_400) * 86_400_000
        self.users: list[GhUser] = []
        self.repos: list[GhRepo] = []
        self.viewer = GhUser(1, "quarry-bot", "Quarry Bot", "bot@quarry.dev", "User")
        self.fixture = False
        self.version = 0
        self._lock = threading.RLock()
        self._rng = random.Random(seed + 99)
        self._next_id = 500_000_000
        self._sha_seq = 0

    # ------------------------------------------------------------------ building

    @classmethod
    def synthetic(
        cls,
        repos: int = 3,
        pulls: int = 300,
        *,
        seed: int = 0,
        org: str = "acme",
        users: int = 20,
        direct_commits_per_repo: int = 20,
        empty_repos: int = 0,
        big_pr_commits: int = 0,
        span_days: int = 365,
        anchor_ms: int | None = None,
    ) -> GithubDataset:
        """``pulls`` is the total over all repositories (spread evenly); the last ``empty_repos``
        repositories have no commits (their commit list answers 409).  ``big_pr_commits`` > 0 gives
        the first pull request of the first repository that many commits (the API lists 250)."""
        ds = cls(org=org, seed=seed, anchor_ms=anchor_ms)
        rng = random.Random(seed)
        for k in range(max(1, users)):
            login = LOGINS[k] if k < len(LOGINS) else f"dev-{k}"
            ds.users.append(
                GhUser(
                    10_000 + k * 37,
                    login,
                    login.replace("-", " ").title(),
                    f"{login.replace('[bot]', '')}@users.noreply.github.com",
                    "Bot" if login.endswith("[bot]") else "User",
                )
            )
        start = ds.anchor_ms - span_days * 86_400_000
        n_live = max(0, repos - empty_repos)
        names = ["api", "web", "worker", "cli", "infra", "docs", "mobile", "sdk"]
        for r in range(repos):
            name = names[r] if r < len(names) else f"repo-{r}"
            ds.repos.append(
                GhRepo(
                    r, 300_000_000 + r * 7919, org, name, start - 86_400_000, f"The {name} service of {org}"
                )
            )
        for r in range(n_live):
            repo = ds.repos[r]
            count = pulls // n_live + (1 if r < pulls % n_live else 0)
            created = sorted(rng.randrange(start, ds.anchor_ms - 3_600_000) for _ in range(count))
            for num, c_ms in enumerate(created, start=1):
                ds._make_pull(rng, repo, num, c_ms, big=big_pr_commits if (r == 0 and num == 1) else 0)
            for _ in range(direct_commits_per_repo):
                ms = rng.randrange(start, ds.anchor_ms)
                repo.commits.append(ds._make_commit(rng, repo, ms, "chore: direct push"))
            repo.commits.sort(key=lambda c: c.committed_ms)
            prev: str | None = None
            for c in repo.commits:
                c.parents = [prev] if prev else []
                prev = c.sha
        return ds

    def _sha(self, repo: GhRepo, salt: str) -> str:
        self._sha_seq += 1
        return hashlib.sha1(f"{self.seed}:{repo.id}:{salt}:{self._sha_seq}".encode()).hexdigest()

    def _make_commit(self, rng: random.Random, repo: GhRepo, ms: int, message: str) -> GhCommit:
        u = rng.randrange(len(self.users))
        linked = rng.random() > 0.1  # some commit emails match no GitHub account: author is null
        user = self.users[u]
        return GhCommit(
            sha=self._sha(repo, "c"),
            author=u if linked else None,
            committer=u if linked else None,
            author_name=user.name if linked else "Local Dev",
            author_email=user.email if linked else "dev@localhost",
            authored_ms=ms - rng.randrange(0, 3_600_000),
            committed_ms=ms,
            message=message,
            parents=[],
            additions=rng.randrange(1, 200),
            deletions=rng.randrange(0, 80),
        )

    def _make_pull(self, rng: random.Random, repo: GhRepo, number: int, c_ms: int, big: int = 0) -> GhPull:
        n_users = len(self.users)
        topic = rng.choice(TOPICS)
        author = rng.randrange(n_users)
        age = self.anchor_ms - c_ms
        r = rng.random()
        state, merged = ("closed", True) if r < 0.7 else ("closed", False) if r < 0.82 else ("open", False)
        life = max(60_000, int(min(age - 60_000, 14 * 86_400_000) * rng.random()))
        closed_ms = c_ms + life if state == "closed" else None
        n_commits = big or rng.randint(1, 6)
        commit_span = max(1, (closed_ms or self.anchor_ms - 60_000) - c_ms)
        commits = [
            self._make_commit(
                rng,
                repo,
                c_ms - 600_000 + int(commit_span * (k + 1) / (n_commits + 1)),
                f"{rng.choice(('fix', 'feat', 'refactor', 'test', 'docs'))}: {topic} step {k + 1}",
            )
            for k in range(n_commits)
        ]
        for a, b in itertools.pairwise(commits):
            b.parents = [a.sha]
        reviews: list[GhReview] = []
        for k in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            rstate = rng.choice(REVIEW_STATES[:4]) if state == "closed" or rng.random() < 0.8 else "PENDING"
            reviewer = rng.randrange(n_users)
            sub = c_ms + int(commit_span * (k + 1) / 5)
            reviews.append(
                GhReview(
                    self._new_id(),
                    reviewer,
                    rstate,
                    None if rstate == "PENDING" else sub,
                    rng.choice(("", "LGTM", "Please add a test.", "Nit: naming.")),
                    commits[-1].sha,
                )
            )
        if merged and reviews and all(rv.state != "APPROVED" for rv in reviews):
            reviews[-1].state = "APPROVED"
            reviews[-1].submitted_ms = reviews[-1].submitted_ms or c_ms + commit_span // 2
        last_activity = max(
            [
                c_ms,
                *(c.committed_ms for c in commits),
                *(rv.submitted_ms or 0 for rv in reviews),
                closed_ms or 0,
            ]
        )
        updated = min(self.anchor_ms, last_activity + rng.randrange(0, 3_600_000))
        pull = GhPull(
            repo=repo.idx,
            number=number,
            id=1_000_000 + repo.idx * 100_000 + number,
            title=f"{rng.choice(('Fix', 'Add', 'Improve', 'Refactor'))} {topic}",
            body=f"This changes the {topic}.",
            user=author,
            state=state,
            draft=state == "open" and rng.random() < 0.15,
            created_ms=c_ms,
            updated_ms=updated,
            closed_ms=closed_ms,
            merged_ms=closed_ms if merged else None,
            merged_by=rng.randrange(n_users) if merged else None,
            head_ref=f"{topic.replace(' ', '-')}-{number}",
            base_ref=repo.default_branch,
            commits=commits,
            reviews=reviews,
            labels=[rng.choice(("bug", "enhancement", "chore"))] if rng.random() < 0.4 else [],
            comments=rng.randrange(0, 6),
            changed_files=rng.randrange(1, 12),
        )
        if merged:
            pull.merge_commit_sha = commits[-1].sha
            repo.commits.extend(commits)
        repo.pulls.append(pull)
        return pull

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------------ lookups

    def repo(self, owner: str, name: str) -> GhRepo | None:
        for r in self.repos:
            if r.owner.lower() == owner.lower() and r.name.lower() == name.lower():
                return r
        return None

    def repo_by_id(self, repo_id: int) -> GhRepo | None:
        return next((r for r in self.repos if r.id == repo_id), None)

    def pull(self, repo: GhRepo, number: int) -> GhPull | None:
        return next((p for p in repo.pulls if p.number == number), None)

    # ------------------------------------------------------------------ REST JSON

    def user_obj(self, u: int | None) -> dict[str, Any] | None:
        if u is None:
            return None
        user = self.users[u]
        if user.raw is not None:
            return user.raw
        return self._user_json(user)

    @staticmethod
    def _user_json(user: GhUser) -> dict[str, Any]:
        base = f"{API}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("User", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": base,
            "html_url": f"{WEB}/{user.login}",
            "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events",
            "type": user.type,
            "site_admin": False,
        }

    def viewer_obj(self) -> dict[str, Any]:
        return dict(
            self._user_json(self.viewer),
            name=self.viewer.name,
            email=self.viewer.email,
            created_at="2020-01-01T00:00:00Z",
            updated_at="2024-01-01T00:00:00Z",
        )

    def repo_obj(self, repo: GhRepo) -> dict[str, Any]:
        if repo.raw is not None:
            return repo.raw
        base = f"{API}/repos/{repo.full_name}"
        last_push = max([c.committed_ms for c in repo.commits[-1:]] or [repo.created_ms])
        owner = {
            "login": repo.owner,
            "id": 9_000_000,
            "node_id": node_id("Organization", 9_000_000),
            "url": f"{API}/users/{repo.owner}",
            "html_url": f"{WEB}/{repo.owner}",
            "type": "Organization",
            "site_admin": False,
            "avatar_url": "https://avatars.githubusercontent.com/u/9000000?v=4",
        }
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": False,
            "owner": owner,
            "html_url": f"{WEB}/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": base,
            "pulls_url": f"{base}/pulls{{/number}}",
            "commits_url": f"{base}/commits{{/sha}}",
            "created_at": iso(repo.created_ms),
            "updated_at": iso(last_push),
            "pushed_at": iso(last_push),
            "git_url": f"git://github.com/{repo.full_name}.git",
            "clone_url": f"{WEB}/{repo.full_name}.git",
            "size": 0 if not repo.commits else 1024,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Go",
            "forks_count": 0,
            "archived": False,
            "disabled": False,
            "open_issues_count": sum(1 for p in repo.pulls if p.state == "open"),
            "visibility": "public",
            "default_branch": repo.default_branch,
        }

    def _ref(self, pull: GhPull, repo: GhRepo, ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user_obj(pull.user),
            "repo": self.repo_obj(repo),
        }

    def pull_simple(self, repo: GhRepo, pull: GhPull) -> dict[str, Any]:
        if pull.raw is not None:
            return dict(pull.raw, updated_at=iso(pull.updated_ms), state=pull.state)
        base = f"{API}/repos/{repo.full_name}"
        url = f"{base}/pulls/{pull.number}"
        html = f"{WEB}/{repo.full_name}/pull/{pull.number}"
        head_sha = pull.commits[-1].sha if pull.commits else "0" * 40
        return {
            "url": url,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{base}/issues/{pull.number}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user_obj(pull.user),
            "body": pull.body,
            "created_at": iso(pull.created_ms),
            "updated_at": iso(pull.updated_ms),
            "closed_at": iso(pull.closed_ms),
            "merged_at": iso(pull.merged_ms),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [
                {
                    "id": 1000 + i,
                    "node_id": node_id("Label", 1000 + i),
                    "url": f"{base}/labels/{lb}",
                    "name": lb,
                    "color": "ededed",
                    "default": True,
                    "description": None,
                }
                for i, lb in enumerate(pull.labels)
            ],
            "milestone": None,
            "draft": pull.draft,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{base}/pulls/comments{{/number}}",
            "comments_url": f"{base}/issues/{pull.number}/comments",
            "statuses_url": f"{base}/statuses/{head_sha}",
            "head": self._ref(pull, repo, pull.head_ref, head_sha),
            "base": self._ref(pull, repo, pull.base_ref, repo.commits[0].sha if repo.commits else "0" * 40),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": f"{base}/issues/{pull.number}"},
                "comments": {"href": f"{base}/issues/{pull.number}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{base}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{base}/statuses/{head_sha}"},
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "active_lock_reason": None,
        }

    def pull_full(self, repo: GhRepo, pull: GhPull) -> dict[str, Any]:
        out = self.pull_simple(repo, pull)
        out.update(
            {
                "merged": pull.merged,
                "mergeable": None if pull.state == "closed" else True,
                "rebaseable": None,
                "mergeable_state": "unknown" if pull.state == "closed" else "clean",
                "merged_by": self.user_obj(pull.merged_by) if pull.merged else None,
                "comments": pull.comments,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": len(pull.commits),
                "additions": pull.additions,
                "deletions": pull.deletions,
                "changed_files": pull.changed_files,
            }
        )
        return out

    def review_obj(self, repo: GhRepo, pull: GhPull, rv: GhReview) -> dict[str, Any]:
        if rv.raw is not None:
            return rv.raw
        url = f"{API}/repos/{repo.full_name}/pulls/{pull.number}"
        html = f"{WEB}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{rv.id}"
        out: dict[str, Any] = {
            "id": rv.id,
            "node_id": node_id("PullRequestReview", rv.id),
            "user": self.user_obj(rv.user),
            "body": rv.body,
            "state": rv.state,
            "html_url": html,
            "pull_request_url": url,
            "author_association": "MEMBER",
            "_links": {"html": {"href": html}, "pull_request": {"href": url}},
        }
        if rv.submitted_ms is not None:
            out["submitted_at"] = iso(rv.submitted_ms)
        out["commit_id"] = rv.commit_id
        return out

    def commit_obj(self, repo: GhRepo, c: GhCommit) -> dict[str, Any]:
        if c.raw is not None:
            return c.raw
        base = f"{API}/repos/{repo.full_name}"
        return {
            "sha": c.sha,
            "node_id": node_id("Commit", int(c.sha[:8], 16)),
            "commit": {
                "author": {"name": c.author_name, "email": c.author_email, "date": iso(c.authored_ms)},
                "committer": {"name": c.author_name, "email": c.author_email, "date": iso(c.committed_ms)},
                "message": c.message,
                "tree": {"sha": c.sha[::-1], "url": f"{base}/git/trees/{c.sha[::-1]}"},
                "url": f"{base}/git/commits/{c.sha}",
                "comment_count": 0,
                "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
            },
            "url": f"{base}/commits/{c.sha}",
            "html_url": f"{WEB}/{repo.full_name}/commit/{c.sha}",
            "comments_url": f"{base}/commits/{c.sha}/comments",
            "author": self.user_obj(c.author),
            "committer": self.user_obj(c.committer),
            "parents": [
                {"sha": p, "url": f"{base}/commits/{p}", "html_url": f"{WEB}/{repo.full_name}/commit/{p}"}
                for p in c.parents
            ],
        }

    # ------------------------------------------------------------------ GraphQL JSON

    def _actor(self, u: int | None) -> dict[str, Any] | None:
        if u is None:
            return None
        user = self.users[u]
        return {
            "__typename": "Bot" if user.type == "Bot" else "User",
            "login": user.login,
            "url": f"{WEB}/{user.login}",
            "databaseId": user.id,
        }

    def _git_actor(self, name: str, email: str, ms: int, u: int | None) -> dict[str, Any]:
        return {
            "name": name,
            "email": email,
            "date": iso(ms),
            "user": None if u is None else {"login": self.users[u].login, "databaseId": self.users[u].id},
        }

    def pull_node(
        self,
        repo: GhRepo,
        pull: GhPull,
        reviews_first: int,
        commits_first: int,
        reviews_offset: int = 0,
        commits_offset: int = 0,
    ) -> dict[str, Any]:
        """The GraphQL ``PullRequest`` node (full shape, see the github_server docstring)."""
        if pull.raw is not None:
            simple = self.pull_simple(repo, pull)
            title, body, url = simple["title"], simple.get("body"), simple["html_url"]
        else:
            title, body, url = pull.title, pull.body, f"{WEB}/{repo.full_name}/pull/{pull.number}"
        state = "MERGED" if pull.merged else pull.state.upper()
        reviews = pull.reviews[reviews_offset : reviews_offset + reviews_first]
        listed = pull.commits[:PR_COMMITS_LIMIT]
        commits = listed[commits_offset : commits_offset + commits_first]
        return {
            "id": node_id("PullRequest", pull.id),
            "databaseId": pull.id,
            "number": pull.number,
            "title": title,
            "body": body or "",
            "url": url,
            "state": state,
            "isDraft": pull.draft,
            "locked": False,
            "createdAt": iso(pull.created_ms),
            "updatedAt": iso(pull.updated_ms),
            "closedAt": iso(pull.closed_ms),
            "mergedAt": iso(pull.merged_ms),
            "additions": pull.additions,
            "deletions": pull.deletions,
            "changedFiles": pull.changed_files,
            "headRefName": pull.head_ref,
            "baseRefName": pull.base_ref,
            "headRefOid": pull.commits[-1].sha if pull.commits else None,
            "mergeCommit": {"oid": pull.merge_commit_sha} if pull.merge_commit_sha else None,
            "author": self._actor(pull.user),
            "mergedBy": self._actor(pull.merged_by) if pull.merged else None,
            "labels": {"nodes": [{"name": lb} for lb in pull.labels]},
            "reviews": {
                "totalCount": len(pull.reviews),
                "pageInfo": {
                    "hasNextPage": len(pull.reviews) > reviews_offset + len(reviews),
                    "endCursor": cursor(reviews_offset + len(reviews)) if reviews else None,
                },
                "nodes": [
                    {
                        "id": node_id("PullRequestReview", rv.id),
                        "databaseId": rv.id,
                        "state": rv.state,
                        "body": rv.body,
                        "url": f"{url}#pullrequestreview-{rv.id}",
                        "submittedAt": iso(rv.submitted_ms),
                        "createdAt": iso(rv.submitted_ms or pull.created_ms),
                        "author": self._actor(rv.user),
                        "commit": {"oid": rv.commit_id},
                    }
                    for rv in reviews
                ],
            },
            "commits": {
                "totalCount": len(listed),
                "pageInfo": {
                    "hasNextPage": len(listed) > commits_offset + len(commits),
                    "endCursor": cursor(commits_offset + len(commits)) if commits else None,
                },
                "nodes": [
                    {
                        "commit": {
                            "oid": c.sha,
                            "message": c.message,
                            "messageHeadline": c.message.split("\n", 1)[0],
                            "committedDate": iso(c.committed_ms),
                            "authoredDate": iso(c.authored_ms),
                            "additions": c.additions,
                            "deletions": c.deletions,
                            "url": f"{WEB}/{repo.full_name}/commit/{c.sha}",
                            "author": self._git_actor(c.author_name, c.author_email, c.authored_ms, c.author),
                            "committer": self._git_actor(
                                c.author_name, c.author_email, c.committed_ms, c.committer
                            ),
                        }
                    }
                    for c in commits
                ],
            },
        }

    # ------------------------------------------------------------------ truth

    def truth(self) -> dict[str, int]:
        return {
            "repositories": len(self.repos),
            "pull_requests": sum(len(r.pulls) for r in self.repos),
            "reviews": sum(len(p.reviews) for r in self.repos for p in r.pulls),
            "pull_request_commits": sum(
                min(len(p.commits), PR_COMMITS_LIMIT) for r in self.repos for p in r.pulls
            ),
            "commits": sum(len(r.commits) for r in self.repos),
            "users": len(self.users),
        }

    def pull_keys(self) -> list[str]:
        """``owner/name#number`` of every pull request."""
        return [f"{r.full_name}#{p.number}" for r in self.repos for p in r.pulls]

    # ------------------------------------------------------------------ mutations

    def _repo_or_raise(self, name: str) -> GhRepo:
        owner, _, short = name.rpartition("/")
        repo = self.repo(owner or self.org, short)
        if repo is None:
            raise KeyError(name)
        return repo

    def add_pull(self, repo_name: str, *, merged: bool = True) -> int:
        """Open (and by default merge) a new pull request now; returns its number."""
        with self._lock:
            repo = self._repo_or_raise(repo_name)
            now = int(time.time() * 1000)
            number = 1 + max((p.number for p in repo.pulls), default=0)
            pull = self._make_pull(self._rng, repo, number, now - 120_000)
            pull.state = "closed" if merged else "open"
            pull.merged_ms = pull.closed_ms = now if merged else None
            pull.merged_by = 0 if merged else None
            pull.merge_commit_sha = pull.commits[-1].sha if merged else None
            for c in pull.commits:
                c.committed_ms = min(c.committed_ms, now)
            shas = {c.sha for c in pull.commits}
            repo.commits[:] = [c for c in repo.commits if c.sha not in shas]
            if merged:
                repo.commits.extend(pull.commits)
            repo.commits.sort(key=lambda c: c.committed_ms)
            pull.updated_ms = now
            self.version += 1
            return number

    def add_commits(self, repo_name: str, n: int = 1) -> list[str]:
        """Push ``n`` direct commits to the default branch now; returns their shas."""
        with self._lock:
            repo = self._repo_or_raise(repo_name)
            now = int(time.time() * 1000)
            out = []
            for k in range(n):
                c = self._make_commit(self._rng, repo, now - (n - k), "chore: direct push")
                c.authored_ms = c.committed_ms
                c.parents = [repo.commits[-1].sha] if repo.commits else []
                repo.commits.append(c)
                out.append(c.sha)
            self.version += 1
            return out

    def touch_pull(self, repo_name: str, number: int, *, title: str | None = None) -> None:
        """Edit a pull request now (bumps ``updated_at``)."""
        with self._lock:
            repo = self._repo_or_raise(repo_name)
            pull = self.pull(repo, number)
            if pull is None:
                raise KeyError(number)
            if title is not None:
                pull.title = title
                if pull.raw is not None:
                    pull.raw = dict(pull.raw, title=title)
            pull.updated_ms = int(time.time() * 1000)
            self.version += 1

    def add_review(self, repo_name: str, number: int, state: str = "APPROVED") -> int:
        with self._lock:
            repo = self._repo_or_raise(repo_name)
            pull = self.pull(repo, number)
            if pull is None:
                raise KeyError(number)
            now = int(time.time() * 1000)
            rv = GhReview(
                self._new_id(),
                self._rng.randrange(len(self.users)),
                state,
                None if state == "PENDING" else now,
                "",
                pull.commits[-1].sha if pull.commits else "",
            )
            pull.reviews.append(rv)
            pull.updated_ms = now
            self.version += 1
            return rv.id

    # ------------------------------------------------------------------ fixtures

    @classmethod
    def from_devlake(cls, path: Path | str) -> GithubDataset:
        """Serve the recorded devlake items of ``panjf2000/ants`` (PRs, reviews, PR commits)."""
        root = Path(path) / "github"
        if not root.is_dir():
            raise FileNotFoundError(root)
        pr_rows = devlake_rows(root / "_raw_github_api_pull_requests.csv")
        first = pr_rows[0]["data"]
        owner, name = first["base"]["repo"]["full_name"].split("/")
        ds = cls(org=owner, seed=0)
        ds.fixture = True
        users: dict[str, int] = {}

        def user_idx(obj: dict[str, Any] | None) -> int | None:
            if not obj:
                return None
            login = obj["login"]
            if login not in users:
                users[login] = len(ds.users)
                ds.users.append(GhUser(int(obj["id"]), login, login, "", obj.get("type", "User"), raw=obj))
            return users[login]

        repo_raw = first["base"]["repo"]
        repo = GhRepo(
            0,
            int(repo_raw["id"]),
            owner,
            name,
            parse_iso(repo_raw.get("created_at")) or 0,
            repo_raw.get("description") or "",
            repo_raw.get("default_branch", "master"),
            raw=repo_raw,
        )
        ds.repos.append(repo)
        commits_by_pr: dict[int, list[GhCommit]] = {}
        seen_commits: dict[str, GhCommit] = {}
        for row in devlake_rows(root / "_raw_github_api_pull_request_commits.csv"):
            item = row["data"]
            num = int(json.loads(row["input"])["Number"])
            c = seen_commits.get(item["sha"])
            if c is None:
                ca = item["commit"]["author"]
                cc = item["commit"]["committer"]
                c = GhCommit(
                    item["sha"],
                    user_idx(item.get("author")),
                    user_idx(item.get("committer")),
                    ca.get("name", ""),
                    ca.get("email", ""),
                    parse_iso(ca.get("date")) or 0,
                    parse_iso(cc.get("date")) or 0,
                    item["commit"].get("message", ""),
                    [p["sha"] for p in item.get("parents", [])],
                    raw=item,
                )
                seen_commits[item["sha"]] = c
            commits_by_pr.setdefault(num, []).append(c)
        reviews_by_pr: dict[int, list[GhReview]] = {}
        for row in devlake_rows(root / "_raw_github_api_pull_request_reviews.csv"):
            item = row["data"]
            num = int(json.loads(row["input"])["Number"])
            reviews_by_pr.setdefault(num, []).append(
                GhReview(
                    int(item["id"]),
                    user_idx(item.get("user")),
                    item.get("state", "COMMENTED"),
                    parse_iso(item.get("submitted_at")),
                    item.get("body") or "",
                    item.get("commit_id", ""),
                    raw=item,
                )
            )
        seen_numbers: set[int] = set()
        for row in pr_rows:
            item = row["data"]
            num = int(item["number"])
            if num in seen_numbers:
                continue
            seen_numbers.add(num)
            pcommits = sorted(commits_by_pr.get(num, []), key=lambda c: c.committed_ms)
            repo.pulls.append(
                GhPull(
                    repo=0,
                    number=num,
                    id=int(item["id"]),
                    title=item.get("title", ""),
                    body=item.get("body") or "",
                    user=user_idx(item.get("user")),
                    state=item["state"],
                    draft=bool(item.get("draft")),
                    created_ms=parse_iso(item["created_at"]) or 0,
                    updated_ms=parse_iso(item["updated_at"]) or 0,
                    closed_ms=parse_iso(item.get("closed_at")),
                    merged_ms=parse_iso(item.get("merged_at")),
                    merged_by=user_idx(item.get("user")) if item.get("merged_at") else None,
                    head_ref=item["head"]["ref"],
                    base_ref=item["base"]["ref"],
                    commits=pcommits,
                    reviews=sorted(reviews_by_pr.get(num, []), key=lambda r: r.submitted_ms or 0),
                    labels=[lb["name"] for lb in item.get("labels", [])],
                    merge_commit_sha=item.get("merge_commit_sha"),
                    raw=item,
                )
            )
        repo.commits = sorted(seen_commits.values(), key=lambda c: c.committed_ms)
        return ds


def cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def decode_cursor(text: str) -> int:
    raw = base64.b64decode(text.encode()).decode()
    if not raw.startswith("cursor:v2:"):
        raise ValueError(text)
    return int(raw[len("cursor:v2:") :])
