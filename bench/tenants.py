"""Noisy neighbour: one tenant's full backfill must not starve nineteen tenants' small runs.

    .venv/bin/python bench/tenants.py                       # 50 000-issue backfill, RabbitMQ
    .venv/bin/python bench/tenants.py --backfill 10000 --queue pg --json /tmp/tenants.json

One `quarry up` on a fresh database serves twenty tenants, each with its own Integration and EtlJob.
`tenant-a` syncs a large imitation Jira (mode full); `t01` .. `t19` each sync a small one
(mode incremental) whose first sync ran when it was applied. Two phases, the same small runs in both:

1. idle, `--idle-rounds` times: `--changed` issues change in the small Jira, then the nineteen
   incremental runs are requested together (one transaction, as `quarry run` requests a run) on
   an otherwise idle platform;
2. loaded: tenant A starts its backfill; `--delay` seconds later another `--changed` issues
   change and the nineteen incremental runs are requested again.

A small run's time is from its request (etl_runs.created_at) to its end (finished_at). Nineteen
runs started together on a few cores finish one after another, so a single idle round says mostly
where a run fell in that order: a run's idle time is its median over the idle rounds, and the
idle p50 / p95 are over every idle run. It reports p50 / p95 / max of the small runs in each phase
and their ratios, and the backfill's throughput. It checks that every run Succeeded and that no
row landed in the wrong tenant (every final table's rows belong to an integration of their own
tenant, and each tenant holds exactly its source's work items). Exit 0 only when those hold, the
loaded p95 is within --max-ratio of the idle p95, and each small run within --max-ratio of its
own idle median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    JIRA_EMAIL,
    JIRA_TOKEN,
    apply,
    delete_queues,
    environment,
    jira_manifest,
    start_up,
    stop_up,
)
from quarry_core.db.models import EtlRun  # noqa: E402
from quarry_core.store import request_run  # noqa: E402
from quarry_core.tables import FINAL_TABLES  # noqa: E402
from quarry_sandbox import JiraConfig, JiraDataset, JiraServer  # noqa: E402
from tests.support.services import AMQP_URL, temporary_database  # noqa: E402

BIG = "tenant-a"
SMALL = tuple(f"t{i:02d}" for i in range(1, 20))
TERMINAL = {"Succeeded", "Failed", "Cancelled"}


def wait_for_first_runs(db: Engine, n: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as conn:
            phases = list(conn.execute(text("SELECT phase FROM etl_runs")).scalars())
        if (len(phases) >= n and set(phases) <= TERMINAL) or time.monotonic() > deadline:
            return sorted(set(phases))
        time.sleep(0.5)


def wait_for_backfill(db: Engine, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as conn:
            row = conn.execute(
                text("SELECT id, phase FROM etl_runs WHERE tenant = :t ORDER BY id LIMIT 1"), {"t": BIG}
            ).one()
        if row.phase in TERMINAL or time.monotonic() > deadline:
            return {"run": row.id, "phase": row.phase}
        time.sleep(0.5)


def run_all(db: Engine, tenants: tuple[str, ...], timeout: float) -> dict[str, dict[str, Any]]:
    """Request each tenant's `jira-sync` run in one transaction (as `quarry run` does, without
    starting a process per tenant) and wait until every one has ended."""
    with Session(db) as session, session.begin():
        newest = select(EtlRun.tenant, func.max(EtlRun.id)).where(EtlRun.tenant.in_(tenants))
        before = {str(t): int(i) for t, i in session.execute(newest.group_by(EtlRun.tenant)).all()}
        for tenant in tenants:
            request_run(session, tenant, "jira-sync")
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT DISTINCT ON (tenant) tenant, id, phase FROM etl_runs "
                    "WHERE tenant = ANY(:t) ORDER BY tenant, id DESC"
                ),
                {"t": list(tenants)},
            ).all()
        results = {
            str(r.tenant): {"run": r.id, "phase": r.phase}
            for r in rows
            if r.id > before.get(str(r.tenant), 0)
        }
        done = len(results) == len(tenants) and all(r["phase"] in TERMINAL for r in results.values())
        if done or time.monotonic() > deadline:
            return {t: results.get(t, {"run": None, "phase": "Unknown"}) for t in tenants}
        time.sleep(0.2)


def extracted(db: Engine, results: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Issues each run extracted (its stored issue pages' item counts)."""
    with db.connect() as conn:
        return {
            tenant: int(
                conn.execute(
                    text(
                        "SELECT coalesce(sum(item_count), 0) FROM raw_extraction_data "
                        "WHERE run_id = :r AND entity = 'issues'"
                    ),
                    {"r": r["run"]},
                ).scalar_one()
            )
            for tenant, r in results.items()
            if r.get("run")
        }


