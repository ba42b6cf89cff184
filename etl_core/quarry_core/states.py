"""Run and job lifecycle: the phases and which moves between them are legal."""

from __future__ import annotations

from enum import StrEnum


class RunPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    PAUSED = "Paused"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


class JobPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SUSPENDED = "Suspended"


TERMINAL_RUN_PHASES = frozenset({RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.CANCELLED})

RUN_TRANSITIONS: dict[RunPhase, frozenset[RunPhase]] = {
    RunPhase.PENDING: frozenset({RunPhase.RUNNING, RunPhase.CANCELLED, RunPhase.FAILED}),
    # Running -> Pending is a retry of a failed attempt (the attempt counter goes up).
    RunPhase.RUNNING: frozenset(
        {RunPhase.PAUSED, RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.CANCELLED, RunPhase.PENDING}
    ),
    RunPhase.PAUSED: frozenset({RunPhase.RUNNING, RunPhase.CANCELLED, RunPhase.FAILED}),
    RunPhase.SUCCEEDED: frozenset(),
    RunPhase.FAILED: frozenset(),
    RunPhase.CANCELLED: frozenset(),
}


class IllegalTransition(ValueError):
    pass


def check_run_transition(current: RunPhase, target: RunPhase) -> None:
    """Raise IllegalTransition unless a run may move from `current` to `target`."""
    if current == target:
        return
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransition(f"run cannot go from {current} to {target}")


class Stage(StrEnum):
    EXTRACT = "extract"
    TRANSFORM = "transform"
    LOAD = "load"


class IntegrationPhase(StrEnum):
    PENDING = "Pending"
    READY = "Ready"
    ERROR = "Error"


class RunTrigger(StrEnum):
    """Why a run was started; stored with the run and shown in the UI."""

    CREATE = "create"
    MANUAL = "manual"
    SCHEDULE = "schedule"
    SPEC_CHANGE = "spec-change"
    RETRANSFORM = "retransform"


ACTIVE_RUN_PHASES = frozenset({RunPhase.PENDING, RunPhase.RUNNING, RunPhase.PAUSED})
