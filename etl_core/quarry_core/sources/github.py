"""GitHub (REST and GraphQL v4), github.com or Enterprise Server."""

from __future__ import annotations

from quarry_core.sources.base import AuthStyle, RateLimitStyle, ScopeShape, Source

SOURCE = Source(
    type="github",
    title="GitHub",
    entities=("repositories", "pull_requests", "commits"),
    scope=ScopeShape(fields=("org", "repos"), required_any=("org", "repos")),
    auth_styles=(AuthStyle.BEARER,),
    probe_path="/user",
    identity_fields=("login",),
    rate_limits=RateLimitStyle.GITHUB,
    default_base_url="https://api.github.com",
    installation_probe_path="/installation/repositories?per_page=1",
    headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
)
