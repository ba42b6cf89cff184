"""What a source type declares about itself; one instance per source lives in the registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class AuthStyle(StrEnum):
    BASIC = "basic"  # username:token (Jira Cloud: email + API token)
    BEARER = "bearer"  # a token alone (GitHub, Jira OAuth / personal access tokens)


class RateLimitStyle(StrEnum):
    """How a source says "slow down" (the extractor's HTTP client reads responses accordingly)."""

    RETRY_AFTER = "retry-after"  # 429/503 with Retry-After or X-RateLimit-Reset (Jira)
    GITHUB = "github"  # x-ratelimit-remaining/-reset, secondary limits, GraphQL RATE_LIMITED


@dataclass(frozen=True)
class ScopeShape:
    fields: tuple[str, ...]  # the scope fields this source takes, in the order messages name them
    required_any: tuple[str, ...] = ()  # at least one of these must be set


@dataclass(frozen=True)
class Source:
    type: str  # the Integration's spec.type
    title: str  # shown in messages
    entities: tuple[str, ...]  # what an EtlJob may extract, in the default order
    scope: ScopeShape
    auth_styles: tuple[AuthStyle, ...]  # the first one is the default
    probe_path: str  # an authenticated GET that needs nothing but valid credentials
    identity_fields: tuple[str, ...]  # fields of the probe's answer naming who authenticated
    rate_limits: RateLimitStyle
    default_base_url: str | None = None
    # Asked instead of the probe when the probe refuses an app installation token (GitHub Apps
    # cannot call GET /user); it lists what the installation may read.
    installation_probe_path: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # sent with every request

    @property
    def default_auth(self) -> AuthStyle:
        return self.auth_styles[0]
