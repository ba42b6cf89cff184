"""`quarry extract --run-id ID`: extract one run's pages into raw_extraction_data."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO


def register(subparsers: Any) -> None:
    extract = subparsers.add_parser(
        "extract",
        help="run the extraction of one run (the extract pod's entry point)",
        description="Fetch every page of the run's Jira or GitHub streams into raw_extraction_data, "
        "publishing one transform message per stored page; resumes from the run's checkpoint. "
        "Exit codes: 0 done, 1 retriable (run resumes on retry), 3 fatal (run Failed), "
        "143 stopped by SIGTERM after a checkpoint.",
    )
    which = extract.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", type=int, help="the etl_runs id to extract")
    which.add_argument(
        "--standby",
        action="store_true",
        help="load everything, then wait for one line `RUN_ID [LOG_FILE]` on stdin and extract that run "
        "(writing its output to LOG_FILE); EOF exits 0. `quarry up` keeps one such process ready so a "
        "run starts without the interpreter's start-up",
    )
    extract.set_defaults(func=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    run_id = args.run_id
    if args.standby:
        from quarry_extractor import cli  # noqa: F401  (the point of waiting: imported before the run)

        assigned = wait_for_run(sys.stdin)
        if assigned is None:
            return 0
        run_id, log_file = assigned
        if log_file:
            redirect_output(log_file)
    if _is_retransform(run_id):
        # One entry point for every run pod: a re-transform run replays stored pages instead.
        return _replay(run_id)
    from quarry_extractor.cli import main

    return main(run_id)


def wait_for_run(stdin: TextIO) -> tuple[int, str] | None:
    """`RUN_ID [LOG_FILE]` from one line of stdin; None at EOF (the standby is no longer wanted)."""
    line = stdin.readline().strip()
    if not line:
        return None
    run_id, _, log_file = line.partition(" ")
    return int(run_id), log_file.strip()


def redirect_output(path: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _is_retransform(run_id: int) -> bool:
    from quarry_core.db.models import EtlRun
    from quarry_core.db.tenancy import platform_sessions
    from quarry_core.outage import engine_when_reachable, through_outages
    from quarry_core.settings import CoreSettings
    from quarry_core.states import RunTrigger

    # The process's first connection: one started during a database restart waits for it, so the
    # restart costs the run no attempt.
    settings = CoreSettings()
    what = f"run {run_id}: connecting to the database"
    sessions = platform_sessions(engine_when_reachable(settings, what))

    def trigger() -> str | None:
        with sessions() as session:
            run = session.get(EtlRun, run_id)
            return None if run is None else run.trigger

    return through_outages(trigger, what, max_seconds=settings.outage_seconds) == RunTrigger.RETRANSFORM.value


def _replay(run_id: int) -> int:
    from quarry_core.db.engine import get_engine
    from quarry_core.db.tenancy import platform_sessions
    from quarry_core.queue.factory import open_queue
    from quarry_core.replay import replay
    from quarry_core.settings import CoreSettings

    settings = CoreSettings()
    with open_queue(settings) as queue:
        count = replay(platform_sessions(get_engine(settings)), queue, run_id)
    print(f"run {run_id}: replayed {count} stored pages")
    return 0
