"""`quarry`: one command line for every Quarry process and for operating a platform."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from quarry_cli.commands.bench import with_script
from quarry_core.errors import ConfigError, QuarryError

# Each module registers its sub-commands; later modules add, none rework.
COMMAND_MODULES = (
    "quarry_cli.commands.admin",
    "quarry_cli.commands.extract",
    "quarry_cli.commands.workers",
    "quarry_cli.commands.resources",
    "quarry_cli.commands.run",
    "quarry_cli.commands.up",
    "quarry_cli.commands.operator",
    "quarry_cli.commands.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quarry",
        description="Quarry: Kubernetes-native ETL for engineering analytics (Jira and GitHub).",
        epilog="Environment: DATABASE_URL, AMQP_URL, QDRANT_URL, QUARRY_DATA_DIR (see the README).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(with_script(sys.argv[1:] if argv is None else argv))
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print(f"quarry: error: {exc}", file=sys.stderr)
        return 2
    except QuarryError as exc:  # an expected failure (an outage, a refused request): one line, no traceback
        print(f"quarry: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
