"""Which connector extracts which source type (the types are the core's source registry)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from quarry_core.errors import FatalError
from quarry_core.sources import get_source
from quarry_extractor.github import GithubConnector, GithubOptions, repo_names
from quarry_extractor.jira import JiraConnector, JiraOptions
from quarry_extractor.settings import ExtractorSettings
from quarry_extractor.streams import Connector


@dataclass(frozen=True)
class ConnectorRequest:
    scope: Mapping[str, Any]
    entities: list[str]
    mode: str
    cursors: dict[str, dict[str, Any]]
    settings: ExtractorSettings
    now_ms: int


def _jira(req: ConnectorRequest) -> Connector:
    projects = [str(p) for p in req.scope.get("projects") or []]
    if not projects:
        raise FatalError("the Jira integration's scope lists no projects")
    s = req.settings
    return JiraConnector(
        JiraOptions(
            projects=projects,
            entities=set(req.entities),
            mode=req.mode,
            cursors=req.cursors,
            now_ms=req.now_ms,
            page_size=s.jira_page_size,
            overlap_ms=s.overlap_seconds * 1000,
            changelog_api=s.jira_changelog_api,
            sweep_ms=int(s.jira_sweep_hours * 3_600_000),
            changelog_page_size=s.jira_changelog_page_size,
            metadata_refresh_ms=int(s.jira_metadata_hours * 3_600_000),
            partitions=s.jira_partitions,
        )
    )


def _github(req: ConnectorRequest) -> Connector:
    return GithubConnector(
        GithubOptions(
            org=req.scope.get("org"),
            repos=repo_names(req.scope),
            entities=set(req.entities),
            mode=req.mode,
            cursors=req.cursors,
            pr_page_size=req.settings.github_pr_page_size,
            overlap_seconds=req.settings.overlap_seconds,
        )
    )


CONNECTORS: Mapping[str, Callable[[ConnectorRequest], Connector]] = {"jira": _jira, "github": _github}


def build_connector(source_type: str, req: ConnectorRequest) -> Connector:
    get_source(source_type)  # an unknown type fails here, naming the known ones
    return CONNECTORS[source_type](req)
