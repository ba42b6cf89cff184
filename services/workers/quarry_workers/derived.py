"""Lead and cycle time of one work item from its transitions (pure).

Lead time: created -> the first move into a Done status (resolution date when the item was created
Done and never moved). Cycle time: the first move into the workflow's commitment point (or any later
step) -> the first move into its delivery point (or any later step) after it. Without a workflow
for the type, the commitment point is the first move into In Progress and the delivery point the
first move into Done after it.

`plan_derived` applies both to a batch of items at once: the load reads the batch's items and their
transitions in two statements and writes what changed in two more, whatever the batch size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quarry_core.mappings import DONE, IN_PROGRESS, Flow, Mappings


@dataclass(frozen=True)
class Move:
    at: datetime
    to_status: str | None
    to_step: str | None


def lead_time(
    created: datetime | None,
    moves: Sequence[Move],
    resolved: datetime | None = None,
    status: str | None = None,
) -> float | None:
    if created is None:
        return None
    done = next((m.at for m in moves if m.to_status == DONE), None)
    if done is None and not moves and status == DONE:
        done = resolved
    if done is None or done < created:
        return None
    return (done - created).total_seconds()


def cycle_time(moves: Sequence[Move], flow: Flow | None) -> float | None:
    commit_at: datetime | None = None
    if flow is not None and flow.commitment is not None and flow.delivery is not None:
        commit_pos, deliver_pos = flow.commitment.position, flow.delivery.position
        for m in moves:
            step = flow.step(m.to_step)
            if step is None:
                continue
            if commit_at is None and step.position >= commit_pos:
                commit_at = m.at
            if commit_at is not None and step.position >= deliver_pos:
                return (m.at - commit_at).total_seconds()
        return None
    for m in moves:
        if commit_at is None and m.to_status == IN_PROGRESS:
            commit_at = m.at
        elif commit_at is not None and m.to_status == DONE:
            return (m.at - commit_at).total_seconds()
    return None


@dataclass(frozen=True)
class DerivedPlan:
    """What a batch changes: transitions re-mapped by their item's type, and items' times."""

    transitions: list[dict[str, Any]]  # {id, from_status, to_status, from_step, to_step}
    times: list[dict[str, Any]]  # {id, lead_time_seconds, cycle_time_seconds}


def plan_derived(items: Sequence[Any], transitions: Sequence[Any], mappings: Mappings) -> DerivedPlan:
    """Rows changed for these items (pure); `transitions` sorted by item, time, history, seq.

    `items` rows carry id, source_id, type, created_at, resolved_at, status and the stored times;
    `transitions` rows carry id, work_item_source_id, transitioned_at, the source statuses and
    categories, and the stored mapped statuses and steps. Unchanged rows are left out.
    """
    by_source = {i.source_id: i for i in items}
    moves: dict[str, list[Move]] = defaultdict(list)
    fixes: list[dict[str, Any]] = []
    # A batch holds few distinct (type, status) pairs and many transitions: map each pair once.
    statuses: dict[tuple[str | None, str | None, str | None], str | None] = {}
    steps: dict[tuple[str | None, str | None], str | None] = {}

    def status(kind: str | None, source: str | None, category: str | None) -> str | None:
        key = (kind, source, category)
        if key not in statuses:
            statuses[key] = mappings.map_status(kind, source, category) if source else None
        return statuses[key]

    def step(kind: str | None, source: str | None) -> str | None:
        key = (kind, source)
        if key not in steps:
            steps[key] = mappings.workflow_step(kind, source)
        return steps[key]

    for t in transitions:
        item = by_source.get(t.work_item_source_id)
        if item is None:
            continue
        kind = item.type
        want = {
            "from_status": status(kind, t.from_source_status, t.from_status_category),
            "to_status": status(kind, t.to_source_status, t.to_status_category),
            "from_step": step(kind, t.from_source_status),
            "to_step": step(kind, t.to_source_status),
        }
        if want != {
            "from_status": t.from_status,
            "to_status": t.to_status,
            "from_step": t.from_step,
            "to_step": t.to_step,
        }:
            fixes.append({"id": t.id, **want})
        moves[t.work_item_source_id].append(Move(t.transitioned_at, want["to_status"], want["to_step"]))
    times: list[dict[str, Any]] = []
    for item in items:
        own = moves.get(item.source_id, [])
        lead = lead_time(item.created_at, own, item.resolved_at, item.status)
        cycle = cycle_time(own, mappings.workflow(item.type))
        if (lead, cycle) != (item.lead_time_seconds, item.cycle_time_seconds):
            times.append({"id": item.id, "lead_time_seconds": lead, "cycle_time_seconds": cycle})
    return DerivedPlan(fixes, times)
