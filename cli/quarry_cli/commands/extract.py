"""`quarry extract --run-id ID`: extract one run's pages into raw_extraction_data."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    extract = subparsers.add_parser(
        "extract",
        help="run the extraction of one run (the extract pod's entry point)",
        description="Fetch every page of the run's Jira or GitHub streams into raw_extraction_data, "
        "publishing one transform message per stored page; resumes from the run's checkpoint. "
        "Exit codes: 0 done, 1 retriable (run resumes on retry), 3 fatal (run Failed), "
        "143 stopped by SIGTERM after a checkpoint.",
    )
    extract.add_argument("--run-id", type=int, required=True, help="the etl_runs id to extract")
    extract.set_defaults(func=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    if _is_retransform(args.run_id):
        # One entry point for every run pod: a re-transform run replays stored pages instead.
        return _replay(args.run_id)
    from quarry_extractor.cli import main

    return main(args.run_id)


def _is_retransform(run_id: int) -> bool:
    from quarry_core.db.engine import get_engine
    from quarry_core.db.models import EtlRun
    from quarry_core.db.tenancy import platform_sessions
    from quarry_core.settings import CoreSettings
    from quarry_core.states import RunTrigger

    with platform_sessions(get_engine(CoreSettings()))() as session:
        run = session.get(EtlRun, run_id)
        return run is not None and run.trigger == RunTrigger.RETRANSFORM.value


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
