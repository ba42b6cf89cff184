"""Transform + load throughput on synthetic Jira pages, with a plain COPY of the same rows as yardstick.

    .venv/bin/python bench/pipeline.py --issues 50000
    .venv/bin/python bench/pipeline.py --issues 50000 --profile /tmp/load.html  # needs pyinstrument

Creates its own database on QUARRY_TEST_PG_URL's server (dropped afterwards), stores issue pages
of 100 issues with embedded changelogs, then runs the transform stage and the load stage each in
its own process (PostgreSQL queue; the load stage writes no vectors, `quarry worker embed` does)
and reports records/s and peak RSS per process.
Finally it COPYs exactly the rows the load stage upserted into empty copies of the tables. It
fails (exit 1) unless the run Succeeded and the tables hold exactly the generated issues and status
transitions.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

ADMIN = os.environ.get("QUARRY_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
STATUSES = [
    ("10000", "To Do", "new"),
    ("3", "In Progress", "indeterminate"),
    ("10001", "In Review", "indeterminate"),
    ("10002", "Done", "done"),
]


def issue(i: int) -> dict[str, Any]:
    created = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    steps = 1 + i % 3
    histories = []
    for k in range(steps):
        a, b = STATUSES[k], STATUSES[k + 1]
        histories.append(
            {
                "id": str(1_000_000 + i * 10 + k),
                "created": (created + timedelta(hours=k + 1)).isoformat(),
                "author": {"accountId": f"u{i % 50}", "displayName": f"User {i % 50}"},
                "items": [
                    {
                        "field": "status",
                        "fieldId": "status",
                        "from": a[0],
                        "fromString": a[1],
                        "to": b[0],
                        "toString": b[1],
                    }
                ],
            }
        )
    cur = STATUSES[steps]
    return {
        "id": str(10_000 + i),
        "key": f"BEN-{i}",
        "fields": {
            "summary": f"Issue {i}: improve the widget pipeline",
            "description": {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": f"Details of {i}"}]}],
            },
            "issuetype": {"name": ["Story", "Task", "Bug"][i % 3], "hierarchyLevel": 0},
            "status": {"id": cur[0], "name": cur[1], "statusCategory": {"key": cur[2]}},
            "project": {"id": "1", "key": "BEN", "name": "Bench"},
            "assignee": {"accountId": f"u{i % 50}"},
            "reporter": {"accountId": f"u{(i + 7) % 50}"},
            "customfield_10016": float(i % 8),
            "created": created.isoformat(),
            "updated": (created + timedelta(days=1)).isoformat(),
            "labels": [],
        },
        "changelog": {"startAt": 0, "total": steps, "histories": histories[::-1]},
    }


def stage(kind: str, url: str, prefix: str, out: Any, profile: str | None = None) -> None:
    from sqlalchemy.orm import sessionmaker

    from quarry_core.messages import LoadMessage, TransformMessage
    from quarry_core.queue.consumer import Consumer
    from quarry_core.queue.pg import PgQueue
    from quarry_core.states import Stage
    from quarry_workers.load_worker import LoadWorker
    from quarry_workers.transform_worker import TransformWorker

    engine = create_engine(url, pool_size=2)
    factory = sessionmaker(engine, expire_on_commit=False)
    queue = PgQueue(engine, prefix=prefix, max_attempts=3, retry_delay=1, visibility_timeout=600)
    consumer: Consumer[Any]
    if kind == "transform":
        consumer = Consumer(
            queue,
            Stage.TRANSFORM,
            TransformMessage,
            TransformWorker(factory, queue, 1000).handle_batch,
            batch_size=8,
            idle_timeout=0.5,
        )
    else:
        from quarry_workers.settings import WorkerSettings

        consumer = Consumer(
            queue,
            Stage.LOAD,
            LoadMessage,
            LoadWorker(factory).handle_batch,
            batch_size=WorkerSettings().load_batch_size,  # QUARRY_LOAD_BATCH_SIZE
            idle_timeout=0.5,
        )
    profiler = _profiler() if profile and kind == "load" else None
    started = finished = time.perf_counter()
    # The stage's time ends with its last message, not with the idle wait that tells it is done.
    while consumer.run_once():
        finished = time.perf_counter()
    if profiler is not None:
        profiler.stop()
        if profile.endswith(".html"):
            profiler.write_html(profile)
        else:
            with open(profile, "w") as f:
                f.write(profiler.output_text(show_all=False))
    out.put(
        {
            "stage": kind,
            "seconds": finished - started,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _profiler() -> Any:
    from pyinstrument import Profiler  # a developer tool, not a dependency

    profiler = Profiler(interval=0.001)
    profiler.start()
    return profiler


def copy_baseline(url: str, tenant: str) -> tuple[float, int]:
    """COPY the rows the load produced into empty look-alike tables: the floor for any loader."""
    engine = create_engine(url)
    total = 0
    with engine.begin() as conn:
        dumps = {}
        for table in ("work_items", "work_item_transitions", "people", "projects"):
            buf = io.StringIO()
            conn.connection.cursor().copy_expert(  # type: ignore[attr-defined]
                f"COPY (SELECT * FROM {table} WHERE tenant = '{tenant}') TO STDOUT", buf
            )
            dumps[table] = buf.getvalue()
            conn.execute(text(f"CREATE TABLE copy_{table} (LIKE {table} INCLUDING ALL)"))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        started = time.perf_counter()
        for table, data in dumps.items():
            cur.copy_expert(f"COPY copy_{table} FROM STDIN", io.StringIO(data))
            total += data.count("\n")
        raw.commit()
        return time.perf_counter() - started, total
    finally:
        raw.close()
        engine.dispose()


def expected_rows(issues: int) -> tuple[int, int]:
    """(work items, status transitions) that `issue(i)` for i < issues must load."""
    return issues, sum(1 + i % 3 for i in range(issues))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", type=int, default=50_000)
    parser.add_argument(
        "--profile", metavar="FILE", help="write a pyinstrument profile of the load stage (.html, else text)"
    )
    args = parser.parse_args()
    from quarry_core.db.migrate import upgrade
    from quarry_core.messages import TransformMessage
    from quarry_core.queue.pg import PgQueue
    from quarry_core.states import Stage

    name = f"quarry_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_engine(url)
        upgrade(engine)
        tenant, prefix = "bench", "bench"
        with engine.begin() as c:
            c.execute(text("INSERT INTO tenants (name) VALUES ('bench')"))
            integ = c.execute(
                text(
                    "INSERT INTO integrations (tenant, name, uid, type, spec, status, generation, "
                    "resource_version, labels, annotations) VALUES ('bench','j',:u,'jira','{}','{}',1,1,"
                    "'{}','{}') RETURNING id"
                ),
                {"u": str(uuid.uuid4())},
            ).scalar_one()
            job = c.execute(
                text(
                    "INSERT INTO etl_jobs (tenant, name, uid, integration_name, spec, status, generation,"
                    " resource_version, labels, annotations) VALUES ('bench','s',:u,'j','{}','{}',1,1,"
                    "'{}','{}') RETURNING id"
                ),
                {"u": str(uuid.uuid4())},
            ).scalar_one()
            run = c.execute(
                text(
                    "INSERT INTO etl_runs (tenant, job_id, integration_id, phase, mode, trigger, entities,"
                    " attempt, max_attempts, checkpoint, candidate_cursors) VALUES ('bench', :j, :i, "
                    "'Running','full','manual','[]',1,3,'{}','{}') RETURNING id"
                ),
                {"j": job, "i": integ},
            ).scalar_one()
        queue = PgQueue(engine, prefix=prefix, max_attempts=3, retry_delay=1, visibility_timeout=600)
        queue.declare()
        t0 = time.perf_counter()
        msgs = []
        with engine.begin() as c:
            for page, start in enumerate(range(0, args.issues, 100)):
                body = {"issues": [issue(i) for i in range(start, min(args.issues, start + 100))]}
                raw_id = c.execute(
                    text(
                        "INSERT INTO raw_extraction_data (tenant, integration_id, run_id, entity, "
                        "stream, page_seq, url, method, params, status, response, item_count) VALUES "
                        "('bench', :i, :r, 'issues', 'issues', :p, 'x', 'GET', '{}', 200, "
                        "CAST(:b AS jsonb), 100) RETURNING id"
                    ),
                    {"i": integ, "r": run, "p": page, "b": json.dumps(body)},
                ).scalar_one()
                m = TransformMessage(
                    tenant=tenant, run_id=run, integration_id=integ, raw_id=raw_id, entity="issues"
                )
                msgs.append((m.message_id, m.to_bytes()))
        queue.publish_many(Stage.TRANSFORM, msgs)
        with engine.begin() as c:
            c.execute(text("UPDATE etl_runs SET extract_finished_at = now() WHERE id = :r"), {"r": run})
        print(f"stored {args.issues} issues in {len(msgs)} pages in {time.perf_counter() - t0:.1f}s")
        results = {}
        out: Any = mp.get_context("spawn").Queue()
        for kind in ("transform", "load"):
            proc = mp.get_context("spawn").Process(target=stage, args=(kind, url, prefix, out, args.profile))
            proc.start()
            results[kind] = out.get()
            proc.join()
        with engine.connect() as c:
            wi = c.execute(text("SELECT count(*) FROM work_items")).scalar_one()
            tr = c.execute(text("SELECT count(*) FROM work_item_transitions")).scalar_one()
            phase = c.execute(text("SELECT phase FROM etl_runs WHERE id = :r"), {"r": run}).scalar_one()
        copy_s, copy_rows = copy_baseline(url, tenant)
        rows = wi + tr
        for kind, r in results.items():
            print(
                f"{kind:9s}: {r['seconds']:.1f}s  {args.issues / r['seconds']:,.0f} issues/s  "
                f"{rows / r['seconds']:,.0f} rows/s  peak RSS {r['rss_mib']:.0f} MiB"
            )
        load_s = results["load"]["seconds"]
        print(f"copy     : {copy_s:.2f}s for {copy_rows} rows ({copy_rows / copy_s:,.0f} rows/s)")
        print(f"load / COPY: {load_s / copy_s:.1f}x  (work items {wi}, transitions {tr}, run {phase})")
        engine.dispose()
        if phase != "Succeeded" or (wi, tr) != expected_rows(args.issues):
            want_wi, want_tr = expected_rows(args.issues)
            print(f"FAILED: run {phase}, loaded {wi}/{want_wi} work items and {tr}/{want_tr} transitions")
            return 1
        return 0
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    sys.exit(main())
