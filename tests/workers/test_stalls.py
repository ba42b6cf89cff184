"""Runs that never finish: messages dead-lettered outside the consumer hook still reach their run."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from quarry_core.db.engine import session_scope
from quarry_core.queue.base import QueueBackend
from quarry_core.stalls import Progress, fail_stalled_runs, stall_reason
from quarry_core.states import Stage
from tests.workers.conftest import Platform
from tests.workers.fixtures import items

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIMIT = timedelta(minutes=15)


def _progress(**kw: object) -> Progress:
    base: dict[str, object] = {
        "run_id": 1,
        "extract_finished_at": T0,
        "last_moved": None,
        "untransformed": 3,
        "unloaded": 0,
        "dead_letters": 0,
    }
    return Progress(**{**base, **kw})  # type: ignore[arg-type]


def test_stall_reason_waits_for_the_limit_from_the_last_movement() -> None:
    assert stall_reason(_progress(), T0 + LIMIT - timedelta(seconds=1), LIMIT) is None
    assert stall_reason(_progress(last_moved=T0 + LIMIT), T0 + LIMIT * 1.5, LIMIT) is None
    reason = stall_reason(_progress(unloaded=2), T0 + LIMIT, LIMIT)
    assert reason is not None and "3 raw page(s) not transformed, 2 load batch(es) not loaded" in reason


def test_stall_reason_leaves_complete_runs_to_completion_and_fails_dead_letters_at_once() -> None:
    assert stall_reason(_progress(untransformed=0), T0 + LIMIT * 10, LIMIT) is None
    reason = stall_reason(
        _progress(dead_letters=1, first_dead_error="delivery limit exceeded (2)"), T0, LIMIT
    )
    assert reason is not None and "delivery limit exceeded" in reason


def test_a_page_the_queue_dead_letters_fails_its_run(
    platform: Platform, open_queue: Callable[[], QueueBackend], backend: str
) -> None:
    issues = items("jira/_raw_jira_api_issues.csv")[:2]
    run_id = platform.start_run()
    platform.add_page(run_id, "issues", {"issues": issues})
    platform.finish_extract(run_id)
    # Consumers keep dying on the page (never ack): the queue itself dead-letters it, and no
    # consumer hook tells the run.
    for _ in range(2):
        crashing = open_queue()
        deadline = time.monotonic() + 10
        got = []
        while not got and time.monotonic() < deadline:
            got = crashing.receive(Stage.TRANSFORM, 1, timeout=0.5)
        assert len(got) == 1
        crashing.close()
        if backend == "pg":
            time.sleep(2.1)  # the visibility timeout
    platform.drain()
    assert platform.run(run_id).phase == "Running"  # before: it stayed so forever
    sweeper = platform.worker_factory  # connected as the platform's processes are (RLS-bound)
    assert sweeper is not None
    with session_scope(sweeper) as s:
        failed = fail_stalled_runs(s, datetime.now(UTC), timedelta(seconds=60))
    run = platform.run(run_id)
    if backend == "pg":
        # The PostgreSQL queue keeps the dead letter's run: the run fails at once, naming it.
        assert run_id in failed  # (the sweep spans the shared test database's tenants)
        assert run.phase == "Failed" and "delivery limit exceeded" in (run.error or "")
    else:
        assert run_id not in failed and run.phase == "Running"  # within the limit: it may still move
        time.sleep(1.1)
        with session_scope(sweeper) as s:
            failed = fail_stalled_runs(s, datetime.now(UTC), timedelta(seconds=1))
        assert run_id in failed
        run = platform.run(run_id)
        assert run.phase == "Failed" and "1 raw page(s) not transformed" in (run.error or "")
