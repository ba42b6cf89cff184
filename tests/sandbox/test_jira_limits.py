"""Jira authentication, injected 429/503 faults, quota headers and the early-retry penalty."""

from __future__ import annotations

import base64
import time
from datetime import datetime

import httpx

from quarry_sandbox.faults import FaultConfig
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraConfig, JiraServer

from .conftest import JIRA_AUTH


def small() -> JiraDataset:
    return JiraDataset.synthetic(30, projects=1, seed=1)


def test_auth_basic_bearer_and_401(jira: JiraServer) -> None:
    url = f"{jira.base_url}/rest/api/3/myself"
    assert httpx.get(url, auth=JIRA_AUTH).status_code == 200
    assert httpx.get(url, headers={"Authorization": "Bearer jira-oauth-token"}).status_code == 200
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic " + base64.b64encode(b"bot@quarry.dev:wrong").decode()},
    ):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401
        assert set(r.json()) == {"errorMessages", "errors"}
    cloud = httpx.get(
        f"{jira.base_url}/ex/jira/11111111-2222/rest/api/3/myself",
        headers={"Authorization": "Bearer jira-oauth-token"},
    )
    assert cloud.status_code == 200


def test_injected_429_and_503_rates_and_headers() -> None:
    faults = FaultConfig(
        seed=5, rate_429=0.2, rate_503=0.1, retry_after=0, retry_after_503=0, penalize_early_retry=False
    )
    with (
        JiraServer(small(), faults=faults) as server,
        httpx.Client(base_url=server.base_url, auth=JIRA_AUTH) as c,
    ):
        responses = [c.get("/rest/api/3/myself") for _ in range(600)]
    codes = [r.status_code for r in responses]
    assert 0.14 < codes.count(429) / 600 < 0.26
    assert 0.06 < codes.count(503) / 600 < 0.14
    assert codes.count(200) + codes.count(429) + codes.count(503) == 600
    assert server.counters.by_status[429] == codes.count(429)
    for r in responses:
        if r.status_code == 429:
            assert r.headers["Retry-After"] == "0"
            assert datetime.strptime(r.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%M:%S.%fZ")
            assert r.headers["RateLimit-Reason"] and r.headers["X-RateLimit-Remaining"] == "0"
            assert r.json()["errorMessages"]
    with_header = [r for r in responses if r.status_code == 503 and "Retry-After" in r.headers]
    assert 0 < len(with_header) < codes.count(503)


def test_faults_are_reproducible_from_the_seed() -> None:
    def run() -> list[int]:
        faults = FaultConfig(seed=9, rate_429=0.3, rate_503=0.1, retry_after=0, penalize_early_retry=False)
        with (
            JiraServer(small(), faults=faults) as server,
            httpx.Client(base_url=server.base_url, auth=JIRA_AUTH) as c,
        ):
            return [c.get("/rest/api/3/status").status_code for _ in range(60)]

    assert run() == run()


def test_retrying_early_earns_another_429() -> None:
    faults = FaultConfig(seed=1, rate_429=1.0, retry_after=1)
    with (
        JiraServer(small(), faults=faults) as server,
        httpx.Client(base_url=server.base_url, auth=JIRA_AUTH) as c,
    ):
        first = c.get("/rest/api/3/myself")
        assert first.status_code == 429 and first.headers["Retry-After"] == "1"
        again = c.get("/rest/api/3/myself")
        assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
        assert server.counters.events["early_retry"] == 1
        server.faults.config.rate_429 = 0.0
        time.sleep(1.05)
        assert c.get("/rest/api/3/myself").status_code == 200


def test_quota_near_limit_and_exhaustion() -> None:
    config = JiraConfig(faults=FaultConfig(quota=10, window_seconds=60))
    with JiraServer(small(), config) as server, httpx.Client(base_url=server.base_url, auth=JIRA_AUTH) as c:
        seen = [c.get("/rest/api/3/issuetype") for _ in range(10)]
        assert all(r.status_code == 200 for r in seen)
        assert (
            seen[0].headers["X-RateLimit-Remaining"] == "9" and "X-RateLimit-NearLimit" not in seen[0].headers
        )
        assert seen[-1].headers["X-RateLimit-NearLimit"] == "true"
        over = c.get("/rest/api/3/issuetype")
        assert over.status_code == 429 and over.headers["RateLimit-Reason"] == "jira-quota-global-based"
        assert 1 <= int(over.headers["Retry-After"]) <= 60
