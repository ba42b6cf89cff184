"""The reconcile core, one rule per test, driven through a tiny in-memory runtime."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from quarry_core.reconcile import (
    CancelRun,
    FailRun,
    IntegrationView,
    JobView,
    Reconciliation,
    Retransform,
    RetryRun,
    RunView,
    StartRun,
    UpdateStatus,
    last_tick,
    next_tick,
    reconcile,
    run_fingerprint,
)
from quarry_core.resources import (
    ConditionStatus,
    ConditionType,
    EntityCounts,
    EtlJobSpec,
    EtlJobStatus,
    IntegrationType,
    JobMode,
    get_condition,
    set_condition,
)
from quarry_core.states import JobPhase, RunPhase, RunTrigger

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
JIRA = IntegrationView("acme-jira", IntegrationType.JIRA, ready=True)


def spec(**extra: Any) -> EtlJobSpec:
    doc = {"integrationRef": {"name": "acme-jira"}, "entities": ["projects", "issues"], **extra}
    return EtlJobSpec.model_validate(doc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class World:
    """An in-memory runtime: carries out decisions the way the operator and local runtime must."""

    spec: EtlJobSpec
    generation: int = 1
    status: EtlJobStatus = field(default_factory=EtlJobStatus)
    runs: list[RunView] = field(default_factory=list)
    integration: IntegrationView | None = JIRA
    deleted: bool = False
    cancelled: list[str] = field(default_factory=list)
    serial: int = 0

    def job(self) -> JobView:
        return JobView("acme", "acme-jira-sync", self.spec, self.generation, self.status, self.deleted)

    def step(self, now: datetime) -> Reconciliation:
        self.serial += 1
        result = reconcile(self.job(), self.integration, self.runs, now, f"run-{self.serial}")
        for d in result.decisions:
            self.apply(d, now)
        return result

    def apply(self, d: Any, now: datetime) -> None:
        if isinstance(d, StartRun | Retransform):
            trigger = d.trigger if isinstance(d, StartRun) else RunTrigger.RETRANSFORM
            self.runs.append(
                RunView(d.run_id, RunPhase.PENDING, trigger, now, token=d.token, fingerprint=d.fingerprint)
            )
        elif isinstance(d, RetryRun):
            self.update(d.run_id, phase=RunPhase.PENDING, attempt=d.attempt, attempt_error=None)
        elif isinstance(d, FailRun):
            self.update(d.run_id, phase=RunPhase.FAILED, error=d.message, finished_at=now)
        elif isinstance(d, CancelRun):
            self.cancelled.append(d.run_id)
            self.update(d.run_id, phase=RunPhase.CANCELLED, finished_at=now)
        elif isinstance(d, UpdateStatus):
            self.status = d.status

    def update(self, run_id: str, **changes: Any) -> None:
        self.runs = [replace(r, **changes) if r.id == run_id else r for r in self.runs]

    def edit(self, **extra: Any) -> None:
        self.spec = self.spec.model_copy(update=extra)
        self.generation += 1

    def finish(self, phase: RunPhase, now: datetime, **changes: Any) -> None:
        self.update(self.runs[-1].id, phase=phase, finished_at=now, **changes)

    def fail_attempt(self, now: datetime, error: str = "HTTP 500") -> None:
        self.update(self.runs[-1].id, phase=RunPhase.RUNNING, attempt_error=error, attempt_ended_at=now)


def starts(result: Reconciliation) -> list[StartRun]:
    return result.of_type(StartRun)


def condition(world: World, type_: ConditionType) -> tuple[ConditionStatus, str]:
    c = get_condition(world.status.conditions, type_)
    assert c is not None
    return c.status, c.reason


def message(world: World, type_: ConditionType) -> str:
    c = get_condition(world.status.conditions, type_)
    assert c is not None
    return c.message


def created(**extra: Any) -> World:
    """A job that was created at T0 and whose first run succeeded at T0+1m."""
    world = World(spec(**extra))
    world.step(T0)
    world.finish(RunPhase.SUCCEEDED, at(1))
    world.step(at(1))
    return world


# --- first run ----------------------------------------------------------------------------------


def test_first_run_on_create() -> None:
    world = World(spec())
    result = world.step(T0)
    (start,) = starts(result)
    assert start == StartRun(
        "run-1", RunTrigger.CREATE, JobMode.INCREMENTAL, ("projects", "issues"), run_fingerprint(world.spec)
    )
    assert world.status.phase == JobPhase.RUNNING
    assert world.status.current_run == "run-1" and world.status.observed_generation == 1
    assert condition(world, ConditionType.RUNNING) == (ConditionStatus.TRUE, "RunStarted")
    assert condition(world, ConditionType.SUCCEEDED) == (ConditionStatus.FALSE, "RunInProgress")
    assert condition(world, ConditionType.READY) == (ConditionStatus.TRUE, "IntegrationReady")
    assert isinstance(result.decisions[-1], UpdateStatus)


def test_no_first_run_when_created_suspended() -> None:
    world = World(spec(suspend=True))
    assert starts(world.step(T0)) == []
    assert world.status.phase == JobPhase.SUSPENDED


def test_reconcile_is_idempotent_once_decisions_are_carried_out() -> None:
    world = World(spec())
    world.step(T0)
    world.step(at(0.1))  # status now mirrors the run record
    assert world.step(at(0.2)).decisions == ()
    assert len(world.runs) == 1


def test_reconcile_does_not_mutate_its_inputs() -> None:
    job = JobView("acme", "j", spec(), 1)
    before = job.status
    reconcile(job, JIRA, [], T0, "run-1")
    assert job.status is before and job.status == EtlJobStatus()


def test_finished_run_is_mirrored_in_status() -> None:
    world = World(spec())
    world.step(T0)
    counts = {"issues": EntityCounts(extracted=10, transformed=10, loaded=8)}
    world.finish(RunPhase.SUCCEEDED, at(5), started_at=at(0.5), counts=counts)
    world.step(at(5))
    s = world.status
    assert s.phase == JobPhase.SUCCEEDED and s.finished_at == at(5) and s.started_at == at(0.5)
    assert s.last_successful_run == "run-1" and s.last_successful_time == at(5)
    assert s.counts == counts and s.progress == "8/10 loaded (80%)"
    assert condition(world, ConditionType.SUCCEEDED) == (ConditionStatus.TRUE, "RunSucceeded")
    assert condition(world, ConditionType.FAILED) == (ConditionStatus.FALSE, "RunSucceeded")
    assert condition(world, ConditionType.RUNNING) == (ConditionStatus.FALSE, "Idle")


def test_active_run_progress_is_mirrored() -> None:
    world = World(spec())
    world.step(T0)
    world.update("run-1", phase=RunPhase.RUNNING, counts={"issues": EntityCounts(extracted=4, loaded=1)})
    world.step(at(1))
    assert world.status.phase == JobPhase.RUNNING and world.status.progress == "1/4 loaded (25%)"
    assert condition(world, ConditionType.RUNNING) == (ConditionStatus.TRUE, "RunActive")


# --- manual runs --------------------------------------------------------------------------------


def test_changed_run_request_starts_a_manual_run() -> None:
    world = created()
    world.edit(run_request="r1")
    (start,) = starts(world.step(at(2)))
    assert (start.trigger, start.token) == (RunTrigger.MANUAL, "r1")
    assert world.status.last_run_request == "r1"
    world.finish(RunPhase.SUCCEEDED, at(3))
    assert starts(world.step(at(3))) == []  # the same token does not run twice


def test_run_request_while_running_is_queued_not_concurrent() -> None:
    world = created()
    world.edit(run_request="r1")
    world.step(at(2))
    world.edit(run_request="r2")
    assert starts(world.step(at(2.5))) == []
    world.finish(RunPhase.SUCCEEDED, at(3))
    (start,) = starts(world.step(at(3)))
    assert start.token == "r2"


def test_token_recorded_on_a_run_counts_as_seen_even_if_status_was_lost() -> None:
    world = created()
    world.edit(run_request="r1")
    world.step(at(2))
    world.finish(RunPhase.SUCCEEDED, at(3))
    world.status = world.status.model_copy(update={"last_run_request": None})
    assert starts(world.step(at(3))) == []


def test_run_request_set_on_create_is_covered_by_the_first_run() -> None:
    world = World(spec(runRequest="r0"))
    (start,) = starts(world.step(T0))
    assert start.trigger == RunTrigger.CREATE
    world.finish(RunPhase.SUCCEEDED, at(1))
    assert starts(world.step(at(1))) == []


# --- schedule -----------------------------------------------------------------------------------


def test_ticks() -> None:
    assert last_tick("*/30 * * * *", at(30)) == at(30)
    assert last_tick("*/30 * * * *", at(29.9)) == at(0)
    assert next_tick("*/30 * * * *", at(30)) == at(60)


def test_schedule_fires_when_a_tick_passed() -> None:
    world = created(schedule="*/30 * * * *")
    assert world.status.last_schedule_time == T0
    assert world.status.next_schedule_time == at(30)
    result = world.step(at(10))
    assert starts(result) == [] and result.requeue_after == 20 * 60
    (start,) = starts(world.step(at(30)))
    assert start.trigger == RunTrigger.SCHEDULE
    assert world.status.last_schedule_time == at(30) and world.status.next_schedule_time == at(60)


def test_due_schedule_while_running_is_skipped() -> None:
    world = created(schedule="*/30 * * * *")
    world.edit(run_request="long")
    world.step(at(20))  # a long manual run
    assert starts(world.step(at(31))) == []
    assert world.status.last_schedule_time == at(30)  # handled by skipping
    world.finish(RunPhase.SUCCEEDED, at(40))
    assert starts(world.step(at(40))) == []  # not run late
    (start,) = starts(world.step(at(60)))
    assert start.trigger == RunTrigger.SCHEDULE


def test_missed_ticks_collapse_into_one_run() -> None:
    world = created(schedule="*/30 * * * *")
    (start,) = starts(world.step(at(185)))  # six ticks passed while the operator was down
    assert start.trigger == RunTrigger.SCHEDULE
    world.finish(RunPhase.SUCCEEDED, at(186))
    assert starts(world.step(at(186))) == []


def test_removing_the_schedule_clears_next_schedule_time() -> None:
    world = created(schedule="*/30 * * * *")
    world.edit(schedule=None)
    result = world.step(at(5))
    assert world.status.next_schedule_time is None and result.requeue_after is None


def test_manual_and_schedule_due_together_start_one_run() -> None:
    world = created(schedule="*/30 * * * *")
    world.edit(run_request="r1")
    result = world.step(at(30))
    assert [s.trigger for s in starts(result)] == [RunTrigger.MANUAL]
    assert world.status.last_schedule_time == at(30)
    world.finish(RunPhase.SUCCEEDED, at(31))
    assert starts(world.step(at(31))) == []


# --- spec changes -------------------------------------------------------------------------------


def test_mode_entities_or_integration_change_starts_a_run() -> None:
    for change in ({"mode": JobMode.FULL}, {"entities": spec(entities=["sprints"]).entities}):
        world = created()
        world.edit(**change)
        (start,) = starts(world.step(at(2)))
        assert start.trigger == RunTrigger.SPEC_CHANGE
        assert start.fingerprint == run_fingerprint(world.spec)
    world = created()
    world.edit(integration_ref=spec(integrationRef={"name": "other-jira"}).integration_ref)
    world.integration = replace(JIRA, name="other-jira")
    assert [s.trigger for s in starts(world.step(at(2)))] == [RunTrigger.SPEC_CHANGE]


def test_worker_pool_retry_or_schedule_change_does_not_start_a_run() -> None:
    world = created()
    pools = spec(workers={"transform": {"maxReplicas": 9}}).workers
    world.edit(workers=pools, retry=spec(retry={"maxAttempts": 5}).retry)
    result = world.step(at(2))
    assert starts(result) == []
    assert world.status.observed_generation == 2


def test_spec_change_while_running_waits_for_the_run() -> None:
    world = World(spec())
    world.step(T0)
    world.edit(mode=JobMode.FULL)
    assert starts(world.step(at(1))) == []
    world.finish(RunPhase.SUCCEEDED, at(2))
    assert [s.mode for s in starts(world.step(at(2)))] == [JobMode.FULL]


# --- retries ------------------------------------------------------------------------------------


def test_failed_attempt_is_retried_after_exponential_backoff() -> None:
    world = World(spec(retry={"maxAttempts": 3, "backoffSeconds": 60}))
    world.step(T0)
    world.fail_attempt(at(1))
    waiting = world.step(at(1))
    assert waiting.of_type(RetryRun) == [] and waiting.requeue_after == 60
    assert condition(world, ConditionType.RUNNING) == (ConditionStatus.TRUE, "RetryBackoff")
    (retry,) = world.step(at(2)).of_type(RetryRun)
    assert retry == RetryRun("run-1", 2, at(2))
    assert world.status.attempt == 2
    world.fail_attempt(at(3))
    assert world.step(at(3)).requeue_after == 120  # doubled
    assert world.step(at(4)).of_type(RetryRun) == []
    assert world.step(at(5)).of_type(RetryRun) == [RetryRun("run-1", 3, at(5))]


def test_run_fails_after_max_attempts_with_the_reason() -> None:
    world = World(spec(retry={"maxAttempts": 2, "backoffSeconds": 1}))
    world.step(T0)
    world.fail_attempt(at(1))
    world.step(at(2))
    world.fail_attempt(at(3), "HTTP 401 Unauthorized")
    result = world.step(at(3))
    (fail,) = result.of_type(FailRun)
    assert fail.run_id == "run-1" and fail.reason == "AttemptsExhausted"
    assert "attempt 2 of 2 failed: HTTP 401 Unauthorized" in fail.message
    assert world.status.phase == JobPhase.FAILED and world.status.finished_at == at(3)
    assert condition(world, ConditionType.FAILED) == (ConditionStatus.TRUE, "RunFailed")
    assert "401" in message(world, ConditionType.FAILED) and "401" in (world.status.message or "")
    assert condition(world, ConditionType.SUCCEEDED) == (ConditionStatus.FALSE, "RunFailed")
    assert world.step(at(4)).decisions == ()  # a failed job waits for the next trigger


def test_single_attempt_fails_immediately() -> None:
    world = World(spec(retry={"maxAttempts": 1}))
    world.step(T0)
    world.fail_attempt(at(1))
    assert len(world.step(at(1)).of_type(FailRun)) == 1


def test_a_new_trigger_after_failure_starts_a_fresh_run() -> None:
    world = World(spec(retry={"maxAttempts": 1}))
    world.step(T0)
    world.fail_attempt(at(1))
    world.step(at(1))
    world.edit(run_request="again")
    (start,) = starts(world.step(at(2)))
    assert start.run_id != "run-1" and world.status.attempt == 1


# --- suspend, resume, delete --------------------------------------------------------------------


def test_suspend_cancels_the_running_run_and_stops_scheduling() -> None:
    world = World(spec(schedule="*/30 * * * *"))
    world.step(T0)
    world.edit(suspend=True)
    result = world.step(at(1))
    assert result.of_type(CancelRun) == [CancelRun("run-1", "Suspended")]
    assert world.status.phase == JobPhase.SUSPENDED and world.status.next_schedule_time is None
    assert condition(world, ConditionType.RUNNING) == (ConditionStatus.FALSE, "Suspended")
    assert result.requeue_after is None
    assert starts(world.step(at(45))) == []  # a tick passes: nothing


def test_requests_while_suspended_run_on_resume() -> None:
    world = created()
    world.edit(suspend=True)
    world.step(at(2))
    world.edit(run_request="r1")
    assert starts(world.step(at(3))) == []
    world.edit(suspend=False)
    (start,) = starts(world.step(at(4)))
    assert start.trigger == RunTrigger.MANUAL


def test_resume_goes_back_to_scheduling() -> None:
    world = created(schedule="0 * * * *")
    world.edit(suspend=True)
    world.step(at(2))
    world.edit(suspend=False)
    assert starts(world.step(at(3))) == []
    assert world.status.next_schedule_time == at(60)
    assert world.status.phase == JobPhase.SUCCEEDED


def test_deleted_job_cancels_its_active_run_and_nothing_else() -> None:
    world = World(spec())
    world.step(T0)
    world.deleted = True
    result = world.step(at(1))
    assert result.decisions == (CancelRun("run-1", "Deleted"),)


def test_deleted_idle_job_needs_nothing() -> None:
    world = created()
    world.deleted = True
    assert world.step(at(2)).decisions == ()


# --- readiness ----------------------------------------------------------------------------------


def test_missing_integration_blocks_runs_and_requeues() -> None:
    world = World(spec())
    world.integration = None
    result = world.step(T0)
    assert starts(result) == [] and result.requeue_after == 30
    assert condition(world, ConditionType.READY) == (ConditionStatus.FALSE, "IntegrationNotFound")
    assert world.status.phase == JobPhase.PENDING
    world.integration = JIRA
    assert [s.trigger for s in starts(world.step(at(1)))] == [RunTrigger.CREATE]


def test_unready_integration_blocks_runs() -> None:
    world = World(spec())
    world.integration = replace(JIRA, ready=False, reason="AuthFailed", message="401")
    assert starts(world.step(T0)) == []
    status, reason = condition(world, ConditionType.READY)
    assert (status, reason) == (ConditionStatus.FALSE, "IntegrationNotReady")
    assert "AuthFailed" in message(world, ConditionType.READY)


def test_entities_must_match_the_integration_type() -> None:
    world = World(spec())
    world.integration = replace(JIRA, type=IntegrationType.GITHUB)
    assert starts(world.step(T0)) == []
    assert condition(world, ConditionType.READY) == (ConditionStatus.FALSE, "InvalidEntities")


def test_unready_integration_leaves_an_active_run_alone() -> None:
    world = World(spec())
    world.step(T0)
    world.integration = replace(JIRA, ready=False)
    assert world.step(at(1)).of_type(CancelRun) == []


# --- retransform --------------------------------------------------------------------------------


def test_retransform_token_re_transforms_from_the_latest_successful_run() -> None:
    world = created()
    world.edit(retransform="m2")
    result = world.step(at(2))
    (retransform,) = result.of_type(Retransform)
    assert (retransform.token, retransform.source_run_id) == ("m2", "run-1")
    assert starts(result) == []
    assert world.runs[-1].trigger == RunTrigger.RETRANSFORM
    world.finish(RunPhase.SUCCEEDED, at(3))
    assert world.step(at(3)).of_type(Retransform) == []


def test_retransform_does_not_count_as_a_spec_change() -> None:
    world = created()
    world.edit(retransform="m2")
    world.step(at(2))
    world.finish(RunPhase.SUCCEEDED, at(3))
    world.edit(mode=JobMode.FULL)
    assert [s.trigger for s in starts(world.step(at(4)))] == [RunTrigger.SPEC_CHANGE]


def test_retransform_waits_behind_an_extract_run() -> None:
    world = created()
    world.edit(run_request="r1", retransform="m2")
    result = world.step(at(2))
    assert [s.trigger for s in starts(result)] == [RunTrigger.MANUAL] and not result.of_type(Retransform)
    world.finish(RunPhase.SUCCEEDED, at(3))
    assert len(world.step(at(3)).of_type(Retransform)) == 1


def test_retransform_set_on_create_is_only_observed() -> None:
    world = World(spec(retransform="m1"))
    result = world.step(T0)
    assert not result.of_type(Retransform) and world.status.last_retransform == "m1"


# --- conditions and rate limits -----------------------------------------------------------------


def test_conditions_keep_transition_time_while_unchanged() -> None:
    world = World(spec())
    world.step(T0)
    ready = get_condition(world.status.conditions, "Ready")
    world.step(at(5))
    world.edit(workers=spec(workers={"load": {"maxReplicas": 2}}).workers)
    world.step(at(10))
    again = get_condition(world.status.conditions, "Ready")
    assert ready is not None and again is not None
    assert again.last_transition_time == T0 and again.observed_generation == 2


def test_rate_limited_condition_follows_the_active_run() -> None:
    world = World(spec())
    world.step(T0)
    world.update("run-1", phase=RunPhase.RUNNING, rate_limited_until=at(10))
    world.step(at(1))
    assert condition(world, ConditionType.RATE_LIMITED) == (ConditionStatus.TRUE, "RateLimited")
    world.step(at(11))
    assert condition(world, ConditionType.RATE_LIMITED) == (ConditionStatus.FALSE, "NotRateLimited")


def test_update_status_patch_holds_only_changed_fields() -> None:
    world = created()
    world.edit(workers=spec(workers={"load": {"maxReplicas": 2}}).workers)
    (update,) = world.step(at(2)).of_type(UpdateStatus)
    assert set(update.patch) == {"observedGeneration", "conditions"}


def test_conditions_set_by_others_are_preserved() -> None:
    world = created()
    fallback = set_condition(world.status.conditions, "Fallback", True, "QueueUnreadable", "", at(1))
    world.status = world.status.model_copy(update={"conditions": fallback})
    world.edit(run_request="r1")
    world.step(at(2))
    assert condition(world, ConditionType.FALLBACK) == (ConditionStatus.TRUE, "QueueUnreadable")
