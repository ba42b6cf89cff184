"""Jira pages -> work items, transitions, sprints, projects, people (pure).

Accepted page shapes: `/rest/api/3/search/jql` and Agile board issue pages (`issues`), a bare
issue, changelog pages (`values`, oldest first), bulk changelog pages (`issueChangeLogs`), Agile
sprint pages (`values`), project pages (`values` or a bare array).

Transitions are keyed by (issue id, history id, item index), so the truncated changelog embedded
in an issue page and the full changelog page upsert the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from quarry_core.errors import FatalError
from quarry_core.mappings import Mappings
from quarry_workers.transform.common import (
    Records,
    Row,
    TransformOptions,
    as_items,
    dedupe,
    number,
    text_of,
    ts,
)

SPRINT_KEYS = ("state", "name")
DONE_WORDS = ("done", "closed", "resolved", "complete", "完成", "关闭")
TODO_WORDS = ("to do", "todo", "open", "backlog", "new", "待办", "打开")


def transform(
    entity: str, response: Any, params: Mapping[str, Any], mappings: Mappings, options: TransformOptions
) -> Records:
    if entity == "issues":
        return _issues(response, params, mappings, options)
    if entity == "issue_changelogs":
        return _changelogs(response, params, mappings, options)
    if entity == "sprints":
        board = params.get("_board_id")
        return {
            "sprints": dedupe((sprint_row(s, board) for s in as_items(response, "values")), ("source_id",))
        }
    if entity == "projects":
        return {"projects": [project_row(p) for p in as_items(response, "values", "projects")]}
    # issue_types, statuses, fields, boards: reference data, read from raw by the worker itself.
    return {}


def person_row(user: Any) -> Row | None:
    if not isinstance(user, dict):
        return None
    source_id = user.get("accountId") or user.get("key") or user.get("name")
    if not source_id:
        return None
    return {
        "source_id": str(source_id),
        "login": user.get("name") or user.get("emailAddress") or None,
        "display_name": user.get("displayName"),
        "email": user.get("emailAddress") or None,
    }


def project_row(project: Mapping[str, Any]) -> Row:
    return {
        "source_id": str(project["id"]),
        "key": project.get("key"),
        "name": project.get("name"),
        "project_type": project.get("projectTypeKey"),
    }


def sprint_row(sprint: Mapping[str, Any], board: Any = None) -> Row:
    board_id = sprint.get("originBoardId", sprint.get("boardId", board))
    return {
        "source_id": str(sprint["id"]),
        "board_id": None if board_id is None else str(board_id),
        "name": sprint.get("name"),
        "state": sprint.get("state"),
        "goal": sprint.get("goal") or None,
        "start_at": ts(sprint.get("startDate")),
        "end_at": ts(sprint.get("endDate")),
        "completed_at": ts(sprint.get("completeDate")),
    }


def _looks_like_sprint(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and all(k in value for k in SPRINT_KEYS)


def issue_sprints(fields: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Sprint objects of an issue: Agile `sprint`/`closedSprints` and the Sprint custom field."""
    found: list[Mapping[str, Any]] = []
    if _looks_like_sprint(fields.get("sprint")):
        found.append(fields["sprint"])
    for name, value in fields.items():
        sprint_field = name == "closedSprints" or name.startswith("customfield_")
        if sprint_field and isinstance(value, list) and value and all(map(_looks_like_sprint, value)):
            found.extend(value)
    unique: dict[str, Mapping[str, Any]] = {}
    for s in found:
        unique.setdefault(str(s["id"]), s)
    return list(unique.values())


def category_of(
    status_id: Any, status_name: str | None, options: TransformOptions, hint: Mapping[str, str]
) -> str | None:
    """Status category of a changelog status: catalog by id, by name, the issue itself, then words."""
    cats = options.status_categories
    if status_id is not None and str(status_id) in cats:
        return cats[str(status_id)]
    if status_name is None:
        return None
    folded = status_name.strip().casefold()
    if folded in cats:
        return cats[folded]
    if folded in hint:
        return hint[folded]
    if any(w in folded for w in DONE_WORDS):
        return "done"
    if any(folded == w or folded.startswith(w) for w in TODO_WORDS):
        return "new"
    return "indeterminate"


