"""Golden transforms on real recorded Jira and GitHub items (expected values read off the data)."""

from __future__ import annotations

from datetime import datetime

from quarry_core.mappings import Mappings, StatusTarget
from quarry_workers.derived import Move, cycle_time, lead_time
from quarry_workers.transform import TransformOptions, transform_page
from quarry_workers.transform_worker import status_catalog
from tests.workers.fixtures import items, rows

NO_MAPPINGS = Mappings()


def _options() -> TransformOptions:
    return TransformOptions(status_categories=status_catalog(items("jira/_raw_jira_api_status.csv")))


def _issue(key: str) -> dict:
    return next(i for i in items("jira/_raw_jira_api_issues.csv") if i["key"] == key)


def test_jira_issue_ee1_work_item_and_defaults() -> None:
    out = transform_page(
        "jira", "issues", {"issues": [_issue("EE-1")]}, {"_board_id": 8}, NO_MAPPINGS, _options()
    )
    (wi,) = out["work_items"]
    assert wi["source_id"] == "10063" and wi["key"] == "EE-1" and wi["project_key"] == "EE"
    assert wi["source_type"] == "故事" and wi["type"] == "故事"  # upper-cased default (no case in Han)
    assert wi["hierarchy_level"] == 0 and wi["parent_key"] is None
    # status 已完成 with (odd but recorded) category "new": the visible default is the category's
    assert wi["source_status"] == "已完成" and wi["status_category"] == "new" and wi["status"] == "To Do"
    assert wi["workflow_step"] == "已完成"
    assert wi["assignee_id"] == "5ecfbd0c730ec90c1999cadf" and wi["reporter_id"] == "5e9711ba34f7b90c0fbc37d3"
    assert wi["story_points"] is None  # customfield_10024 = "-1": not an estimate
    assert wi["sprint_ids"] == ["7"]
    assert wi["labels"] == ["frontEnd", "Saas"] and wi["priority"] == "Medium"
    assert wi["created_at"] == "2020-06-12T00:13:13.360000+00:00"
    assert wi["updated_at"] == "2021-03-28T08:06:08.713000+00:00"
    assert wi["resolved_at"] == "2020-06-19T06:31:18.495000+00:00"
    assert {s["source_id"]: s["name"] for s in out["sprints"]} == {"7": "EE Sprint 7"}
    assert out["projects"] == [
        {"source_id": "10003", "key": "EE", "name": "Enterprise Edition", "project_type": "software"}
    ]


def test_jira_issue_ee1_transitions_from_embedded_changelog() -> None:
    out = transform_page("jira", "issues", {"issues": [_issue("EE-1")]}, {}, NO_MAPPINGS, _options())
    got = {(t["history_id"], t["item_seq"]): t for t in out["work_item_transitions"]}
    # the 5 status items of EE-1's 25 histories
    assert set(got) == {("86412", 0), ("12025", 1), ("11066", 0), ("10911", 0), ("10900", 0)}
    t = got[("12025", 1)]
    assert (t["from_source_status"], t["to_source_status"]) == ("Open", "Closed")
    assert (t["from_status"], t["to_status"]) == ("To Do", "Done")  # catalog: 1 new, 6 done
    assert t["transitioned_at"] == "2020-06-19T06:31:18.526000+00:00"
    assert t["work_item_source_id"] == "10063" and t["author_id"] == "5e9711ba34f7b90c0fbc37d3"
    # id 3 is "In Progress" (indeterminate) in the catalog, although this history names it "In Development"
    assert got[("10911", 0)]["to_source_status"] == "In Development"
    assert got[("10911", 0)]["to_status"] == "In Progress"


def test_jira_subtask_parent_and_level() -> None:
    out = transform_page("jira", "issues", {"issues": [_issue("EE-25")]}, {}, NO_MAPPINGS, _options())
    (wi,) = out["work_items"]
    assert wi["source_id"] == "10087" and wi["parent_key"] == "EE-1" and wi["hierarchy_level"] == -1


def test_jira_story_points_and_mapped_type_status() -> None:
    mappings = Mappings(
        types={"故事": "Story"},
        levels={"story": 1},
        statuses={("story", "已完成"): StatusTarget("Done", "Shipped")},
    )
    out = transform_page("jira", "issues", {"issues": [_issue("EE-2")]}, {}, mappings, _options())
    (wi,) = out["work_items"]
    assert wi["story_points"] == 2.0
    assert (wi["type"], wi["hierarchy_level"], wi["status"], wi["workflow_step"]) == (
        "Story",
        1,
        "Done",
        "Shipped",
    )


def test_all_jira_issues_and_transition_counts() -> None:
    issues = items("jira/_raw_jira_api_issues.csv")
    out = transform_page("jira", "issues", {"issues": issues}, {}, NO_MAPPINGS, _options())
    assert len(out["work_items"]) == len(issues) == 33
    expected = sum(
        1 for i in issues for h in i["changelog"]["histories"] for it in h["items"] if it["field"] == "status"
    )
    assert len(out["work_item_transitions"]) == expected


