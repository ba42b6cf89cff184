"""`quarry migrate` and `quarry queues`: the database schema and the queue topology."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from quarry_cli.output import add_output_flag, print_json, print_table


def register(subparsers: Any) -> None:
    migrate = subparsers.add_parser(
        "migrate",
        help="create or upgrade the database schema (idempotent)",
        description="Upgrade the Quarry database to the newest schema; does nothing when it is current.",
    )
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.add_argument("--downgrade", action="store_true", help="downgrade to --revision instead")
    migrate.set_defaults(func=run_migrate)

    down = subparsers.add_parser(
        "down",
        help="stop the embedded PostgreSQL of the data directory",
        description="Stop the embedded PostgreSQL that `quarry up` and the other commands start under "
        "QUARRY_DATA_DIR when DATABASE_URL is unset (it keeps running between commands on purpose). "
        "Stop `quarry up` first.",
    )
    down.set_defaults(func=run_down)

    queues = subparsers.add_parser(
        "queues",
        help="declare the queue topology and show the depth of every queue",
        description="Declare the extract/transform/load queues (with retry and dead-letter queues) "
        "and show ready, unacked, delayed and dead-lettered counts.",
    )
    add_output_flag(queues)
    queues.add_argument("--dead-letters", action="store_true", help="also list the dead letters with errors")
    queues.set_defaults(func=run_queues)


def run_migrate(args: argparse.Namespace) -> int:
    from quarry_core.db.engine import get_engine
    from quarry_core.db.migrate import downgrade, upgrade
    from quarry_core.settings import CoreSettings

    engine = get_engine(CoreSettings())
    if args.downgrade:
        downgrade(engine, args.revision if args.revision != "head" else "base")
        print(f"downgraded to {args.revision if args.revision != 'head' else 'base'}")
        return 0
    before, after = upgrade(engine, args.revision)
    if before == after:
        print(f"database schema is current (revision {after})")
    else:
        print(f"database schema upgraded from {before or 'empty'} to {after}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    from quarry_core.db.embedded import embedded_running, stop_embedded
    from quarry_core.settings import CoreSettings

    settings = CoreSettings()
    if settings.database_url:
        print("nothing to stop: DATABASE_URL points at a database Quarry does not run")
        return 0
    if not embedded_running(settings.data_dir):
        print(f"the embedded PostgreSQL under {settings.data_dir} is not running")
        return 0
    stop_embedded(settings.data_dir)
    print(f"stopped the embedded PostgreSQL under {settings.data_dir}")
    return 0


def run_queues(args: argparse.Namespace) -> int:
    from quarry_core.queue.base import STAGES
    from quarry_core.queue.factory import open_queue
    from quarry_core.settings import CoreSettings

    settings = CoreSettings()
    with open_queue(settings) as queue:
        queue.declare()
        depths = [queue.depth(stage) for stage in STAGES]
        dead = {stage.value: queue.dead_letters(stage) for stage in STAGES} if args.dead_letters else {}
    backend = "rabbitmq" if settings.amqp_url else "postgresql"
    if args.output == "json":
        data: dict[str, Any] = {
            "backend": backend,
            "queues": [{**asdict(d), "total": d.total} for d in depths],
        }
        if args.dead_letters:
            data["deadLetters"] = {
                stage: [
                    {"messageId": r.message_id, "error": r.error, "attempts": r.attempts} for r in records
                ]
                for stage, records in dead.items()
            }
        print_json(data)
        return 0
    print(f"backend: {backend}")
    print_table(
        ["QUEUE", "READY", "UNACKED", "DELAYED", "DEAD"],
        [[d.queue, d.ready, d.unacked, d.delayed, d.dead] for d in depths],
    )
    for stage, records in dead.items():
        for r in records:
            print(f"dead letter {stage} {r.message_id} (attempts {r.attempts}): {r.error}")
    return 0
