"""The pure decisions of the extractor: backoff, response verdicts, pagination, JQL, budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from quarry_core.budget import plan_grant
from quarry_core.sources import SOURCES
from quarry_extractor.http import Action, ApiRequest, ApiResponse, backoff_delay, classify, parse_retry_after
from quarry_extractor.jira import AUTO_PARTITIONS, created_ranges, issues_jql, jira_ms, partitions, since_ms
from quarry_extractor.raw_store import jsonb_safe
from quarry_extractor.streams import OffsetPaginator, TokenPaginator, link_next, split_cursor_key

JIRA, GITHUB = SOURCES["jira"], SOURCES["github"]


def resp(body: object, **headers: str) -> ApiResponse:
    return ApiResponse(200, "http://x", {k.lower(): v for k, v in headers.items()}, "", body)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert backoff_delay(1, 1.0, 60, 0.0) == 0.5 and backoff_delay(1, 1.0, 60, 1.0) == 1.0
    assert backoff_delay(4, 1.0, 60, 0.5) == 6.0
    assert backoff_delay(30, 1.0, 60, 1.0) == 60.0


def test_verdicts() -> None:
    now = 1000.0
    assert classify(JIRA, 429, {"retry-after": "7"}, None, now, secondary_wait=60).wait == 7
    assert classify(JIRA, 401, {}, {"errorMessages": ["no"]}, now, secondary_wait=60).action is Action.FATAL
    primary = classify(
        GITHUB, 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"}, {}, now, secondary_wait=60
    )
    assert primary.action is Action.LIMITED and primary.wait == 11
    secondary = classify(
        GITHUB,
        403,
        {"x-ratelimit-remaining": "10"},
        {"message": "You have exceeded a secondary rate limit"},
        now,
        secondary_wait=60,
    )
    assert secondary.action is Action.LIMITED and secondary.wait == 60
    assert (
        classify(GITHUB, 403, {}, {"message": "Resource not accessible"}, now, secondary_wait=60).action
        is Action.FATAL
    )
    assert classify(JIRA, 502, {}, None, now, secondary_wait=60).action is Action.BACKOFF
    assert classify(JIRA, 404, {}, None, now, secondary_wait=60).action is Action.ERROR
    limited = {"errors": [{"type": "RATE_LIMITED"}]}
    assert classify(GITHUB, 200, {"x-ratelimit-reset": "1100"}, limited, now, secondary_wait=60).wait == 101
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0


def test_pagination_handles_short_pages_and_tokens() -> None:
    req = ApiRequest("GET", "/x", {"startAt": 0, "maxResults": 50})
    nxt = OffsetPaginator().next(
        req, resp({"startAt": 0, "maxResults": 50, "isLast": False, "values": [1] * 30})
    )
    assert nxt is not None and nxt.params["startAt"] == 30  # counts what came, not what was asked
    assert OffsetPaginator().next(req, resp({"startAt": 0, "values": [1], "isLast": True})) is None
    tok = TokenPaginator().next(
        ApiRequest("POST", "/s", json={"a": 1}), resp({"issues": [], "nextPageToken": "t"})
    )
    assert tok is not None and tok.json == {"a": 1, "nextPageToken": "t"}
    assert TokenPaginator().next(req, resp({"issues": [], "isLast": True, "nextPageToken": "t"})) is None
    assert (
        link_next('<https://a/b?page=2>; rel="next", <https://a/b?page=9>; rel="last"')
        == "https://a/b?page=2"
    )


def test_jql_is_in_epoch_milliseconds_with_overlap() -> None:
    assert issues_jql("ENG", since_ms({"updatedMs": 1_700_000_300_000}, 300_000)) == (
        'project = "ENG" AND updated >= 1700000000000 ORDER BY id ASC'
    )
    assert jira_ms("2020-06-17T13:04:03.848+0800") == 1592370243848
    assert issues_jql("ENG", 5, (100, 200)) == (
        'project = "ENG" AND updated >= 5 AND created >= 100 AND created < 200 ORDER BY id ASC'
    )
    assert split_cursor_key("github:acme/api:commits") == ("github:acme/api", "commits")


def test_created_ranges_cover_every_instant_once() -> None:
    ranges = created_ranges(1000, 2000, 4)
    assert ranges == [(None, 1250), (1250, 1500), (1500, 1750), (1750, None)]
    for instant in (-5, 1000, 1249, 1250, 1999, 2000, 10**13):  # before, inside, after the span
        inside = [r for r in ranges if (r[0] is None or instant >= r[0]) and (r[1] is None or instant < r[1])]
        assert len(inside) == 1
    assert created_ranges(None, 2000, 4) == [(None, None)]  # an empty project: one walk
    assert created_ranges(1000, 2000, 1) == [(None, None)]
    assert created_ranges(1998, 2000, 4) == [(None, None)]  # too short a span to split


def test_a_slow_site_gets_its_full_walks_split() -> None:
    assert partitions(0, 0.003) == 1  # nearby: the fewest requests
    assert partitions(0, 0.1) == partitions(0, 0.4) == AUTO_PARTITIONS  # remote: time first
    assert partitions(0, None) == 1  # not measured (an incremental run reusing the fields)
    assert partitions(1, 0.4) == 1  # set: as set
    assert partitions(6, 0.003) == 6


def test_budget_arithmetic() -> None:
    assert plan_grant([], 10, 3600, 0, 5) == (5, 0.0)
    assert plan_grant([(100.0, 8)], 10, 3600, 200, 5) == (2, 0.0)
    granted, wait = plan_grant([(100.0, 6), (200.0, 4)], 10, 3600, 300, 5)
    assert granted == 0 and wait == 3400.0
    assert plan_grant([(100.0, 10)], 10, 3600, 3701, 5) == (5, 0.0)


def test_nul_escapes_are_stripped_and_nothing_else() -> None:
    assert jsonb_safe('{"a":"x\\u0000y"}') == '{"a":"xy"}'
    assert jsonb_safe('{"a":"x\\\\u0000y"}') == '{"a":"x\\\\u0000y"}'  # an escaped backslash
    assert jsonb_safe('{"a":"\\\\\\u0000"}') == '{"a":"\\\\"}'  # escaped backslash, then NUL
    assert jsonb_safe('{"a":"x\x00"}') == '{"a":"x"}'
    page = '{"issues":[{"key":"A-1"}]}'
    assert jsonb_safe(page) is page


def test_bench_smoke() -> None:
    bench = Path(__file__).resolve().parents[2] / "bench" / "extract.py"
    out = subprocess.run(
        [sys.executable, str(bench), "--issues", "200", "--prs", "40"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "items/s" in out.stdout and "ratio" in out.stdout
