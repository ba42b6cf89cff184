"""The pure parts of fair sharing: which lane a message belongs to, and the order lanes are served."""

from __future__ import annotations

from quarry_core.messages import LoadMessage, TransformMessage
from quarry_core.queue.base import lane_of, round_robin


def test_the_lane_is_the_messages_tenant() -> None:
    m = TransformMessage(tenant="acme-2", run_id=1, integration_id=1, raw_id=1, entity="issues")
    assert lane_of(m.to_bytes()) == "acme-2"
    big = LoadMessage(
        tenant="big",
        run_id=1,
        integration_id=1,
        raw_id=1,
        seq=0,
        entity="issues",
        tables={"work_items": [{"summary": "x" * 100_000, "tenant": "other"}]},
    )
    assert lane_of(big.to_bytes()) == "big"


def test_bodies_without_a_safe_tenant_share_the_default_lane() -> None:
    assert lane_of(b"{}") is None
    assert lane_of(b'{"not": "a message"}') is None
    assert lane_of(b'{"tenant":"a.b/../c"}') is None  # never a queue name from arbitrary text
    assert lane_of(b'{"tenant":"-x"}') is None


def test_round_robin_starts_after_the_lane_served_last() -> None:
    lanes = ["q.t.b", "q", "q.t.a", "q.t.c"]
    assert round_robin(lanes, None) == ["q", "q.t.a", "q.t.b", "q.t.c"]
    assert round_robin(lanes, "q.t.a") == ["q.t.b", "q.t.c", "q", "q.t.a"]
    assert round_robin(lanes, "q.t.c") == ["q", "q.t.a", "q.t.b", "q.t.c"]
    assert round_robin(lanes, "q.t.gone") == ["q", "q.t.a", "q.t.b", "q.t.c"]
    assert round_robin([], "x") == []


def test_a_lane_empty_for_a_while_is_no_longer_polled() -> None:
    from quarry_core.queue.rabbit import LANE_DORMANT_SECONDS, is_dormant

    assert is_dormant(None, 100.0, 86400.0)  # never seen holding messages
    assert not is_dormant(100.0 - LANE_DORMANT_SECONDS + 1, 100.0, 86400.0)
    assert is_dormant(100.0 - LANE_DORMANT_SECONDS, 100.0, 86400.0)
    # a short expiry: dormant after a quarter of it, long before the broker would delete it
    assert not is_dormant(99.5, 100.0, 4.0) and is_dormant(99.0, 100.0, 4.0)


def test_a_message_a_lane_gave_up_on_is_recognised_by_its_history() -> None:
    from quarry_core.queue.rabbit import over_delivery_limit

    assert not over_delivery_limit({})
    assert not over_delivery_limit({"x-death": [{"reason": "expired", "queue": "q.transform.t.a"}]})
    assert over_delivery_limit({"x-death": [{"reason": "delivery_limit", "queue": "q.transform.t.a"}]})
    assert over_delivery_limit({"x-death": [{"reason": "expired"}, {"reason": b"delivery_limit"}]})