class StatusDecisions:
    """The standard status and workflow step of each (type, status, category) met on one page,
    decided once: a page repeats a few statuses over hundreds of transitions."""

    def __init__(self, mappings: Mappings) -> None:
        self.mappings = mappings
        self._decided: dict[tuple[str | None, str | None, str | None], tuple[str | None, str | None]] = {}

    def __call__(
        self, standard_type: str | None, status: str | None, category: str | None
    ) -> tuple[str | None, str | None]:
        key = (standard_type, status, category)
        hit = self._decided.get(key)
        if hit is None:
            standard = self.mappings.map_status(standard_type, status, category) if status else None
            hit = self._decided[key] = (standard, self.mappings.workflow_step(standard_type, status))
        return hit


def transition_rows(
    issue_id: str,
    issue_key: str | None,
    histories: Iterable[Mapping[str, Any]],
    standard_type: str | None,
    decide: StatusDecisions,
    options: TransformOptions,
    hint: Mapping[str, str],
) -> tuple[list[Row], list[Row]]:
    """(transitions, people) of the status changes in `histories`."""
    rows: list[Row] = []
    people: list[Row] = []
    for history in histories:
        author = person_row(history.get("author"))
        if author is not None:
            people.append(author)
        for seq, item in enumerate(history.get("items") or ()):
            if (item.get("fieldId") or item.get("field")) != "status":
                continue
            from_name, to_name = item.get("fromString"), item.get("toString")
            from_cat = category_of(item.get("from"), from_name, options, hint)
            to_cat = category_of(item.get("to"), to_name, options, hint)
            from_status, from_step = decide(standard_type, from_name, from_cat)
            to_status, to_step = decide(standard_type, to_name, to_cat)
            rows.append(
                {
                    "work_item_source_id": issue_id,
                    "work_item_key": issue_key,
                    "history_id": str(history["id"]),
                    "item_seq": seq,
                    "from_source_status": from_name,
                    "to_source_status": to_name,
                    "from_status_category": from_cat,
                    "to_status_category": to_cat,
                    "from_status": from_status,
                    "to_status": to_status,
                    "from_step": from_step,
                    "to_step": to_step,
                    "author_id": None if author is None else author["source_id"],
                    "transitioned_at": ts(history.get("created")),
                }
            )
    return rows, people


def _issues(
    response: Any, params: Mapping[str, Any], mappings: Mappings, options: TransformOptions
) -> Records:
    if isinstance(response, dict) and "fields" in response and "key" in response:
        items: list[Any] = [response]
    else:
        items = as_items(response, "issues")
    work_items: list[Row] = []
    transitions: list[Row] = []
    people: list[Row] = []
    sprints: list[Row] = []
    projects: list[Row] = []
    decide = StatusDecisions(mappings)
    for issue in items:
        fields = issue.get("fields")
        if not isinstance(fields, dict):
            continue  # an id-only sweep page: nothing to normalise
        item, extra = work_item_row(issue, fields, params, mappings, options)
        work_items.append(item)
        people.extend(extra["people"])
        sprints.extend(extra["sprints"])
        projects.extend(extra["projects"])
        histories = (issue.get("changelog") or {}).get("histories") or []
        hint = {}
        if item["source_status"] and item["status_category"]:
            hint[item["source_status"].strip().casefold()] = item["status_category"]
        rows, authors = transition_rows(
            item["source_id"], item["key"], histories, item["type"], decide, options, hint
        )
        transitions.extend(rows)
        people.extend(authors)
    return {
        "work_items": work_items,
        "work_item_transitions": dedupe(transitions, ("work_item_source_id", "history_id", "item_seq")),
        "people": dedupe(people, ("source_id",)),
        "sprints": dedupe(sprints, ("source_id",)),
        "projects": dedupe(projects, ("source_id",)),
    }