def test_full_changelog_pages_key_the_same_rows() -> None:
    recs = rows("jira/_raw_jira_api_issue_changelogs.csv")
    issue_id = recs[0]["input"]["issue_id"]
    histories = [r["data"] for r in recs if r["input"]["issue_id"] == issue_id]
    out = transform_page(
        "jira",
        "issue_changelogs",
        {"values": histories},
        {"_issue_id": str(issue_id)},
        NO_MAPPINGS,
        _options(),
    )
    status_items = [
        (h["id"], i) for h in histories for i, it in enumerate(h["items"]) if it["field"] == "status"
    ]
    assert sorted((t["history_id"], t["item_seq"]) for t in out["work_item_transitions"]) == sorted(
        status_items
    )
    assert all(t["work_item_source_id"] == str(issue_id) for t in out["work_item_transitions"])
    # bulkfetch shape gives the same keys
    bulk = transform_page(
        "jira",
        "issue_changelogs",
        {"issueChangeLogs": [{"issueId": str(issue_id), "changeHistories": histories}]},
        {},
        NO_MAPPINGS,
        _options(),
    )
    assert {(t["history_id"], t["item_seq"]) for t in bulk["work_item_transitions"]} == set(status_items)


def test_jira_sprints_page() -> None:
    sprints = items("jira/_raw_jira_api_sprints.csv")
    out = transform_page("jira", "sprints", {"values": sprints}, {"_board_id": 8}, NO_MAPPINGS)
    by_id = {s["source_id"]: s for s in out["sprints"]}
    assert len(by_id) == len({s["id"] for s in sprints})
    s7 = by_id["7"]
    assert (s7["name"], s7["state"], s7["board_id"]) == ("EE Sprint 7", "closed", "8")
    assert (
        s7["start_at"] == "2020-06-12T00:38:51.882000+00:00"
        and s7["completed_at"] == "2020-06-22T05:59:58.980000+00:00"
    )


def test_lead_and_cycle_time_of_ee1() -> None:
    out = transform_page("jira", "issues", {"issues": [_issue("EE-1")]}, {}, NO_MAPPINGS, _options())
    moves = sorted(
        (
            Move(datetime.fromisoformat(t["transitioned_at"]), t["to_status"], t["to_step"])
            for t in out["work_item_transitions"]
        ),
        key=lambda m: m.at,
    )
    created = datetime.fromisoformat("2020-06-12T08:13:13.360+08:00")
    first_done = datetime.fromisoformat("2020-06-19T14:31:18.526+08:00")  # Open -> Closed
    # Inbox -> Ready for Dev (not in the status catalog; neither a to-do nor a done word) commits
    committed = datetime.fromisoformat("2020-06-12T09:45:24.493+08:00")
    assert lead_time(created, moves) == (first_done - created).total_seconds()
    assert cycle_time(moves, None) == (first_done - committed).total_seconds()


def test_github_pull_requests_rest_page() -> None:
    prs = items("github/_raw_github_api_pull_requests.csv")
    out = transform_page("github", "pull_requests", prs, {"_repo": "panjf2000/ants"}, NO_MAPPINGS)
    by_number = {p["number"]: p for p in out["pull_requests"]}
    assert len(by_number) == len({p["number"] for p in prs}) == 49
    p = by_number[41]
    assert p["source_id"] == "308859272" and p["repository"] == "panjf2000/ants"
    assert p["state"] == "MERGED" and p["merged_at"] == "2019-08-20T10:55:19+00:00"
    assert (p["author_id"], p["head_ref"], p["base_ref"], p["is_draft"]) == (
        "8923413",
        "nonblocking",
        "master",
        False,
    )
    assert "additions" not in p  # list pages do not know sizes: they must not blank them
    assert any(u["login"] == "choleraehyq" for u in out["people"])


def test_github_reviews_and_commits() -> None:
    reviews = items("github/_raw_github_api_pull_request_reviews.csv")
    out = transform_page("github", "pull_request_reviews", reviews, {}, NO_MAPPINGS)
    first = next(r for r in out["pull_request_reviews"] if r["source_id"] == "277027723")
    assert (first["repository"], first["pr_number"], first["state"]) == ("panjf2000/ants", 41, "COMMENTED")
    assert first["submitted_at"] == "2019-08-20T09:05:02+00:00" and first["reviewer_id"] == "8923413"
    assert len(out["pull_request_reviews"]) == len({r["id"] for r in reviews})

    recs = rows("github/_raw_github_api_pull_request_commits.csv")
    number = recs[0]["input"]["Number"]
    page = [r["data"] for r in recs if r["input"]["Number"] == number]
    out = transform_page(
        "github", "pull_request_commits", page, {"_repo": "panjf2000/ants", "_pr_number": number}, NO_MAPPINGS
    )
    c = next(c for c in out["commits"] if c["sha"] == "5bbc9e170bbee27c37bcc30da3da75b4531d1edb")
    assert c["author_name"] == "Cholerae Hu" and c["author_email"] == "choleraehyq@gmail.com"
    assert (
        c["authored_at"] == "2019-01-21T10:57:23+00:00" and c["committed_at"] == "2019-01-22T05:09:19+00:00"
    )
    assert c["message"].startswith("feature: add PanicHandler") and c["author_id"] == "8923413"
    assert {(x["pr_number"], x["sha"]) for x in out["pull_request_commits"]} == {
        (number, p["sha"]) for p in page
    }
