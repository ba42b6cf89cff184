"""Jira Cloud and Data Center (REST v3 + Agile 1.0)."""

from __future__ import annotations

from quarry_core.sources.base import AuthStyle, RateLimitStyle, ScopeShape, Source

SOURCE = Source(
    type="jira",
    title="Jira",
    entities=("projects", "issue_types", "statuses", "fields", "boards", "sprints", "issues"),
    scope=ScopeShape(fields=("projects", "boards")),
    auth_styles=(AuthStyle.BASIC, AuthStyle.BEARER),
    probe_path="/rest/api/3/myself",
    identity_fields=("emailAddress", "displayName", "accountId"),
    rate_limits=RateLimitStyle.RETRY_AFTER,
)
