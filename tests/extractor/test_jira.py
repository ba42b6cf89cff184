"""Jira extraction against the imitation server: full, incremental, changelogs, timezone, faults."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from quarry_core import completion, runs
from quarry_core.db.models import EtlRun
from quarry_core.states import RunPhase
from quarry_extractor import http, runner
from quarry_extractor.jira import AUTO_PARTITIONS
from quarry_extractor.runner import EXIT_FATAL, EXIT_OK, Extraction
from quarry_sandbox.faults import FaultConfig
from quarry_sandbox.http import Request, Response
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.extractor.conftest import (
    JIRA_CREDS,
    MakeRun,
    MakeSettings,
    bulk_history_ids,
    changelog_ids,
    commit_cursors,
    issue_keys,
    jira_spec,
    raw_pages,
    run_row,
)

ENTITIES = ["projects", "issue_types", "statuses", "fields", "boards", "sprints", "issues"]
JiraFactory = Callable[..., JiraServer]


def test_full_then_incremental_fetches_only_what_changed(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    # Far west of UTC: a bare JQL datetime written in UTC would miss the last hours of changes.
    ds = JiraDataset.synthetic(
        400, projects=2, seed=3, user_timezone="Pacific/Honolulu", long_changelog_rate=0.05
    )
    server = jira_factory(ds)
    projects = [p.key for p in ds.projects]
    spec = jira_spec(server, projects)
    settings = make_settings()

    run1 = make_run(spec, JIRA_CREDS, entities=ENTITIES, mode="full")
    assert Extraction(settings, run1).run() == EXIT_OK
    pages = raw_pages(engine, run1)
    keys = issue_keys([p for p in pages if p.entity == "issues"])
    assert sorted(keys) == sorted(ds.issue_keys())  # every issue once
    # Every changelog is complete, truncated embedded ones included.
    logs = changelog_ids(pages)
    for rec in ds.live_issues():
        assert logs.get(str(rec.id), set()) == {h["id"] for h in ds.changelog(rec)}, rec.key
    assert any(p.entity == "issue_changelogs" for p in pages)
    assert {p.entity for p in pages} >= {"projects", "issue_types", "statuses", "fields", "boards", "sprints"}
    assert len({(p.stream, p.page_seq) for p in pages}) == len(pages)
    row = run_row(engine, run1)
    assert row.phase == "Running" and row.extract_finished_at is not None
    assert row.waiting_reason is None
    for p in projects:
        assert row.candidate_cursors[f"jira:{p}"]["issues"]["updatedMs"] > 0
    with Session(engine) as s:
        counts = runs.counts(s, run1)
    assert counts["issues"]["extracted"] == len(ds.issue_keys())
    # A walk of every issue is the deletion sweep too: no id-only pages, the sweep cursor is set.
    assert "issue_ids" not in counts
    for p in projects:
        assert row.candidate_cursors[f"jira:{p}"]["issue_sweep"]["sweptAtMs"] > 0

    commit_cursors(engine, run1)
    with Session(engine) as s:
        runs.set_phase(s, run1, RunPhase.SUCCEEDED)
        s.commit()
    changed = ds.transition_some(5, seed=9)
    created = ds.create_issue(projects[0])
    server.counters.reset()

    run2 = make_run(spec, JIRA_CREDS, entities=ENTITIES, mode="incremental")
    assert Extraction(settings, run2).run() == EXIT_OK
    keys2 = issue_keys(raw_pages(engine, run2, "issues"))
    assert set(changed) | {created} <= set(keys2)
    assert len(keys2) == len(set(keys2))
    assert len(keys2) <= len(changed) + 1 + 5  # only what changed (plus the overlap window)
    assert not raw_pages(engine, run2, "issue_ids")  # swept recently
    # Issue types, statuses and fields were fetched less than a day ago: not asked for again.
    for path in ("/rest/api/3/issuetype", "/rest/api/3/status", "/rest/api/3/field"):
        assert server.counters.by_path[path] == 0, path
    assert server.counters.total() <= 1 + 3 * len(projects) + server.counters.by_path[SEARCH] + 1

    commit_cursors(engine, run2)
    server.counters.reset()
    run3 = make_run(spec, JIRA_CREDS, entities=ENTITIES, mode="incremental")
    assert Extraction(make_settings(jira_metadata_hours=0), run3).run() == EXIT_OK
    for path in ("/rest/api/3/issuetype", "/rest/api/3/status", "/rest/api/3/field"):
        assert server.counters.by_path[path] == 1, path  # refreshed when older than allowed


def test_bad_credentials_fail_fast_with_a_clear_reason(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    server = jira_factory()
    run_id = make_run(
        jira_spec(server, ["ENG"]), {"email": "bot@quarry.dev", "token": "wrong"}, entities=ENTITIES
    )
    assert Extraction(make_settings(), run_id).run() == EXIT_FATAL
    row = run_row(engine, run_id)
    assert row.phase == "Failed"
    assert row.error is not None and "rejected the credentials" in row.error and "401" in row.error
    assert server.counters.total() == 1  # no retry at all
    assert "wrong" not in row.error


def test_unknown_project_fails_the_run(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    server = jira_factory()
    run_id = make_run(jira_spec(server, ["NOPE"]), JIRA_CREDS, entities=ENTITIES)
    assert Extraction(make_settings(), run_id).run() == EXIT_FATAL
    row = run_row(engine, run_id)
    assert row.phase == "Failed" and row.error is not None and "NOPE" in row.error


def test_bearer_auth_and_per_issue_changelogs(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(150, projects=1, seed=5, long_changelog_rate=0.1)
    server = jira_factory(ds)
    run_id = make_run(
        {**jira_spec(server, [ds.projects[0].key]), "auth": "bearer"},
        {"token": "jira-oauth-token"},
        entities=["issues"],
    )
    assert Extraction(make_settings(jira_changelog_api="issue"), run_id).run() == EXIT_OK
    pages = raw_pages(engine, run_id)
    logs = changelog_ids(pages)
    for rec in ds.live_issues():
        assert logs.get(str(rec.id), set()) == {h["id"] for h in ds.changelog(rec)}, rec.key
    per_issue = [p for p in pages if p.entity == "issue_changelogs"]
    assert per_issue and all(p.params["_issue_key"] and p.params["_project"] for p in per_issue)
    # The transformer keys transitions by issue id: every per-issue page names it, later pages too.
    by_key = {rec.key: str(rec.id) for rec in ds.live_issues()}
    assert all(p.params["_issue_id"] == by_key[p.params["_issue_key"]] for p in per_issue)
    assert any(p.params.get("startAt", 0) > 0 for p in per_issue)


def test_bulk_changelog_entries_carry_their_issue_id(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(150, projects=1, seed=6, long_changelog_rate=0.1)
    server = jira_factory(ds)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    assert Extraction(make_settings(), run_id).run() == EXIT_OK
    bulk = raw_pages(engine, run_id, "issue_changelogs")
    ids = {str(rec.id) for rec in ds.live_issues()}
    assert bulk and all(log["issueId"] in ids for p in bulk for log in p.response["issueChangeLogs"])


def test_a_page_with_nul_characters_is_stored_without_them(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(20, projects=1, seed=8)
    project = ds.projects[0].key
    # A NUL (the server sends it as the escape \u0000) next to the literal text "\u0000" (an
    # escaped backslash), which is no NUL and must survive.
    key = ds.create_issue(project, summary="bad\x00byte and C:\\u0000dir")
    server = jira_factory(ds)
    run_id = make_run(jira_spec(server, [project]), JIRA_CREDS, entities=["issues"])
    assert Extraction(make_settings(), run_id).run() == EXIT_OK
    issues = [i for p in raw_pages(engine, run_id, "issues") for i in p.response["issues"]]
    stored = next(i for i in issues if i["key"] == key)
    assert stored["fields"]["summary"] == "badbyte and C:\\u0000dir"
    assert sorted(issue_keys(raw_pages(engine, run_id, "issues"))) == sorted(ds.issue_keys())


def test_storm_of_429_and_503_still_stores_every_issue_once(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(500, projects=1, seed=7)
    # Every 429 demands a real second; a retry sooner earns another 429 and counts as early_retry.
    faults = FaultConfig(seed=11, rate_429=0.1, rate_503=0.1, retry_after=1, retry_after_503=1)
    server = jira_factory(ds, faults=faults)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    started = time.monotonic()
    # One request at a time: with several in flight, those sent before a 429 arrived reach the
    # server inside its wait, and the imitation cannot tell them from early retries.
    settings = make_settings(jira_page_size=20, prefetch=False)
    assert Extraction(settings, run_id).run() == EXIT_OK
    elapsed = time.monotonic() - started
    keys = issue_keys(raw_pages(engine, run_id, "issues"))
    assert sorted(keys) == sorted(ds.issue_keys())
    limited = server.counters.by_status[429]
    assert limited > 0 and server.counters.by_status[503] > 0
    assert server.counters.events["early_retry"] == 0  # never retried before Retry-After
    assert elapsed >= limited * 0.9  # each 429 cost its second (sequential requests)


def test_retrying_before_retry_after_is_caught_by_the_imitation(
    make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: a client that ignores Retry-After is seen retrying early."""
    ds = JiraDataset.synthetic(100, projects=1, seed=7)
    server = jira_factory(ds, faults=FaultConfig(seed=11, rate_429=0.2, retry_after=1))
    monkeypatch.setattr(http, "parse_retry_after", lambda value, now: 0.0 if value else None)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    Extraction(make_settings(jira_page_size=50, prefetch=False), run_id).run()
    assert server.counters.events["early_retry"] > 0


