"""Crash resume (SIGKILL, SIGTERM) of the real `quarry extract` process, and the request budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from quarry_extractor.runner import EXIT_OK, EXIT_RETRY, EXIT_TERMINATED, Extraction
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.extractor.conftest import (
    JIRA_CREDS,
    SECRET_KEY,
    MakeRun,
    MakeSettings,
    bulk_history_ids,
    issue_keys,
    jira_spec,
    raw_pages,
    run_row,
)

JiraFactory = Callable[..., JiraServer]


def start_extract(
    database_url: str, queue_prefix: str, run_id: int, **extra: str
) -> subprocess.Popen[bytes]:
    """The extract process; on the PostgreSQL queue unless `extra` names an AMQP_URL."""
    env = {k: v for k, v in os.environ.items() if k != "AMQP_URL"}
    env.update(
        DATABASE_URL=database_url,
        QUARRY_SECRET_KEY=SECRET_KEY,
        QUARRY_QUEUE_PREFIX=queue_prefix,
        QUARRY_JIRA_PAGE_SIZE="10",
        QUARRY_LOG_LEVEL="WARNING",
        **extra,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "quarry_cli.main", "extract", "--run-id", str(run_id)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for_pages(engine: Engine, run_id: int, n: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            got = conn.execute(
                text("select count(*) from raw_extraction_data where run_id = :r and entity = 'issues'"),
                {"r": run_id},
            ).scalar_one()
        if got >= n:
            return
        assert proc.poll() is None, proc.communicate()[0].decode()
        time.sleep(0.02)
    raise AssertionError("the extract process stored too few pages")


def slow(server: JiraServer, seconds: float) -> None:
    """Make every response of the imitation take a little while (a run long enough to kill)."""
    dispatch = server.dispatch

    def delayed(req):  # type: ignore[no-untyped-def]
        time.sleep(seconds)
        return dispatch(req)

    server.dispatch = delayed  # type: ignore[method-assign]


def assert_every_issue_once(engine: Engine, run_id: int, ds: JiraDataset) -> None:
    pages = raw_pages(engine, run_id, "issues")
    keys = issue_keys(pages)
    assert sorted(keys) == sorted(ds.issue_keys())  # no duplicate page, no gap
    seqs: dict[str, list[int]] = {}
    for p in pages:
        seqs.setdefault(p.stream, []).append(p.page_seq)
    for stream, numbers in seqs.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), stream


@pytest.mark.parametrize("partitions", [1, 4])
def test_sigkill_mid_run_then_resume_has_no_duplicate_and_no_gap(
    engine: Engine,
    database_url: str,
    queue_prefix: str,
    make_run: MakeRun,
    make_settings: MakeSettings,
    jira_factory: JiraFactory,
    partitions: int,
) -> None:
    # With partitions, the full walk is split into `created` ranges, each its own token walk in
    # the checkpoint: the kill lands while several are under way.
    ds = JiraDataset.synthetic(400, projects=1, seed=21)
    server = jira_factory(ds)
    slow(server, 0.01)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    proc = start_extract(database_url, queue_prefix, run_id, QUARRY_JIRA_PARTITIONS=str(partitions))
    wait_for_pages(engine, run_id, 8, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    killed_at = len(raw_pages(engine, run_id, "issues"))
    assert killed_at < 40  # really mid-run
    walks = [w for w in run_row(engine, run_id).checkpoint["work"] if w["stream"] == "issues"]
    ranged = [w for w in walks if "created" in w["request"]["params"]["jql"]]
    if partitions == 1:
        assert len(walks) == 1 and not ranged
    else:
        assert len(ranged) == len(walks) >= 2
    settings = make_settings(jira_page_size=10, jira_partitions=partitions)
    assert Extraction(settings, run_id).run() == EXIT_OK
    assert_every_issue_once(engine, run_id, ds)
    assert run_row(engine, run_id).extract_finished_at is not None


def test_sigterm_finishes_the_page_checkpoints_and_exits_143(
    engine: Engine,
    database_url: str,
    queue_prefix: str,
    make_run: MakeRun,
    make_settings: MakeSettings,
    jira_factory: JiraFactory,
) -> None:
    ds = JiraDataset.synthetic(400, projects=1, seed=22)
    server = jira_factory(ds)
    slow(server, 0.01)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    proc = start_extract(database_url, queue_prefix, run_id)
    wait_for_pages(engine, run_id, 5, proc)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == EXIT_TERMINATED, out
    row = run_row(engine, run_id)
    assert row.phase == "Running" and row.extract_finished_at is None and row.checkpoint["work"]
    assert Extraction(make_settings(jira_page_size=10), run_id).run() == EXIT_OK
    assert_every_issue_once(engine, run_id, ds)


def requests_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_budget_is_never_exceeded_even_by_two_processes(
    engine: Engine, make_run: MakeRun, database_url: str, queue_prefix: str, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(120, projects=1, seed=23)
    server = jira_factory(ds)
    # 12 requests per 1.5 s window: the same arithmetic as requests per hour, shortened.
    spec = jira_spec(server, [ds.projects[0].key], budget={"requestsPerHour": 12})
    run_a = make_run(spec, JIRA_CREDS, entities=["issues"])
    run_b = make_run(spec, JIRA_CREDS, entities=["issues"])
    procs = [
        start_extract(database_url, queue_prefix, r, QUARRY_BUDGET_WINDOW_SECONDS="1.5")
        for r in (run_a, run_b)
    ]
    try:
        outputs = [p.communicate(timeout=90)[0].decode() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [EXIT_OK, EXIT_OK], outputs
    assert len({p.pid for p in procs}) == 2
    times = [r.at for r in server.counters.log]
    assert len(times) > 24  # the two runs needed more than two windows' worth
    assert requests_in_any_window(times, 1.5) <= 12
    for run_id in (run_a, run_b):
        assert sorted(issue_keys(raw_pages(engine, run_id, "issues"))) == sorted(ds.issue_keys())


def test_budget_wait_longer_than_allowed_ends_the_attempt_and_says_until_when(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    server = jira_factory()
    spec = jira_spec(server, ["ENG"], budget={"requestsPerHour": 5})
    run_id = make_run(spec, JIRA_CREDS, entities=["projects", "issues"])
    assert Extraction(make_settings(max_wait_seconds=5), run_id).run() == EXIT_RETRY
    row = run_row(engine, run_id)
    assert server.counters.total() == 5
    assert row.phase == "Running"
    assert row.waiting_reason is not None and "budget" in row.waiting_reason
    assert row.waiting_until is not None and row.waiting_until.timestamp() > time.time() + 3000
    assert row.error is not None and "budget" in row.error


def test_sigkill_while_changelogs_are_batched_then_resume_completes_every_history_once(
    engine: Engine,
    database_url: str,
    queue_prefix: str,
    make_run: MakeRun,
    make_settings: MakeSettings,
    jira_factory: JiraFactory,
) -> None:
    # The ids waiting for one bulkfetch are part of the checkpoint: killed between search pages,
    # the resumed run still completes the changelogs of the issues stored before the kill.
    ds = JiraDataset.synthetic(400, projects=1, seed=22, long_changelog_rate=0.1)
    server = jira_factory(ds)
    slow(server, 0.01)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    proc = start_extract(database_url, queue_prefix, run_id)
    wait_for_pages(engine, run_id, 12, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert len(raw_pages(engine, run_id, "issues")) < 40  # really mid-run
    assert not raw_pages(engine, run_id, "issue_changelogs")  # still batched when killed
    assert Extraction(make_settings(jira_page_size=10), run_id).run() == EXIT_OK
    assert_every_issue_once(engine, run_id, ds)
    pages = raw_pages(engine, run_id, "issue_changelogs")
    histories = bulk_history_ids(pages)
    assert len(histories) == len(set(histories))
    truncated = [rec for rec in ds.live_issues() if ds.changelog_total(rec) > 40]
    got = {log["issueId"] for p in pages for log in p.response["issueChangeLogs"]}
    assert got == {str(rec.id) for rec in truncated}
