"""What should happen next for one EtlJob: the pure core shared by the kopf operator and the local runtime.

A runtime gathers the job, its integration's readiness and the job's runs, calls `reconcile(...)`
with the current time, carries out the returned decisions in order, and calls again when the job,
the integration or a run changes, or after `requeue_after` seconds. Nothing here does I/O or
reads the clock.

Rules (each has a unit test):
- A new job runs once on create (trigger `create`) unless it is suspended.
- A changed `spec.runRequest` starts a run (`manual`); a changed `spec.retransform` re-transforms
  the stored raw data (`retransform`). Tokens that change while a run is active are queued, not lost.
- A spec change starts a run (`spec-change`) only when the integration, mode or entities changed
  (the runs carry a fingerprint of those); worker-pool, retry or schedule edits do not.
- The schedule fires when a cron tick has passed since `status.lastScheduleTime`. Never two runs
  of one job at once: a tick that falls due while a run is active is *skipped* (recorded as
  handled, like a CronJob with concurrencyPolicy Forbid) because the next incremental run catches
  up anyway. Ticks missed while the operator was down or the job suspended collapse into one run.
- A failed attempt is retried after backoffSeconds * 2^(attempt-1) (capped) until
  retry.maxAttempts; then the run fails with the attempt's error as the reason.
- `suspend: true` cancels the active run, stops scheduling and shows phase Suspended; setting it
  back resumes scheduling (and honours requests queued meanwhile).
- A deleted job cancels its active run.
- Conditions keep lastTransitionTime while their status does not change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from croniter import croniter

from quarry_core.resources import (
    ConditionType,
    EntityCounts,
    EtlJobSpec,
    EtlJobStatus,
    IntegrationType,
    JobMode,
    progress_text,
    set_condition,
)
from quarry_core.states import ACTIVE_RUN_PHASES, JobPhase, RunPhase, RunTrigger

NOT_READY_REQUEUE_SECONDS = 30.0

# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrationView:
    """What the job needs to know about its integration (from Integration status / DB row)."""

    name: str
    type: IntegrationType
    ready: bool
    reason: str = "Verified"
    message: str = ""


@dataclass(frozen=True)
class RunView:
    """One run of the job as the runtime recorded it.

    A failed *attempt* is reported on a still-active run (phase Running) by setting
    `attempt_error` and `attempt_ended_at`; the core then answers RetryRun or FailRun.
    `token` is the runRequest/retransform value that caused the run, `fingerprint` the
    `run_fingerprint(spec)` it started with (both from StartRun/Retransform).
    """

    id: str
    phase: RunPhase
    trigger: RunTrigger
    created_at: datetime
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    attempt_error: str | None = None
    attempt_ended_at: datetime | None = None
    token: str | None = None
    fingerprint: str | None = None
    counts: Mapping[str, EntityCounts] = field(default_factory=dict)
    rate_limited_until: datetime | None = None

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE_RUN_PHASES


@dataclass(frozen=True)
class JobView:
    namespace: str
    name: str
    spec: EtlJobSpec
    generation: int
    status: EtlJobStatus = field(default_factory=EtlJobStatus)
    deleted: bool = False


# --- decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartRun:
    """Create run `run_id` (phase Pending, attempt 1, recording trigger/token/fingerprint) and
    launch its extract pod or subprocess."""

    run_id: str
    trigger: RunTrigger
    mode: JobMode
    entities: tuple[str, ...]
    fingerprint: str
    token: str | None = None


@dataclass(frozen=True)
class Retransform:
    """Create run `run_id` (trigger retransform) that re-publishes stored raw pages of the job
    (of `source_run_id`, or all of them when None) to the transform queue; no extraction."""

    run_id: str
    token: str
    entities: tuple[str, ...]
    fingerprint: str
    source_run_id: str | None


@dataclass(frozen=True)
class RetryRun:
    """Move run `run_id` back to Pending with `attempt`, clear its attempt error, launch again."""

    run_id: str
    attempt: int
    not_before: datetime


@dataclass(frozen=True)
class FailRun:
    """Mark run `run_id` Failed with `reason` (a CamelCase word) and `message`; stop its pods."""

    run_id: str
    reason: str
    message: str


@dataclass(frozen=True)
class CancelRun:
    """Stop run `run_id`'s extract pod and mark it Cancelled (`reason`: Suspended or Deleted)."""

    run_id: str
    reason: str


