"""A page PostgreSQL's jsonb refuses (a lone UTF-16 surrogate, a NUL) is kept and its items load."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from quarry_core.db.engine import session_scope
from quarry_core.db.models import RawExtractionData, WorkItem
from quarry_core.db.tenancy import acting_as
from quarry_core.messages import MAX_MESSAGE_BYTES, InvalidMessage, TransformMessage, decode
from quarry_core.states import Stage
from quarry_extractor.raw_store import RawPage, sanitise_page, store_pages
from tests.workers.conftest import Platform
from tests.workers.fixtures import items


def test_sanitise_page_substitutes_only_what_jsonb_refuses() -> None:
    fine = '{"s":"\\ud83d\\ude00 ok","t":"\\\\ud83d is text"}'  # a valid pair; an escaped backslash
    assert sanitise_page(fine) == (fine, {})
    text, subs = sanitise_page('{"s":"cut \\ud83d","t":"\\udc00x","n":"a\\u0000b"}')
    assert json.loads(text) == {"s": "cut \ufffd", "t": "\ufffdx", "n": "ab"}
    assert subs == {"nul": 1, "lone_surrogate": 2}


def test_a_page_jsonb_refuses_is_kept_as_received_and_its_items_load(platform: Platform) -> None:
    [issue] = items("jira/_raw_jira_api_issues.csv")[:1]
    issue["fields"]["summary"] = "Crash on SUMMARY-MARK"
    received = json.dumps({"issues": [issue], "isLast": True}).replace(
        "SUMMARY-MARK", "emoji \\ud83d\\u0000!"
    )
    run_id = platform.start_run("incremental")
    workers = platform.worker_factory
    assert workers is not None
    page = RawPage(
        tenant=platform.tenant,
        integration_id=platform.integration_id,
        run_id=run_id,
        entity="issues",
        stream="issues:ENG",
        page_seq=0,
        url="http://jira/rest/api/3/search/jql",
        method="GET",
        params={},
        status=200,
        response_text=received,
        item_count=1,
    )
    with session_scope(workers) as s:  # as the extract process writes it
        acting_as(s, platform.tenant)
        [(raw_id, _)] = store_pages(s, [page])
    msg = TransformMessage(
        tenant=platform.tenant,
        run_id=run_id,
        integration_id=platform.integration_id,
        raw_id=raw_id,
        entity="issues",
    )
    platform.queue.publish(Stage.TRANSFORM, msg.to_bytes(), message_id=msg.message_id)
    platform.finish_extract(run_id)
    platform.drain()

    assert platform.run(run_id).phase == "Succeeded"
    with platform.factory() as s:
        raw = s.get(RawExtractionData, raw_id)
        assert raw is not None
        assert raw.substitutions == {"nul": 1, "lone_surrogate": 1}
        assert raw.response_received is not None and raw.response_received.decode() == received
        summary = s.scalar(
            select(WorkItem.title).where(WorkItem.tenant == platform.tenant, WorkItem.raw_id == raw_id)
        )
    assert summary == "Crash on emoji \ufffd!"


def test_a_page_too_large_for_one_message_fails_its_run_saying_so(platform: Platform) -> None:
    [issue] = items("jira/_raw_jira_api_issues.csv")[:1]
    issue["fields"]["summary"] = "x" * (MAX_MESSAGE_BYTES + 1)
    run_id = platform.start_run("incremental")
    platform.add_page(run_id, "issues", {"issues": [issue], "isLast": True})
    platform.finish_extract(run_id)
    platform.drain()
    run = platform.run(run_id)
    assert run.phase == "Failed"
    assert f"over the {MAX_MESSAGE_BYTES} byte limit of a message" in (run.error or "")
    with pytest.raises(InvalidMessage, match="byte limit"):
        decode(TransformMessage, b" " * (MAX_MESSAGE_BYTES + 1))