def work_item_row(
    issue: Mapping[str, Any],
    fields: Mapping[str, Any],
    params: Mapping[str, Any],
    mappings: Mappings,
    options: TransformOptions,
) -> tuple[Row, dict[str, list[Row]]]:
    issuetype = fields.get("issuetype") or {}
    source_type = issuetype.get("name")
    standard_type = mappings.map_type(source_type)
    status = fields.get("status") or {}
    status_name = status.get("name")
    category = (status.get("statusCategory") or {}).get("key")
    parent = fields.get("parent") or {}
    epic = fields.get("epic") if isinstance(fields.get("epic"), dict) else {}
    parent_key = parent.get("key") or fields.get("customfield_10014") or (epic or {}).get("key")
    project = fields.get("project") or {}
    points = next(
        (p for p in (number(fields.get(f)) for f in options.story_point_fields) if p is not None), None
    )
    sprint_objs = issue_sprints(fields)
    people = [p for p in (person_row(fields.get(k)) for k in ("assignee", "reporter", "creator")) if p]
    priority = fields.get("priority")
    row: Row = {
        "source_id": str(issue["id"]),
        "key": issue.get("key") or str(issue["id"]),
        "project_key": project.get("key") or params.get("_project"),
        "title": fields.get("summary"),
        "description": text_of(fields.get("description")),
        "source_type": source_type,
        "type": standard_type,
        "hierarchy_level": mappings.hierarchy_level(
            standard_type, issuetype.get("hierarchyLevel"), bool(issuetype.get("subtask"))
        ),
        "parent_key": parent_key if isinstance(parent_key, str) else None,
        "source_status": status_name,
        "status_category": category,
        "status": mappings.map_status(standard_type, status_name, category),
        "workflow_step": mappings.workflow_step(standard_type, status_name),
        "assignee_id": (person_row(fields.get("assignee")) or {}).get("source_id"),
        "reporter_id": (person_row(fields.get("reporter")) or {}).get("source_id"),
        "story_points": points,
        "sprint_ids": sorted((str(s["id"]) for s in sprint_objs), key=lambda v: (len(v), v)),
        "labels": list(fields.get("labels") or []),
        "priority": priority.get("name") if isinstance(priority, dict) else None,
        "created_at": ts(fields.get("created")),
        "updated_at": ts(fields.get("updated")),
        "resolved_at": ts(fields.get("resolutiondate")),
    }
    extra = {
        "people": people,
        "sprints": [sprint_row(s) for s in sprint_objs],
        "projects": [project_row(project)] if project.get("id") else [],
    }
    return row, extra


def _changelogs(
    response: Any, params: Mapping[str, Any], mappings: Mappings, options: TransformOptions
) -> Records:
    transitions: list[Row] = []
    people: list[Row] = []
    decide = StatusDecisions(mappings)
    if isinstance(response, dict) and isinstance(response.get("issueChangeLogs"), list):
        for entry in response["issueChangeLogs"]:
            rows, authors = transition_rows(
                str(entry["issueId"]), None, entry.get("changeHistories") or [], None, decide, options, {}
            )
            transitions.extend(rows)
            people.extend(authors)
    else:
        issue_id = params.get("_issue_id")
        if issue_id is None:
            raise FatalError("changelog page without _issue_id in its params: cannot key its transitions")
        rows, authors = transition_rows(
            str(issue_id),
            params.get("_issue_key"),
            as_items(response, "values", "histories"),
            None,
            decide,
            options,
            {},
        )
        transitions.extend(rows)
        people.extend(authors)
    return {
        "work_item_transitions": dedupe(transitions, ("work_item_source_id", "history_id", "item_seq")),
        "people": dedupe(people, ("source_id",)),
    }
