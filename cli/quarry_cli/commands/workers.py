"""`quarry worker transform|load|embed` and `quarry retransform JOB -n NAMESPACE`."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from quarry_cli.output import add_output_flag, print_json


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser(
        "worker",
        help="run a transform, load or embed worker process",
        description="transform/load: consume that queue until SIGTERM. embed: write the vectors of "
        "work items and pull requests whose vector is missing or stale, in batches, until SIGTERM "
        "(runs never wait for it; with Qdrant local mode run exactly one per data directory). "
        "Reads DATABASE_URL, AMQP_URL, QDRANT_URL, QUARRY_DATA_DIR; QUARRY_EMBEDDER=auto|hashing|"
        "sentence|off picks the embedder; QUARRY_HEALTH_PORT serves /healthz and /metrics.",
    )
    worker.add_argument("kind", choices=["transform", "load", "embed"], help="which stage to run")
    worker.add_argument("--health-port", type=int, default=None, help="serve /healthz and /metrics here")
    worker.set_defaults(func=run_worker)

    retransform = subparsers.add_parser(
        "retransform",
        help="replay a job's stored raw pages through the current mappings",
        description="Start a run that re-transforms the raw pages of the job's last successful runs "
        "with the tenant's current mappings, without calling Jira or GitHub. Workers must be running.",
    )
    retransform.add_argument("job", help="EtlJob name")
    retransform.add_argument("-n", "--namespace", required=True, help="namespace (tenant) of the job")
    retransform.add_argument("--wait", action="store_true", help="wait until the run finishes")
    retransform.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait (with --wait)")
    add_output_flag(retransform)
    retransform.set_defaults(func=run_retransform)


def run_worker(args: argparse.Namespace) -> int:
    from quarry_workers.runner import run_worker as run
    from quarry_workers.settings import WorkerSettings

    settings = WorkerSettings()
    if args.health_port is not None:
        settings = settings.model_copy(update={"health_port": args.health_port})
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(args.kind, settings)
    return 0


def run_retransform(args: argparse.Namespace) -> int:
    import time

    from quarry_core.db.engine import get_engine, session_scope
    from quarry_core.db.tenancy import platform_sessions
    from quarry_core.queue.factory import open_queue
    from quarry_core.runs import counts, run_context
    from quarry_core.states import TERMINAL_RUN_PHASES, RunPhase
    from quarry_workers.retransform import RetransformError, retransform_job
    from quarry_workers.settings import WorkerSettings

    settings = WorkerSettings()
    factory = platform_sessions(get_engine(settings))
    with open_queue(settings) as queue:
        queue.declare()
        try:
            run_id = retransform_job(factory, queue, args.namespace, args.job)
        except RetransformError as exc:
            print(f"quarry: error: {exc}")
            return 1
    phase = RunPhase.RUNNING
    deadline = time.monotonic() + args.timeout
    while True:
        with session_scope(factory) as session:
            ctx = run_context(session, run_id)
            phase, error, per_entity = RunPhase(ctx.run.phase), ctx.run.error, counts(session, run_id)
        if not args.wait or phase in TERMINAL_RUN_PHASES or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if args.output == "json":
        print_json({"run": run_id, "phase": phase.value, "error": error, "counts": per_entity})
    else:
        print(f"retransform run {run_id}: {phase.value}" + (f" ({error})" if error else ""))
    return 0 if phase == RunPhase.SUCCEEDED or not args.wait else 1
