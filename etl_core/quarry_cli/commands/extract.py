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
    from quarry_extractor.cli import main

    return main(args.run_id)
