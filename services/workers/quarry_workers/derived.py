"""Lead and cycle time of one work item from its transitions (pure).

Lead time: created -> the first move into a Done status (resolution date when the item was created
Done and never moved). Cycle time: the first move into the workflow's commitment point (or any later
step) -> the first move into its delivery point (or any later step) after it. Without a workflow
for the type, the commitment point is the first move into In Progress and the delivery point the
first move into Done after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from quarry_workers.mappings import DONE, IN_PROGRESS, Flow


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
