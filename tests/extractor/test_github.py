"""GitHub extraction: GraphQL PRs with REST overflow pages, commits with ETags, limits, publishing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from quarry_core.messages import TransformMessage, decode
from quarry_core.queue.factory import open_queue
from quarry_core.states import Stage
from quarry_extractor.runner import EXIT_FATAL, EXIT_OK, Extraction
from quarry_sandbox.faults import FaultConfig
from quarry_sandbox.github_data import GithubDataset
from quarry_sandbox.github_server import GithubServer
from tests.extractor.conftest import MakeRun, MakeSettings, commit_cursors, raw_pages, run_row

GH_CREDS = {"token": "gh-token"}
ENTITIES = ["repositories", "pull_requests", "commits"]


@pytest.fixture
def github() -> Iterator[GithubServer]:
    ds = GithubDataset.synthetic(repos=3, pulls=130, seed=4, big_pr_commits=180, empty_repos=1)
    server = GithubServer(ds).start()
    yield server
    server.stop()


def spec(server: GithubServer, **scope: Any) -> dict[str, Any]:
    return {
        "type": "github",
        "baseUrl": server.base_url,
        "credentials": {"secretRef": {"name": "gh-creds"}},
        "scope": scope or {"org": server.dataset.org},
    }


def pr_keys(engine: Engine, run_id: int) -> list[str]:
    return [
        f"{p.params['_repo']}#{n['number']}"
        for p in raw_pages(engine, run_id, "pull_requests")
        for n in p.response["data"]["repository"]["pullRequests"]["nodes"]
    ]


def test_full_then_incremental_with_etags(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, github: GithubServer
) -> None:
    ds = github.dataset
    settings = make_settings()
    run1 = make_run(spec(github), GH_CREDS, entities=ENTITIES)
    assert Extraction(settings, run1).run() == EXIT_OK
    assert sorted(pr_keys(engine, run1)) == sorted(ds.pull_keys())
    commits = {c["sha"] for p in raw_pages(engine, run1, "commits") for c in p.response}
    assert len(commits) == ds.truth()["commits"]
    # The PR with 180 commits: the first 100 came nested, the rest from REST pages.
    overflow = raw_pages(engine, run1, "pull_request_commits")
    assert overflow and {p.params["_pr_number"] for p in overflow} and overflow[0].params["_repo"]
    assert sum(len(p.response) for p in overflow) == 180
    row = run_row(engine, run1)
    assert all(k.startswith("github:") for k in row.candidate_cursors)

    commit_cursors(engine, run1)
    repo = ds.repos[0].full_name
    number = ds.add_pull(repo)
    github.counters.reset()
    run2 = make_run(spec(github), GH_CREDS, entities=ENTITIES, mode="incremental")
    assert Extraction(settings, run2).run() == EXIT_OK
    assert f"{repo}#{number}" in pr_keys(engine, run2)
    # One page per repository, stopped at the bookmark: not the 130 PRs again.
    assert len(raw_pages(engine, run2, "pull_requests")) == len(ds.repos)
    assert len(pr_keys(engine, run2)) < 3 * 50

    # A re-sync: the repository whose commits did not move answers 304 to the stored ETag.
    commit_cursors(engine, run2)
    github.counters.reset()
    run3 = make_run(spec(github), GH_CREDS, entities=ENTITIES, mode="incremental")
    assert Extraction(settings, run3).run() == EXIT_OK
    unchanged = [r.full_name for r in ds.repos if r.commits and r.full_name != repo]
    assert github.counters.events["not_modified"] == len(unchanged) >= 1
    assert not {p.params["_repo"] for p in raw_pages(engine, run3, "commits")} & set(unchanged)


def test_secondary_and_primary_limits_and_5xx_are_survived(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings
) -> None:
    ds = GithubDataset.synthetic(repos=2, pulls=200, seed=8, direct_commits_per_repo=300)
    faults = FaultConfig(seed=3, rate_429=0.05, rate_secondary=0.1, rate_503=0.05, retry_after=1)
    with GithubServer(ds, faults=faults) as server:
        run_id = make_run(spec(server), GH_CREDS, entities=ENTITIES)
        settings = make_settings(github_pr_page_size=20)
        assert Extraction(settings, run_id).run() == EXIT_OK
        assert sorted(pr_keys(engine, run_id)) == sorted(ds.pull_keys())
        shas = [c["sha"] for p in raw_pages(engine, run_id, "commits") for c in p.response]
        assert len(shas) == len(set(shas)) == ds.truth()["commits"]
        # No request is sent during a limit's wait; only requests already in flight on the other
        # fetch threads when the limit came back can arrive early, and they cannot be recalled.
        limited = server.counters.by_status[403] + server.counters.by_status[429]
        assert server.counters.events["early_retry"] <= (settings.fetch_concurrency - 1) * limited


def test_bad_token_fails_fast(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, github: GithubServer
) -> None:
    run_id = make_run(spec(github), {"token": "nope"}, entities=ENTITIES)
    assert Extraction(make_settings(), run_id).run() == EXIT_FATAL
    row = run_row(engine, run_id)
    assert row.phase == "Failed" and row.error is not None and "Bad credentials" in row.error
    assert github.counters.total() == 1


@pytest.mark.parametrize("backend", ["postgresql", "rabbitmq"])
def test_one_transform_message_per_stored_page(
    engine: Engine,
    make_run: MakeRun,
    make_settings: MakeSettings,
    github: GithubServer,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    extra: dict[str, Any] = {}
    if backend == "rabbitmq":
        extra["amqp_url"] = request.getfixturevalue("amqp_url")
    settings = make_settings(**extra)
    repo = github.dataset.repos[0].full_name
    run_id = make_run(spec(github, repos=[repo]), GH_CREDS, entities=ENTITIES)
    try:
        assert Extraction(settings, run_id).run() == EXIT_OK
        pages = raw_pages(engine, run_id)
        with open_queue(settings) as queue:
            seen: dict[int, str] = {}
            while batch := queue.receive(Stage.TRANSFORM, max_messages=50, timeout=0.5):
                for d in batch:
                    msg = decode(TransformMessage, d.body)
                    assert msg.run_id == run_id and msg.integration_id == pages[0].integration_id
                    seen[msg.raw_id] = msg.entity
                    queue.ack(d)
        assert seen == {p.id: p.entity for p in pages}
    finally:
        if backend == "rabbitmq":
            from quarry_core.queue.rabbit import RabbitQueue

            rabbit = RabbitQueue(extra["amqp_url"], prefix=settings.queue_prefix)
            try:
                rabbit.delete_topology()
            finally:
                rabbit.close()
