"""The table registry: the facts about each final table that load, staging, completion and
embedding need, in one place. Tables are listed parents first (the load order)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Children:
    """A child table whose rows go with their parent row (its pages are not re-fetched per parent)."""

    table: str
    columns: tuple[str, ...]  # the child's columns naming the parent ...
    parent_columns: tuple[str, ...]  # ... and the parent's natural-key columns they match


@dataclass(frozen=True)
class Vectors:
    kind: str  # the Qdrant point's kind
    key_sql: str  # the point's key as SQL over the table aliased `f`
    text_columns: tuple[str, ...]  # the point is built from these: a change re-queues the row


@dataclass(frozen=True)
class FinalTable:
    name: str
    natural_key: tuple[str, ...]  # unique within (tenant, integration_id): the upsert's conflict target
    refreshed_by: str | None = None  # a full run of this entity deletes rows the source no longer has
    children: tuple[Children, ...] = ()
    never_back_in_time: str | None = None  # a late, older copy never overwrites a newer row
    keep_if_null: frozenset[str] = frozenset()  # columns some pages do not know: keep what is there
    vectors: Vectors | None = None


_TABLES = (
    FinalTable("projects", ("source_id",), refreshed_by="projects"),
    FinalTable("people", ("source_id",)),
    FinalTable(
        "work_items",
        ("source_id",),
        refreshed_by="issues",
        children=(Children("work_item_transitions", ("work_item_source_id",), ("source_id",)),),
        never_back_in_time="updated_at",
        vectors=Vectors("work_item", "f.source_id", ("key", "title", "description", "type", "status")),
    ),
    FinalTable(
        "work_item_transitions",
        ("work_item_source_id", "history_id", "item_seq"),
        keep_if_null=frozenset({"work_item_key"}),
    ),
    FinalTable("sprints", ("source_id",), refreshed_by="sprints"),
    FinalTable("repositories", ("full_name",), refreshed_by="repositories"),
    FinalTable(
        "pull_requests",
        ("repository", "number"),
        refreshed_by="pull_requests",
        children=tuple(
            Children(child, ("repository", "pr_number"), ("repository", "number"))
            for child in ("pull_request_reviews", "pull_request_commits")
        ),
        never_back_in_time="updated_at",
        vectors=Vectors("pull_request", "f.repository || '#' || f.number", ("title", "body", "state")),
    ),
    FinalTable("pull_request_reviews", ("source_id",)),
    # A repository's commit list carries no stats; a pull request's commits (GraphQL) do.
    FinalTable(
        "commits",
        ("repository", "sha"),
        refreshed_by="commits",
        keep_if_null=frozenset({"additions", "deletions"}),
    ),
    FinalTable("pull_request_commits", ("repository", "pr_number", "sha")),
)

TABLES: Mapping[str, FinalTable] = MappingProxyType({t.name: t for t in _TABLES})
FINAL_TABLES: tuple[str, ...] = tuple(TABLES)
EMBEDDED: tuple[FinalTable, ...] = tuple(t for t in _TABLES if t.vectors is not None)
