"""The one settings class of the extract process."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from quarry_core.settings import CoreSettings


class ExtractorSettings(CoreSettings):
    http_timeout_seconds: float = Field(default=30.0, gt=0, validation_alias="QUARRY_HTTP_TIMEOUT_SECONDS")
    max_response_bytes: int = Field(
        default=64 << 20,
        ge=1024,
        validation_alias="QUARRY_EXTRACT_MAX_RESPONSE_BYTES",
        description="A response larger than this fails the run (no API page is that large).",
    )
    max_attempts: int = Field(
        default=8,
        ge=1,
        validation_alias="QUARRY_EXTRACT_MAX_ATTEMPTS",
        description="Tries of one request against 5xx/timeouts before the attempt gives up (exit 1).",
    )
    max_rate_limit_waits: int = Field(
        default=100,
        ge=1,
        validation_alias="QUARRY_EXTRACT_MAX_RATE_LIMIT_WAITS",
        description="Server-ordered waits (429, primary/secondary limits) tolerated for one request.",
    )
    max_wait_seconds: float = Field(
        default=3900.0,
        gt=0,
        validation_alias="QUARRY_EXTRACT_MAX_WAIT_SECONDS",
        description="A single wait longer than this ends the attempt (exit 1); the retry resumes.",
    )
    backoff_base_seconds: float = Field(default=1.0, gt=0, validation_alias="QUARRY_BACKOFF_BASE_SECONDS")
    backoff_cap_seconds: float = Field(default=60.0, gt=0, validation_alias="QUARRY_BACKOFF_CAP_SECONDS")
    github_secondary_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        validation_alias="QUARRY_GITHUB_SECONDARY_WAIT_SECONDS",
        description="Wait after a secondary rate limit without retry-after (GitHub asks for >= 60 s).",
    )
    overlap_seconds: int = Field(
        default=300,
        ge=0,
        validation_alias="QUARRY_INCREMENTAL_OVERLAP_SECONDS",
        description="Incremental queries start this long before the committed cursor.",
    )
    jira_page_size: int = Field(default=100, ge=1, le=100, validation_alias="QUARRY_JIRA_PAGE_SIZE")
    jira_changelog_api: Literal["bulk", "issue"] = Field(
        default="bulk",
        validation_alias="QUARRY_JIRA_CHANGELOG_API",
        description="Complete truncated changelogs with POST changelog/bulkfetch or per issue.",
    )
    jira_changelog_page_size: int = Field(
        default=5_000,
        ge=1,
        le=10_000,
        validation_alias="QUARRY_JIRA_CHANGELOG_PAGE_SIZE",
        description="Histories asked for per changelog/bulkfetch page (Jira returns up to 10 000; "
        "larger pages save a few requests and cost the extract process memory).",
    )
    jira_metadata_hours: float = Field(
        default=24.0,
        ge=0,
        validation_alias="QUARRY_JIRA_METADATA_HOURS",
        description="Incremental runs reuse issue types, statuses and fields fetched more recently.",
    )
    jira_sweep_hours: float = Field(
        default=24.0,
        ge=0,
        validation_alias="QUARRY_JIRA_SWEEP_HOURS",
        description="Incremental runs do an id-only sweep (deleted issues) when the last is older.",
    )
    jira_partitions: int = Field(
        default=0,
        ge=0,
        le=32,
        validation_alias="QUARRY_JIRA_PARTITIONS",
        description="A full issue walk is split into this many `created` ranges walked side by side "
        "(at most QUARRY_EXTRACT_CONCURRENCY requests in flight); each costs at most one short page, "
        "and a project one probe. 0: four on a site that takes 100 ms or more to answer the fields "
        "request, else none. 1: never.",
    )
    github_pr_page_size: int = Field(default=50, ge=1, le=100, validation_alias="QUARRY_GITHUB_PR_PAGE_SIZE")
    prefetch: bool = Field(
        default=True,
        validation_alias="QUARRY_EXTRACT_PREFETCH",
        description="Fetch the next pages while the current one is being stored (off: one at a time).",
    )
    fetch_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        validation_alias="QUARRY_EXTRACT_CONCURRENCY",
        description="Requests in flight at once: the first work items of the run, all independent.",
    )
    write_queue_pages: int = Field(
        default=8,
        ge=1,
        validation_alias="QUARRY_EXTRACT_WRITE_QUEUE_PAGES",
        description="Fetched pages waiting to be stored before fetching holds back (memory bound).",
    )
    write_batch_pages: int = Field(
        default=16,
        ge=1,
        validation_alias="QUARRY_EXTRACT_WRITE_BATCH_PAGES",
        description="Most pages stored in one transaction (with one checkpoint) when they queue up.",
    )
