"""Transform + load workers on real PostgreSQL, on both queue backends, with the imitation's data and
(where present) the recorded devlake data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from quarry_core.db.engine import session_scope
from quarry_core.db.models import (
    EtlRun,
    RawExtractionData,
    StatusMapping,
    SyncCursor,
    WitMapping,
    WorkItem,
    WorkItemTransition,
)
from quarry_core.messages import TransformMessage
from quarry_core.runs import counts
from quarry_core.states import Stage
from quarry_core.vectors import embedding_progress
from quarry_workers.retransform import retransform_job
from tests.workers.conftest import Platform
from tests.workers.fixtures import JiraSource, items, recorded_source, rows


def _status_items(issues: list[dict[str, Any]]) -> int:
    return sum(
        1 for i in issues for h in i["changelog"]["histories"] for it in h["items"] if it["field"] == "status"
    )


def _seed_jira_run(
    p: Platform, source: JiraSource, mode: str = "full", issues: list[dict[str, Any]] | None = None
) -> tuple[int, int]:
    """A run with the status catalog, issue pages (11 issues each) and full changelog pages."""
    issues = source.issues if issues is None else issues
    run_id = p.start_run(mode)
    p.add_page(run_id, "statuses", source.statuses)
    for start in range(0, len(issues), 11):
        p.add_page(
            run_id, "issues", {"issues": issues[start : start + 11], "isLast": False}, {"_board_id": 8}
        )
    for issue_id, histories in source.changelogs.items():
        p.add_page(
            run_id, "issue_changelogs", {"values": histories, "isLast": True}, {"_issue_id": issue_id}
        )
    changelog_items = sum(
        1 for hs in source.changelogs.values() for h in hs for it in h["items"] if it["field"] == "status"
    )
    p.finish_extract(run_id, {source.scope: {"issues": {"updated_ms": 1617000000000}}})
    return run_id, _status_items(issues) + changelog_items


def _table_snapshot(p: Platform) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with p.factory() as s:
        for table in ("work_items", "work_item_transitions", "sprints", "projects", "people"):
            cols = [c for c in s.execute(text(f"SELECT * FROM {table} LIMIT 0")) if c != "loaded_at"]
            out[table] = [
                tuple(r)
                for r in s.execute(
                    text(f"SELECT {', '.join(cols)} FROM {table} WHERE tenant = :t ORDER BY id"),
                    {"t": p.tenant},
                )
            ]
    return out


def test_pipeline_loads_everything_and_completes(platform: Platform) -> None:
    run_id, transitions = _seed_jira_run(platform, recorded_source())
    platform.drain()
    run = platform.run(run_id)
    assert transitions == 175
    assert run.phase == "Succeeded", run.error
    with platform.factory() as s:
        wi = s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
        tr = s.scalar(
            select(func.count())
            .select_from(WorkItemTransition)
            .where(WorkItemTransition.tenant == platform.tenant)
        )
        # the recorded full changelogs belong to issues outside the 33: a full run drops them as orphans
        assert (wi, tr) == (33, _status_items(items("jira/_raw_jira_api_issues.csv")))
        ee1 = s.scalar(select(WorkItem).where(WorkItem.tenant == platform.tenant, WorkItem.key == "EE-1"))
        assert ee1 is not None and ee1.raw_id is not None
        assert (
            ee1.lead_time_seconds == 627485.166
        )  # 2020-06-12 08:13:13.360 -> 2020-06-19 14:31:18.526 (+0800)
        cursor = s.scalar(select(SyncCursor).where(SyncCursor.integration_id == platform.integration_id))
        assert cursor is not None and (cursor.scope, cursor.entity) == ("EE", "issues")
        c = counts(s, run_id)
    assert c["issues"]["transformed"] == c["issues"]["loaded"] == 33
    # counters count source items: changelog entries, whatever rows they make
    histories = len(rows("jira/_raw_jira_api_issue_changelogs.csv"))
    assert c["issue_changelogs"]["transformed"] == c["issue_changelogs"]["loaded"] == histories
    assert c["statuses"]["loaded"] == len(items("jira/_raw_jira_api_status.csv"))  # catalogs count too
    # no embed worker ran: the run Succeeded anyway, its vectors are pending (tests/workers/test_embed.py)
    with platform.factory() as s:
        assert embedding_progress(s, platform.tenant).pending == {"work_item": 33, "pull_request": 0}


def test_duplicate_messages_change_nothing(platform: Platform, jira_source: JiraSource) -> None:
    run_id, _ = _seed_jira_run(platform, jira_source, mode="incremental")
    platform.drain()
    before, before_counts = _table_snapshot(platform), None
    with platform.factory() as s:
        before_counts = counts(s, run_id)
        raw_ids = s.scalars(select(RawExtractionData.id).where(RawExtractionData.run_id == run_id)).all()
        entities = dict(
            s.execute(
                select(RawExtractionData.id, RawExtractionData.entity).where(
                    RawExtractionData.run_id == run_id
                )
            ).all()
        )
    # every transform message delivered again, and every load message of one page re-published
    for raw_id in raw_ids:
        m = TransformMessage(
            tenant=platform.tenant,
            run_id=run_id,
            integration_id=platform.integration_id,
            raw_id=raw_id,
            entity=entities[raw_id],
        )
        platform.queue.publish(Stage.TRANSFORM, m.to_bytes(), message_id=m.message_id)
    with session_scope(platform.factory) as s:  # force a re-transform of one page: it re-publishes loads
        s.execute(
            text("UPDATE raw_extraction_data SET transformed_at = NULL WHERE id = :i"), {"i": raw_ids[1]}
        )
    platform.drain()
    assert _table_snapshot(platform) == before
    with platform.factory() as s:
        after = counts(s, run_id)
    assert after["issues"]["loaded"] == before_counts["issues"]["loaded"]


def test_mapping_change_then_retransform_updates_rows(platform: Platform) -> None:
    _run_id, _ = _seed_jira_run(platform, recorded_source())
    platform.drain()
    with platform.factory() as s:
        assert (
            s.scalar(select(WorkItem.type).where(WorkItem.tenant == platform.tenant, WorkItem.key == "EE-1"))
            == "故事"
        )
    with session_scope(platform.factory) as s:
        s.add(WitMapping(tenant=platform.tenant, source_type="故事", standard_type="Story"))
        s.add(
            StatusMapping(
                tenant=platform.tenant,
                work_item_type="Story",
                source_status="已完成",
                standard_status="Done",
                workflow_step="Released",
            )
        )
    rt = retransform_job(platform.factory, platform.queue, platform.tenant, "sync")
    platform.drain()
    assert platform.run(rt).phase == "Succeeded", platform.run(rt).error
    with platform.factory() as s:
        ee1 = s.scalar(select(WorkItem).where(WorkItem.tenant == platform.tenant, WorkItem.key == "EE-1"))
        assert ee1 is not None
        assert (ee1.type, ee1.status, ee1.workflow_step, ee1.source_status) == (
            "Story",
            "Done",
            "Released",
            "已完成",
        )
        # a Task keeps the visible default (only Story statuses were mapped)
        task = s.scalar(select(WorkItem).where(WorkItem.tenant == platform.tenant, WorkItem.key == "EE-5"))
        assert task is not None and task.type == "任务" and task.status == "Done"  # category done
        released = s.scalar(
            select(func.count())
            .select_from(WorkItemTransition)
            .where(WorkItemTransition.tenant == platform.tenant, WorkItemTransition.to_step == "Released")
        )
        assert released and released > 0
        assert (
            s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
            == 33
        )


def test_poison_page_goes_to_dead_letters_and_fails_the_run(
    platform: Platform, jira_source: JiraSource
) -> None:
    run_id = platform.start_run("incremental")
    good = platform.add_page(run_id, "issues", {"issues": jira_source.issues[:2]})
    poison = platform.add_page(
        run_id, "issues", {"issues": [{"id": "1", "key": "X-1", "fields": {"issuetype": 7}}]}
    )
    platform.finish_extract(run_id, {jira_source.scope: {"issues": {"updated_ms": 1617000000000}}})
    platform.drain()
    run = platform.run(run_id)
    assert run.phase == "Failed" and f"raw page {poison}" in (run.error or "")
    with platform.factory() as s:  # a failed run commits no cursor: the next run fetches it all again
        committed = select(func.count()).select_from(SyncCursor)
        assert s.scalar(committed.where(SyncCursor.integration_id == platform.integration_id)) == 0
    dead = platform.queue.dead_letters(Stage.TRANSFORM)
    assert len(dead) == 1 and "cannot transform" in dead[0].error
    with platform.factory() as s:
        assert counts(s, run_id)["issues"]["failed"] == 1
        assert s.get(RawExtractionData, good).transformed_at is not None  # type: ignore[union-attr]
        assert (
            s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
            == 2
        )


def test_full_run_deletes_what_the_source_no_longer_has_only_at_completion(
    platform: Platform, jira_source: JiraSource
) -> None:
    issues = jira_source.issues
    assert len(issues) == 33
    first, _ = _seed_jira_run(platform, jira_source)
    platform.drain()
    assert platform.run(first).phase == "Succeeded"
    second = platform.start_run("full")
    platform.add_page(second, "issues", {"issues": issues[:20]})
    transform, load = platform.consumers()
    while transform.run_once():
        pass
    while load.run_once():
        pass
    with platform.factory() as s:  # extraction not finished: nothing may be deleted yet
        assert (
            s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
            == 33
        )
    platform.finish_extract(second)
    with session_scope(platform.factory) as s:
        from quarry_core.completion import complete_if_done

        assert complete_if_done(s, second)
    with platform.factory() as s:
        assert (
            s.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.tenant == platform.tenant))
            == 20
        )
        gone = {i["id"] for i in issues[20:]}
        left = s.scalar(
            select(func.count())
            .select_from(WorkItemTransition)
            .where(
                WorkItemTransition.tenant == platform.tenant, WorkItemTransition.work_item_source_id.in_(gone)
            )
        )
        assert left == 0
        assert s.get(EtlRun, second).phase == "Succeeded"  # type: ignore[union-attr]