@dataclass(frozen=True)
class UpdateStatus:
    """Write the job's status: `patch` is a JSON merge patch of the changed top-level fields
    (None deletes); `status` is the whole new status for runtimes that store it in one piece."""

    status: EtlJobStatus
    patch: Mapping[str, Any]


Decision = StartRun | Retransform | RetryRun | FailRun | CancelRun | UpdateStatus
_D = TypeVar("_D", StartRun, Retransform, RetryRun, FailRun, CancelRun, UpdateStatus)


@dataclass(frozen=True)
class Reconciliation:
    decisions: tuple[Decision, ...]
    requeue_after: float | None = None

    def of_type(self, kind: type[_D]) -> list[_D]:
        return [d for d in self.decisions if isinstance(d, kind)]


# --- helpers ------------------------------------------------------------------------------------


def run_fingerprint(spec: EtlJobSpec) -> str:
    """Hash of what a run extracts; a change of it (not of pools or schedule) warrants a new run."""
    what = {
        "integration": spec.integration_ref.name,
        "mode": spec.mode.value,
        "entities": sorted(e.value for e in spec.entities),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def last_tick(schedule: str, now: datetime) -> datetime:
    """The latest cron tick at or before `now`."""
    prev: datetime = croniter(schedule, now).get_prev(datetime)
    following: datetime = croniter(schedule, prev).get_next(datetime)
    return following if following <= now else prev


def next_tick(schedule: str, now: datetime) -> datetime:
    """The first cron tick strictly after `now`."""
    tick: datetime = croniter(schedule, now).get_next(datetime)
    return tick


def status_patch(old: EtlJobStatus, new: EtlJobStatus) -> dict[str, Any]:
    before, after = old.to_document(), new.to_document()
    return {k: after.get(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def _seconds(later: datetime, now: datetime) -> float:
    return max((later - now).total_seconds(), 0.0)


def _readiness(job: JobView, integration: IntegrationView | None) -> tuple[bool, str, str]:
    ref = job.spec.integration_ref.name
    if integration is None:
        return False, "IntegrationNotFound", f"Integration {job.namespace}/{ref} does not exist"
    wrong = job.spec.entities_outside(integration.type)
    if wrong:
        return False, "InvalidEntities", f"a {integration.type} integration has no {', '.join(wrong)}"
    if not integration.ready:
        detail = f": {integration.message}" if integration.message else ""
        return False, "IntegrationNotReady", f"Integration {ref} is not ready ({integration.reason}){detail}"
    return True, "IntegrationReady", f"Integration {ref} is ready"


# --- the core -----------------------------------------------------------------------------------


@dataclass
class _Draft:
    """The status being built during one reconcile."""

    job: JobView
    now: datetime
    status: EtlJobStatus
    requeue: list[float] = field(default_factory=list)

    def set(self, **fields: Any) -> None:
        self.status = self.status.model_copy(update=fields)

    def condition(self, type_: ConditionType, status: bool, reason: str, message: str = "") -> None:
        conditions = set_condition(
            self.status.conditions, type_, status, reason, message, self.now, self.job.generation
        )
        self.set(conditions=conditions)


def reconcile(
    job: JobView,
    integration: IntegrationView | None,
    runs: Sequence[RunView],
    now: datetime,
    new_run_id: str,
) -> Reconciliation:
    """Decide what should happen for `job` now.

    `runs` are the job's runs (any order); `new_run_id` is an unused id the runtime proposes,
    used only when a run is started. Carry out the decisions in order; UpdateStatus comes last.
    """
    active = [r for r in runs if r.active]
    if job.deleted:
        return Reconciliation(tuple(CancelRun(r.id, "Deleted") for r in active))

    draft = _Draft(job, now, job.status)
    draft.set(observed_generation=job.generation)
    decisions: list[Decision] = []
    ready, reason, message = _readiness(job, integration)
    draft.condition(ConditionType.READY, ready, reason, message)
    if not ready:
        draft.requeue.append(NOT_READY_REQUEUE_SECONDS)

    if job.spec.suspend:
        decisions += [CancelRun(r.id, "Suspended") for r in active]
        _suspended(draft)
    else:
        current = max(active, key=lambda r: r.created_at) if active else None
        if current is not None and current.attempt_error is not None:
            _settle_failed_attempt(draft, current, decisions)
        runs = [_after_decisions(r, decisions, now) for r in runs]
        current = next((r for r in runs if current is not None and r.id == current.id and r.active), None)
        started = _start_if_due(draft, runs, current, ready, new_run_id, decisions)
        if not started:
            _describe_runs(draft, runs, current, ready)

    if draft.status != job.status:
        decisions.append(UpdateStatus(draft.status, status_patch(job.status, draft.status)))
    return Reconciliation(tuple(decisions), min(draft.requeue) if draft.requeue else None)


def _suspended(draft: _Draft) -> None:
    draft.set(phase=JobPhase.SUSPENDED, next_schedule_time=None, message="suspended")
    draft.condition(ConditionType.RUNNING, False, "Suspended", "the job is suspended")
    draft.condition(ConditionType.RATE_LIMITED, False, "Suspended")


def _settle_failed_attempt(draft: _Draft, run: RunView, decisions: list[Decision]) -> None:
    """Retry the failed attempt once its backoff passed, or fail the run after the last attempt."""
    policy = draft.job.spec.retry
    error = run.attempt_error or ""
    if run.attempt >= policy.max_attempts:
        message = f"attempt {run.attempt} of {policy.max_attempts} failed: {error}"
        decisions.append(FailRun(run.id, "AttemptsExhausted", message))
        return
    ended = run.attempt_ended_at or run.started_at or run.created_at
    not_before = ended + timedelta(seconds=policy.backoff(run.attempt))
    if draft.now >= not_before:
        decisions.append(RetryRun(run.id, run.attempt + 1, not_before))
    else:
        draft.requeue.append(_seconds(not_before, draft.now))


def _after_decisions(run: RunView, decisions: Sequence[Decision], now: datetime) -> RunView:
    """The run as it will be once this reconcile's run decisions are carried out."""
    for d in decisions:
        if isinstance(d, FailRun) and d.run_id == run.id:
            return replace(run, phase=RunPhase.FAILED, error=d.message, finished_at=now)
        if isinstance(d, RetryRun) and d.run_id == run.id:
            return replace(run, phase=RunPhase.PENDING, attempt=d.attempt, attempt_error=None)
    return run


def _start_if_due(
    draft: _Draft,
    runs: Sequence[RunView],
    current: RunView | None,
    ready: bool,
    new_run_id: str,
    decisions: list[Decision],
) -> bool:
    """Start at most one run for the pending triggers; return whether one was started."""
    spec, status, now = draft.job.spec, draft.status, draft.now
    fingerprint = run_fingerprint(spec)

    schedule_due = False
    if spec.schedule:
        tick = last_tick(spec.schedule, now)
        if status.last_schedule_time is None:
            draft.set(last_schedule_time=tick)
        elif tick > status.last_schedule_time:
            schedule_due = True
        upcoming = next_tick(spec.schedule, now)
        draft.set(next_schedule_time=upcoming)
        draft.requeue.append(_seconds(upcoming, now))
        if schedule_due and current is not None:
            draft.set(last_schedule_time=tick)  # skipped: never two runs of one job at once
    else:
        draft.set(next_schedule_time=None)

    if current is not None or not ready:
        return False

    def seen(trigger: RunTrigger, token: str | None, observed: str | None) -> bool:
        if token is None or token == observed:
            return True
        return any(r.trigger == trigger and r.token == token for r in runs)

    extract_runs = [r for r in runs if r.trigger != RunTrigger.RETRANSFORM]
    latest_extract = max(extract_runs, key=lambda r: r.created_at) if extract_runs else None
    never_ran = not runs and status.started_at is None and status.last_successful_run is None
    manual = not seen(RunTrigger.MANUAL, spec.run_request, status.last_run_request)
    retransform = not seen(RunTrigger.RETRANSFORM, spec.retransform, status.last_retransform)
    changed = (
        latest_extract is not None
        and latest_extract.fingerprint is not None
        and latest_extract.fingerprint != fingerprint
    )

    trigger: RunTrigger | None = None
    if never_ran:
        trigger = RunTrigger.CREATE
        retransform = False  # nothing to re-transform yet; the create run uses current mappings
    elif manual:
        trigger = RunTrigger.MANUAL
    elif changed:
        trigger = RunTrigger.SPEC_CHANGE
    elif schedule_due:
        trigger = RunTrigger.SCHEDULE

    entities = tuple(e.value for e in spec.entities)
    if trigger is not None:
        # One run answers every extract trigger pending now.
        token = spec.run_request if trigger == RunTrigger.MANUAL else None
        decisions.append(StartRun(new_run_id, trigger, spec.mode, entities, fingerprint, token))
        if schedule_due and spec.schedule:
            draft.set(last_schedule_time=last_tick(spec.schedule, now))
        draft.set(last_run_request=spec.run_request)
        if never_ran:
            draft.set(last_retransform=spec.retransform)
    elif retransform and spec.retransform is not None:
        succeeded = [r for r in extract_runs if r.phase == RunPhase.SUCCEEDED]
        source = max(succeeded, key=lambda r: r.created_at).id if succeeded else None
        decisions.append(Retransform(new_run_id, spec.retransform, entities, fingerprint, source))
        draft.set(last_retransform=spec.retransform)
        trigger = RunTrigger.RETRANSFORM
    else:
        return False

    draft.set(
        phase=JobPhase.RUNNING,
        current_run=new_run_id,
        attempt=1,
        started_at=now,
        finished_at=None,
        counts={},
        progress="",
        message=f"run {new_run_id} started ({trigger})",
    )
    draft.condition(ConditionType.RUNNING, True, "RunStarted", f"run {new_run_id} started ({trigger})")
    draft.condition(ConditionType.SUCCEEDED, False, "RunInProgress")
    draft.condition(ConditionType.FAILED, False, "RunInProgress")
    draft.condition(ConditionType.RATE_LIMITED, False, "NotRateLimited")
    return True


def _describe_runs(draft: _Draft, runs: Sequence[RunView], current: RunView | None, ready: bool) -> None:
    """Status when no run starts now: mirror the active run, else the latest finished one."""
    now = draft.now
    succeeded = [r for r in runs if r.phase == RunPhase.SUCCEEDED]
    if succeeded:
        best = max(succeeded, key=lambda r: r.finished_at or r.created_at)
        draft.set(last_successful_run=best.id, last_successful_time=best.finished_at)

    shown = current or (max(runs, key=lambda r: r.created_at) if runs else None)
    if shown is None:
        draft.set(phase=JobPhase.PENDING, message="" if ready else "waiting for the integration")
        draft.condition(ConditionType.RUNNING, False, "NoRun")
        return

    counts = dict(shown.counts)
    draft.set(
        current_run=shown.id,
        attempt=shown.attempt,
        started_at=shown.started_at or shown.created_at,
        finished_at=None if shown.active else shown.finished_at,
        counts=counts,
        progress=progress_text(counts),
    )
    if shown.active:
        limited = shown.rate_limited_until is not None and shown.rate_limited_until > now
        if limited and shown.rate_limited_until is not None:
            until = shown.rate_limited_until.isoformat()
            message = f"the source asks to wait until {until}"
            draft.condition(ConditionType.RATE_LIMITED, True, "RateLimited", message)
        else:
            draft.condition(ConditionType.RATE_LIMITED, False, "NotRateLimited")
        if shown.attempt_error is not None:
            message = f"attempt {shown.attempt} failed ({shown.attempt_error}); retrying"
            draft.set(phase=JobPhase.RUNNING, message=message)
            draft.condition(ConditionType.RUNNING, True, "RetryBackoff", message)
        else:
            draft.set(phase=JobPhase.RUNNING, message=f"run {shown.id} {shown.phase.lower()}")
            draft.condition(ConditionType.RUNNING, True, "RunActive", f"run {shown.id} is {shown.phase}")
        draft.condition(ConditionType.SUCCEEDED, False, "RunInProgress")
        draft.condition(ConditionType.FAILED, False, "RunInProgress")
        return

    phase = {
        RunPhase.SUCCEEDED: JobPhase.SUCCEEDED,
        RunPhase.FAILED: JobPhase.FAILED,
        RunPhase.CANCELLED: JobPhase.CANCELLED,
    }[shown.phase]
    error = shown.error or ""
    draft.set(phase=phase, message=error if phase == JobPhase.FAILED else f"run {shown.id} {phase.lower()}")
    draft.condition(ConditionType.RUNNING, False, "Idle")
    draft.condition(ConditionType.RATE_LIMITED, False, "NotRateLimited")
    draft.condition(
        ConditionType.SUCCEEDED,
        phase == JobPhase.SUCCEEDED,
        f"Run{phase}",
        f"run {shown.id} {phase.lower()}",
    )
    draft.condition(ConditionType.FAILED, phase == JobPhase.FAILED, f"Run{phase}", error)
