"""Helpers shared by the Jira and GitHub transforms (all pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Row = dict[str, Any]
Records = dict[str, list[Row]]

# Fields read for story points, in order; Jira Cloud's team-managed "Story point estimate" first.
DEFAULT_STORY_POINT_FIELDS = (
    "customfield_10016",
    "customfield_10024",
    "customfield_10026",
    "customfield_10028",
)


@dataclass(frozen=True)
class TransformOptions:
    story_point_fields: tuple[str, ...] = DEFAULT_STORY_POINT_FIELDS
    # Jira status id or casefolded name -> status category key (new / indeterminate / done),
    # read from the integration's newest `statuses` page; changelog items carry no category.
    status_categories: Mapping[str, str] = field(default_factory=dict)


def ts(value: Any) -> str | None:
    """An API timestamp as UTC ISO-8601 (Jira's '+0800' offsets and GitHub's 'Z' both parse)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def text_of(value: Any) -> str | None:
    """Plain text of a string or an Atlassian Document Format node tree."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    parts: list[str] = []
    _adf_walk(value, parts)
    joined = "".join(parts).strip()
    return joined or None


def _adf_walk(node: Any, out: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _adf_walk(child, out)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "text" and isinstance(node.get("text"), str):
        out.append(node["text"])
    elif node.get("type") in ("hardBreak",):
        out.append("\n")
    elif node.get("type") == "mention":
        out.append(str((node.get("attrs") or {}).get("text") or ""))
    _adf_walk(node.get("content"), out)
    if node.get("type") in ("paragraph", "heading", "listItem", "codeBlock", "blockquote"):
        out.append("\n")


def number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    # Some Jira setups store -1 for "not estimated"; a negative estimate is never a real one.
    return result if result >= 0 else None


def dedupe(rows: Iterable[Row], key: tuple[str, ...]) -> list[Row]:
    """Last row wins per natural key (a statement may not upsert one key twice)."""
    seen: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        k = tuple(row.get(c) for c in key)
        if k in seen:
            if seen[k] == row:  # the common case (an author on every history): nothing to merge
                seen[k] = seen.pop(k)
                continue
            merged = dict(seen.pop(k))
            merged.update({c: v for c, v in row.items() if v is not None or c not in merged})
            seen[k] = merged
        else:
            seen[k] = row
    return list(seen.values())


def as_items(response: Any, *keys: str) -> list[Any]:
    """The item list of a page: a bare array, or the first of `keys` present in an object."""
    if isinstance(response, list):
        return response
    if isinstance(response, dict):
        for k in keys:
            if isinstance(response.get(k), list):
                return list(response[k])
    return []
