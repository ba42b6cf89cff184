"""Lead/cycle time computed before the merge: the same values a recomputation from the stored rows
gives, after every kind of batch (changelog pages of items loaded earlier, late older copies,
several copies in one batch, redeliveries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from quarry_core.db.engine import session_scope
from quarry_core.db.models import Commit, RawExtractionData, WorkItem, WorkItemTransition
from quarry_core.mappings import Mappings, load_mappings
from quarry_core.messages import LoadMessage
from quarry_workers.derived import plan_derived
from quarry_workers.load import load_batch
from tests.workers.conftest import Platform

T0 = datetime(2024, 3, 1, tzinfo=UTC)
STATUS = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def _item(source_id: str, updated: float, status: str = "Done", kind: str = "Task") -> dict[str, Any]:
    return {
        "source_id": source_id,
        "key": f"D-{source_id}",
        "title": f"item {source_id} @ {updated}",
        "type": kind,
        "source_status": status,
        "status": status,
        "status_category": STATUS[status],
        "created_at": _at(0),
        "updated_at": _at(updated),
    }


def _move(source_id: str, history: str, hours: float, src: str, dst: str) -> dict[str, Any]:
    return {
        "work_item_source_id": source_id,
        "history_id": history,
        "item_seq": 0,
        "from_source_status": src,
        "to_source_status": dst,
        "from_status_category": STATUS[src],
        "to_status_category": STATUS[dst],
        "from_status": src,
        "to_status": dst,
        "from_step": src,
        "to_step": dst,
        "transitioned_at": _at(hours),
    }


class Loader:
    def __init__(self, p: Platform) -> None:
        self.p = p
        self.run_id = p.start_run("incremental")
        self.pages = 0

    def message(self, tables: dict[str, list[dict[str, Any]]]) -> LoadMessage:
        self.pages += 1
        with session_scope(self.p.factory) as s:
            raw = RawExtractionData(
                tenant=self.p.tenant,
                integration_id=self.p.integration_id,
                run_id=self.run_id,
                entity="issues",
                stream=f"s{self.pages}",
                page_seq=0,
                url="http://imitation/",
                params={},
                status=200,
                response={},
                item_count=1,
            )
            s.add(raw)
            s.flush()
            raw_id = raw.id
        return LoadMessage(
            tenant=self.p.tenant,
            run_id=self.run_id,
            integration_id=self.p.integration_id,
            raw_id=raw_id,
            seq=0,
            entity="issues",
            tables=tables,
        )

    def load(self, *messages: LoadMessage) -> None:
        with session_scope(self.p.factory) as s:
            load_batch(s, messages, lambda t: load_mappings(s, t))

    def times(self) -> dict[str, tuple[float | None, float | None]]:
        with self.p.factory() as s:
            rows = s.execute(
                select(WorkItem.source_id, WorkItem.lead_time_seconds, WorkItem.cycle_time_seconds).where(
                    WorkItem.tenant == self.p.tenant
                )
            )
            return {r.source_id: (r.lead_time_seconds, r.cycle_time_seconds) for r in rows}

    def assert_consistent(self) -> None:
        """A from-scratch recomputation over the stored rows changes nothing."""
        with self.p.factory() as s:
            assert _recompute(s, self.p.tenant, Mappings()) == ([], [])


def _recompute(s: Session, tenant: str, mappings: Mappings) -> tuple[list[Any], list[Any]]:
    W, T = WorkItem, WorkItemTransition
    items = s.execute(
        select(
            W.id,
            W.source_id,
            W.type,
            W.created_at,
            W.resolved_at,
            W.status,
            W.lead_time_seconds,
            W.cycle_time_seconds,
        ).where(W.tenant == tenant)
    ).all()
    transitions = s.execute(
        select(
            T.id,
            T.work_item_source_id,
            T.transitioned_at,
            T.from_source_status,
            T.to_source_status,
            T.from_status_category,
            T.to_status_category,
            T.from_status,
            T.to_status,
            T.from_step,
            T.to_step,
        )
        .where(T.tenant == tenant)
        .order_by(T.work_item_source_id, T.transitioned_at, T.history_id, T.item_seq)
    ).all()
    plan = plan_derived(items, transitions, mappings)
    return plan.transitions, plan.times


@pytest.mark.parametrize("backend", ["pg"])
def test_times_follow_every_kind_of_batch(platform: Platform) -> None:
    loader = Loader(platform)
    hour = 3600.0
    # an item with its embedded changelog: In Progress at 2h, Done at 5h
    first = loader.message(
        {
            "work_items": [_item("1", updated=5)],
            "work_item_transitions": [
                _move("1", "h1", 2, "To Do", "In Progress"),
                _move("1", "h2", 5, "In Progress", "Done"),
            ],
        }
    )
    loader.load(first)
    assert loader.times()["1"] == (5 * hour, 3 * hour)
    loader.assert_consistent()

    # a changelog page of the stored item (no work item row): an earlier Done
    loader.load(loader.message({"work_item_transitions": [_move("1", "h0", 1, "To Do", "Done")]}))
    assert loader.times()["1"] == (1 * hour, 3 * hour)
    loader.assert_consistent()

    # an older copy of the item arrives late with a new transition: the row stays, the times move
    late = _item("1", updated=2, status="In Progress")
    loader.load(
        loader.message(
            {"work_items": [late], "work_item_transitions": [_move("1", "h3", 1.5, "To Do", "In Progress")]}
        )
    )
    with platform.factory() as s:
        stored = s.scalar(
            select(WorkItem).where(WorkItem.tenant == platform.tenant, WorkItem.source_id == "1")
        )
        assert stored is not None and stored.status == "Done" and stored.title == "item 1 @ 5"
    assert loader.times()["1"] == (1 * hour, 3.5 * hour)
    loader.assert_consistent()

    # transitions loaded before their item (a changelog page first), then the item: newest copy wins
    loader.load(loader.message({"work_item_transitions": [_move("2", "k1", 4, "To Do", "In Progress")]}))
    loader.load(
        loader.message({"work_items": [_item("2", updated=9), _item("2", updated=3, status="To Do")]}),
        loader.message({"work_item_transitions": [_move("2", "k2", 8, "In Progress", "Done")]}),
    )
    assert loader.times()["2"] == (8 * hour, 4 * hour)
    with platform.factory() as s:
        assert (
            s.scalar(
                select(WorkItem.status).where(WorkItem.tenant == platform.tenant, WorkItem.source_id == "2")
            )
            == "Done"
        )
    loader.assert_consistent()

    # a redelivered message changes nothing
    before = loader.times()
    loader.load(first)
    assert loader.times() == before
    loader.assert_consistent()


def test_a_keyless_copy_in_the_same_batch_does_not_blank_the_key(platform: Platform) -> None:
    """An issue page (its changelog knows the issue key) and a changelog page (it does not) with the
    same transition, batched together in either order: the key is kept. Which copy the merge keeps
    depends on how messages were batched, so the table would otherwise depend on timing."""
    loader = Loader(platform)
    for n, keyed_first in enumerate((True, False)):
        item = str(10 + n)
        keyed = {**_move(item, "h1", 1, "To Do", "Done"), "work_item_key": f"D-{item}"}
        keyless = {**_move(item, "h1", 1, "To Do", "Done"), "work_item_key": None}  # as transformed
        pages = [{"work_items": [_item(item, 1)], "work_item_transitions": [keyed]}]
        pages.insert(1 if keyed_first else 0, {"work_item_transitions": [keyless]})
        loader.load(*(loader.message(page) for page in pages))
        with platform.factory() as s:
            key = s.scalar(
                select(WorkItemTransition.work_item_key).where(
                    WorkItemTransition.tenant == platform.tenant,
                    WorkItemTransition.work_item_source_id == item,
                )
            )
        assert key == f"D-{item}", keyed_first


def test_a_commit_list_without_stats_does_not_blank_a_commits_stats(platform: Platform) -> None:
    """A pull request's commits (GraphQL) carry additions/deletions, a repository's commit list does
    not: whichever page loads last, the stats stay."""
    loader = Loader(platform)
    base = {"repository": "acme/api", "message": "fix", "authored_at": _at(1), "committed_at": _at(1)}
    for n, stats_first in enumerate((True, False)):
        sha = f"{n:040x}"
        with_stats = {**base, "sha": sha, "additions": 5, "deletions": 2}
        without = {**base, "sha": sha, "additions": None, "deletions": None}
        first, second = (with_stats, without) if stats_first else (without, with_stats)
        loader.load(loader.message({"commits": [first]}))
        loader.load(loader.message({"commits": [second]}))
        with platform.factory() as s:
            row = s.execute(
                select(Commit.additions, Commit.deletions).where(
                    Commit.tenant == platform.tenant, Commit.sha == sha
                )
            ).one()
        assert tuple(row) == (5, 2), stats_first