def durations(db: Engine, results: dict[str, dict[str, Any]]) -> dict[str, float]:
    with db.connect() as conn:
        return {
            tenant: float(
                conn.execute(
                    text("SELECT extract(epoch FROM finished_at - created_at) FROM etl_runs WHERE id = :r"),
                    {"r": r["run"]},
                ).scalar_one()
            )
            for tenant, r in results.items()
            if r.get("run") and r["phase"] == "Succeeded"
        }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def wrong_tenant_rows(db: Engine) -> dict[str, int]:
    """Rows whose integration belongs to another tenant, per table (all must be 0)."""
    with db.connect() as conn:
        return {
            table: int(
                conn.execute(
                    text(
                        f"SELECT count(*) FROM {table} f JOIN integrations i ON i.id = f.integration_id "
                        "WHERE i.tenant <> f.tenant"
                    )
                ).scalar_one()
            )
            for table in (*FINAL_TABLES, "raw_extraction_data")
        }


def work_items_per_tenant(db: Engine) -> dict[str, int]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT tenant, count(*) FROM work_items GROUP BY tenant")).all()
    return {str(t): int(n) for t, n in rows}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backfill", type=int, default=50_000, help="tenant A's issues")
    parser.add_argument("--small", type=int, default=300, help="issues in each small tenant's Jira")
    parser.add_argument("--changed", type=int, default=100, help="issues changed before each small run")
    parser.add_argument(
        "--delay", type=float, default=30.0, help="seconds between the backfill and the small runs"
    )
    parser.add_argument("--idle-rounds", type=int, default=3, help="repetitions of the idle phase")
    parser.add_argument("--queue", choices=["rabbit", "pg"], default="rabbit")
    parser.add_argument("--workers", type=int, default=3, help="max transform and load workers each")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--max-ratio", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    prefix = f"tenants{uuid.uuid4().hex[:8]}"
    with temporary_database("quarry_tenants") as db_url, tempfile.TemporaryDirectory() as tmp:
        env = environment(Path(tmp), prefix, DATABASE_URL=db_url, QUARRY_INCREMENTAL_OVERLAP_SECONDS="0")
        if args.queue == "rabbit":
            env["AMQP_URL"] = AMQP_URL
        db = create_engine(db_url)
        big = JiraServer(
            JiraDataset.synthetic(args.backfill, projects=2, seed=1, api_user_email=JIRA_EMAIL),
            JiraConfig(email=JIRA_EMAIL, api_token=JIRA_TOKEN),
        ).start()
        small = JiraServer(
            JiraDataset.synthetic(args.small, projects=2, seed=2, api_user_email=JIRA_EMAIL),
            JiraConfig(email=JIRA_EMAIL, api_token=JIRA_TOKEN),
        ).start()
        up = None
        try:
            # Applying a job starts its first run: the small tenants' first syncs now, A's backfill later.
            apply(env, [jira_manifest(t, small.base_url, "incremental", args.workers) for t in SMALL])
            up = start_up(env, Path(tmp) / "up.log")
            print(
                f"{args.queue}: first syncs of {len(SMALL)} small tenants ({args.small} issues each)",
                flush=True,
            )
            first = wait_for_first_runs(db, len(SMALL), args.timeout)
            assert set(first) == {"Succeeded"}, first

            idle_rounds: list[dict[str, float]] = []
            idle_results: dict[str, dict[str, Any]] = {}
            for round_ in range(args.idle_rounds):
                small.dataset.transition_some(args.changed, seed=11 + round_)
                results = run_all(db, SMALL, args.timeout)
                idle_results.update({f"{t}#{round_}": r for t, r in results.items()})
                idle_rounds.append(durations(db, results))
                print(f"idle round {round_ + 1}: {summary(list(idle_rounds[-1].values()))}", flush=True)
            idle = {
                t: statistics.median(r[t] for r in idle_rounds if t in r)
                for t in SMALL
                if any(t in r for r in idle_rounds)
            }
            idle_all = [v for r in idle_rounds for v in r.values()]

            small.dataset.transition_some(args.changed, seed=11 + args.idle_rounds)
            apply(env, [jira_manifest(BIG, big.base_url, "full", args.workers)])
            backfill_started = time.monotonic()
            time.sleep(args.delay)
            loaded_after = time.monotonic() - backfill_started
            loaded_results = run_all(db, SMALL, args.timeout)
            loaded = durations(db, loaded_results)
            print(f"loaded: {summary(list(loaded.values()))}", flush=True)
            big_result = wait_for_backfill(db, args.timeout)
            big_seconds = durations(db, {BIG: big_result}).get(BIG)
            wrong = wrong_tenant_rows(db)
            items = work_items_per_tenant(db)
            changed = extracted(db, loaded_results)
            with db.connect() as conn:
                backfill_loaded_before = conn.execute(
                    text(
                        "SELECT count(*) FROM work_items WHERE tenant = :t AND loaded_at < "
                        "(SELECT min(created_at) FROM etl_runs WHERE id = ANY(:runs))"
                    ),
                    {"t": BIG, "runs": [r["run"] for r in loaded_results.values() if r.get("run")]},
                ).scalar_one()
        finally:
            stop_up(up)
            big.stop()
            small.stop()
            if args.queue == "rabbit":
                delete_queues(AMQP_URL, prefix)
            db.dispose()
    idle_s, loaded_s = summary(idle_all), summary(list(loaded.values()))
    throughput = args.backfill / big_seconds if big_seconds else float("nan")
    report = {
        "queue": args.queue,
        "backfill": args.backfill,
        "small": args.small,
        "changed": args.changed,
        "delay": args.delay,
        "idle_rounds": args.idle_rounds,
        "small_runs_requested_after_backfill_s": loaded_after,
        "backfill_issues_loaded_before_small_runs": backfill_loaded_before,
        "idle": idle_s,
        "loaded": loaded_s,
        "p50_ratio": loaded_s["p50"] / idle_s["p50"],
        "p95_ratio": loaded_s["p95"] / idle_s["p95"],
        "backfill_seconds": big_seconds,
        "backfill_issues_per_second": throughput,
        "backfill_phase": big_result["phase"],
        "wrong_tenant_rows": wrong,
        "work_items": items,
        "small_runs_extracted": changed,
        "idle_times_median": idle,
        "idle_times_rounds": idle_rounds,
        "loaded_times": loaded,
        "per_run_ratio": {t: loaded[t] / idle[t] for t in SMALL if t in loaded and t in idle},
    }
    print(f"\nsmall runs ({len(SMALL)}), seconds from request to end:")
    print(
        f"  idle    p50 {idle_s['p50']:6.1f}  p95 {idle_s['p95']:6.1f}  max {idle_s['max']:6.1f}"
        f"   ({args.idle_rounds} rounds, {idle_s['n']} runs)"
    )
    print(
        f"  loaded  p50 {loaded_s['p50']:6.1f}  p95 {loaded_s['p95']:6.1f}  max {loaded_s['max']:6.1f}"
        f"   ({report['p50_ratio']:.2f}x / {report['p95_ratio']:.2f}x idle)"
    )
    print(
        f"backfill: {args.backfill} issues {big_result['phase']} in {big_seconds or float('nan'):.1f}s "
        f"({throughput:,.0f} issues/s)"
    )
    worst = max(report["per_run_ratio"].items(), key=lambda kv: kv[1], default=("-", float("nan")))
    print(
        f"small runs requested {loaded_after:.1f}s after the backfill ({backfill_loaded_before} of its "
        f"issues loaded by then); worst run against its idle median: {worst[0]} {worst[1]:.2f}x"
    )
    print(
        f"rows in the wrong tenant: {sum(wrong.values())}; work items per tenant: "
        f"{items.get(BIG)} for {BIG}, {sorted({items.get(t) for t in SMALL}, key=str)} for the small ones"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    problems = []
    runs = [*idle_results.values(), *loaded_results.values(), big_result]
    if any(r["phase"] != "Succeeded" for r in runs):
        problems.append("a run did not succeed")
    if (
        sum(wrong.values())
        or items.get(BIG) != args.backfill
        or any(items.get(t) != args.small for t in SMALL)
    ):
        problems.append("rows landed in the wrong tenant or are missing")
    if report["p95_ratio"] > args.max_ratio or any(
        loaded.get(t, float("inf")) > args.max_ratio * idle.get(t, 0) for t in SMALL
    ):
        problems.append(f"a small run took more than {args.max_ratio}x its idle time")
    for p in problems:
        print(f"FAILED: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