@pytest.mark.parametrize("phase", ["Cancelled"])
def test_cancelled_run_stops_at_the_next_page(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory, phase: str
) -> None:
    server = jira_factory()
    run_id = make_run(jira_spec(server, ["ENG"]), JIRA_CREDS, entities=ENTITIES)
    with Session(engine) as s:
        run = s.get(EtlRun, run_id)
        assert run is not None
        run.phase = phase
        s.commit()
    assert Extraction(make_settings(), run_id).run() == EXIT_OK
    assert raw_pages(engine, run_id) == []


def test_run_completes_when_the_workers_finished_before_the_extraction(
    engine: Engine,
    make_run: MakeRun,
    make_settings: MakeSettings,
    jira_factory: JiraFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ds = JiraDataset.synthetic(60, projects=1, seed=4)
    server = jira_factory(ds)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    real = completion.complete_if_done

    def workers_were_faster(session: Session, rid: int) -> bool:
        # Every page already transformed (and nothing left to load) when extraction ends.
        session.execute(
            text("update raw_extraction_data set transformed_at = now() where run_id = :r"), {"r": rid}
        )
        assert session.scalar(select(EtlRun.extract_finished_at).where(EtlRun.id == rid)) is not None
        return real(session, rid)

    monkeypatch.setattr(runner, "complete_if_done", workers_were_faster)
    assert Extraction(make_settings(), run_id).run() == EXIT_OK
    row = run_row(engine, run_id)
    assert row.phase == "Succeeded" and row.finished_at is not None


BULKFETCH = "/rest/api/3/changelog/bulkfetch"
SEARCH = "/rest/api/3/search/jql"


def test_truncated_changelogs_of_many_search_pages_share_one_bulkfetch(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    # 6 search pages with about 60 truncated changelogs between them: one bulkfetch (up to 1000
    # ids; pages of up to 10 000 histories asked for here) completes them all, not one per page.
    ds = JiraDataset.synthetic(600, projects=1, seed=12, long_changelog_rate=0.1)
    server = jira_factory(ds)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"], mode="full")
    assert Extraction(make_settings(jira_changelog_page_size=10_000), run_id).run() == EXIT_OK
    truncated = [rec for rec in ds.live_issues() if ds.changelog_total(rec) > 40]
    assert len(truncated) > 20
    assert server.counters.by_path[SEARCH] >= 6
    assert server.counters.by_path[BULKFETCH] == 1
    logs = changelog_ids(raw_pages(engine, run_id))
    for rec in ds.live_issues():
        assert logs.get(str(rec.id), set()) == {h["id"] for h in ds.changelog(rec)}, rec.key


def test_a_bulkfetch_batch_holds_at_most_1000_ids_and_pages_by_token(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(300, projects=1, seed=13, long_changelog_rate=0.2)
    server = jira_factory(ds)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"], mode="full")
    # Small bulk pages: the batch's histories span several token pages; every history once.
    assert Extraction(make_settings(jira_changelog_page_size=500), run_id).run() == EXIT_OK
    pages = raw_pages(engine, run_id, "issue_changelogs")
    histories = bulk_history_ids(pages)
    assert len(histories) == len(set(histories))
    assert len(pages) == server.counters.by_path[BULKFETCH] > 1
    assert all(len(p.params["issueIdOrKeys"]) <= 1000 for p in pages)
    logs = changelog_ids(raw_pages(engine, run_id))
    for rec in ds.live_issues():
        assert logs.get(str(rec.id), set()) == {h["id"] for h in ds.changelog(rec)}, rec.key


def test_the_search_walks_of_several_projects_proceed_side_by_side(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    # Each project's walk is sequential (tokens), but the walks are independent: with requests in
    # flight together, the runner takes whichever page came first instead of finishing one project
    # before the next one's second page is even asked for. (One walk per project here: split into
    # `created` ranges, the first project's ranges alone would fill the window.)
    ds = JiraDataset.synthetic(400, projects=2, seed=14)
    server = jira_factory(ds)
    projects = [p.key for p in ds.projects]
    run_id = make_run(jira_spec(server, projects), JIRA_CREDS, entities=["issues"], mode="full")
    assert Extraction(make_settings(jira_page_size=20, jira_partitions=1), run_id).run() == EXIT_OK
    walk = [
        next(p for p in projects if f"%22{p}%22" in r.query or f'"{p}"' in r.query)
        for r in server.counters.log
        if r.path == SEARCH
    ]
    assert len(walk) >= 20
    switches = sum(1 for a, b in itertools.pairwise(walk) if a != b)
    assert switches >= 5, walk
    assert sorted(issue_keys(raw_pages(engine, run_id, "issues"))) == sorted(ds.issue_keys())


def test_a_full_walk_is_split_into_created_ranges_for_few_more_requests(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(600, projects=1, seed=15)
    server = jira_factory(ds)
    spec = jira_spec(server, [ds.projects[0].key])
    searches: dict[int, int] = {}
    for partitions in (1, 4):
        server.counters.reset()
        run_id = make_run(spec, JIRA_CREDS, entities=["issues"], mode="full")
        settings = make_settings(jira_page_size=20, jira_partitions=partitions)
        assert Extraction(settings, run_id).run() == EXIT_OK
        pages = raw_pages(engine, run_id, "issues")
        assert sorted(issue_keys(pages)) == sorted(ds.issue_keys())  # no overlap, no gap
        assert all("_all" in p.params for p in pages)  # together they are the deletion sweep
        ranges = {p.params["jql"] for p in pages if p.params.get("nextPageToken") is None}
        assert len(ranges) == partitions
        searches[partitions] = server.counters.by_path[SEARCH]
    # The probe, and at most one short page more per range.
    assert searches[4] <= searches[1] + 1 + 3


def test_a_remote_site_has_its_full_walks_split_without_being_told(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    # Automatic partitions (the default): the fields request's round trip decides. The imitation
    # answers it 150 ms late, as a remote site answers everything.
    ds = JiraDataset.synthetic(300, projects=1, seed=16)
    server = jira_factory(ds)
    answer = server.dispatch

    def far(req: Request) -> Response:
        if req.path.endswith("/field"):
            time.sleep(0.15)
        return answer(req)

    spec = jira_spec(server, [ds.projects[0].key])
    for delay, walks in ((False, 1), (True, AUTO_PARTITIONS)):
        server.dispatch = far if delay else answer  # type: ignore[method-assign]
        run_id = make_run(spec, JIRA_CREDS, entities=["issues"], mode="full")
        assert Extraction(make_settings(jira_page_size=20), run_id).run() == EXIT_OK
        pages = raw_pages(engine, run_id, "issues")
        assert sorted(issue_keys(pages)) == sorted(ds.issue_keys())
        assert len({p.params["jql"] for p in pages if p.params.get("nextPageToken") is None}) == walks


def test_near_the_rate_limit_requests_go_one_at_a_time(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    # Every response says X-RateLimit-NearLimit: true (the quota is far below its fraction), so the
    # walks of the two projects do not run side by side: never two search requests in flight.
    ds = JiraDataset.synthetic(200, projects=2, seed=15)
    server = jira_factory(ds, faults=FaultConfig(quota=100_000))
    server.config.near_limit_fraction = 2.0
    in_flight, most = 0, 0
    dispatch = server.dispatch

    def counting(req):  # type: ignore[no-untyped-def]
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            time.sleep(0.01)
            return dispatch(req)
        finally:
            in_flight -= 1

    server.dispatch = counting  # type: ignore[method-assign]
    run_id = make_run(jira_spec(server, [p.key for p in ds.projects]), JIRA_CREDS, entities=["issues"])
    assert Extraction(make_settings(jira_page_size=20), run_id).run() == EXIT_OK
    assert most == 1
    assert sorted(issue_keys(raw_pages(engine, run_id, "issues"))) == sorted(ds.issue_keys())


def sprint_requests(server: JiraServer) -> int:
    return sum(n for path, n in server.counters.by_path.items() if path.endswith("/sprint"))


def test_an_incremental_run_reads_open_sprints_and_those_closed_since_not_every_sprint(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: JiraFactory
) -> None:
    # 120 sprints a board (118 closed, one active, one future): three pages of 50 each time, before.
    ds = JiraDataset.synthetic(60, projects=2, seed=5, sprints_per_board=120)
    server = jira_factory(ds)
    spec = jira_spec(server, [p.key for p in ds.projects])
    boards = {sp.board_id for sp in ds.sprints}
    open_ids = {str(sp.id) for sp in ds.sprints if sp.state != "closed"}
    entities = ["projects", "boards", "sprints"]

    run1 = make_run(spec, JIRA_CREDS, entities=entities, mode="incremental")  # no cursor: every sprint
    assert Extraction(make_settings(), run1).run() == EXIT_OK
    assert sprint_requests(server) == 3 * len(boards)
    assert len(sprint_ids(server)) == len(ds.sprints)
    commit_cursors(engine, run1)

    server.counters.reset()
    run2 = make_run(spec, JIRA_CREDS, entities=entities, mode="incremental")
    assert Extraction(make_settings(), run2).run() == EXIT_OK
    assert sprint_requests(server) == len(boards)  # one page a board, from the first open sprint
    assert open_ids <= sprint_ids(server) and len(sprint_ids(server)) == len(boards) * (2 + 5)
    commit_cursors(engine, run2)

    server.counters.reset()  # once a day the walk starts from the first sprint again
    run3 = make_run(spec, JIRA_CREDS, entities=entities, mode="incremental")
    assert Extraction(make_settings(jira_metadata_hours=0), run3).run() == EXIT_OK
    assert sprint_requests(server) == 3 * len(boards)


def sprint_ids(server: JiraServer) -> set[str]:
    return {k for page in server.counters.pages if page.path.endswith("/sprint") for k in page.keys}


def test_the_sprint_cursor_stops_at_the_first_sprint_not_closed() -> None:
    from quarry_extractor.jira import SPRINT_OVERLAP, closed_before, sprint_walk_start

    first = closed_before(None, 0, ["closed"] * 50, full_at_ms=7)
    assert first == {"closedBefore": 50, "open": False, "fullAtMs": 7}
    second = closed_before(first, 50, ["closed", "active", "closed", "future"], full_at_ms=7)
    assert second["closedBefore"] == 51 and second["open"]
    assert closed_before(second, 100, ["closed"] * 3, full_at_ms=7) == second  # a later page: no change
    day = 86_400_000
    assert sprint_walk_start(second, "incremental", 7 + day - 1, day) == (51 - SPRINT_OVERLAP, 7)
    assert sprint_walk_start(second, "incremental", 7 + day, day) == (0, 7 + day)  # daily from the start
    assert sprint_walk_start(second, "full", 8, day) == (0, 8)
    assert sprint_walk_start(None, "incremental", 8, day) == (0, 8)
