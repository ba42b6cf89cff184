"""`quarry migrate` and `quarry queues`: the database schema and the queue topology."""

from __future__ import annotations

import argparse
import sys
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

    admin = subparsers.add_parser(
        "admin",
        help="bootstrap tenants and users of the HTTP API",
        description="Create tenants and users directly in the database (no running API needed).",
    )
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    tenant = admin_sub.add_parser("create-tenant", help="create a tenant (a namespace)")
    tenant.add_argument("name")
    tenant.add_argument("--display-name", default=None)
    tenant.set_defaults(func=run_create_tenant)
    user = admin_sub.add_parser(
        "create-user",
        help="create a user; the password is read from stdin",
        description="Create a user of TENANT. The password is read from standard input (one line), "
        "e.g. `printf '%%s' \"$PASSWORD\" | quarry admin create-user --tenant acme --email a@acme.io "
        "--role admin`; on a terminal it is prompted for.",
    )
    user.add_argument("--tenant", required=True)
    user.add_argument("--email", required=True)
    user.add_argument("--role", choices=["admin", "editor", "viewer"], default="viewer")
    user.add_argument("--full-name", default=None)
    user.add_argument("--platform-admin", action="store_true", help="may act in every tenant")
    user.set_defaults(func=run_create_user)

    api = subparsers.add_parser(
        "api",
        help="serve the HTTP API",
        description="Serve the HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json) with /healthz, "
        "/readyz and /metrics.",
    )
    api.add_argument("--port", type=int, default=None, help="port (default 8000 or QUARRY_API_PORT)")
    api.add_argument("--host", default=None, help="address to bind (default 127.0.0.1 or QUARRY_API_HOST)")
    api.set_defaults(func=run_api)


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


def _sessions() -> Any:
    from quarry_core.settings import CoreSettings
    from quarry_core.store import connect

    return connect(CoreSettings())


def run_create_tenant(args: argparse.Namespace) -> int:
    from quarry_backend.admin import AdminError, create_tenant

    with _sessions()() as session:
        try:
            created = create_tenant(session, args.name, args.display_name)
        except AdminError as exc:
            print(f"quarry: error: {exc}", file=sys.stderr)
            return 2
        session.commit()
    print(f"tenant/{args.name} {'created' if created else 'unchanged'}")
    return 0


def run_create_user(args: argparse.Namespace) -> int:
    import getpass

    from quarry_backend.admin import AdminError, create_user

    tty = sys.stdin.isatty()
    password = getpass.getpass("password: ") if tty else sys.stdin.readline().rstrip("\r\n")
    with _sessions()() as session:
        try:
            user = create_user(
                session,
                args.tenant,
                args.email,
                password,
                args.role,
                full_name=args.full_name,
                platform_admin=args.platform_admin,
            )
        except AdminError as exc:
            print(f"quarry: error: {exc}", file=sys.stderr)
            return 2
        session.commit()
    print(f"user/{user.email} created in tenant {args.tenant} (role {args.role})")
    return 0


def run_api(args: argparse.Namespace) -> int:
    import uvicorn

    from quarry_backend.app import create_app
    from quarry_backend.settings import ApiSettings
    from quarry_core.db.engine import get_engine
    from quarry_core.db.migrate import upgrade
    from quarry_core.logs import configure_logging

    settings = ApiSettings()
    updates = {k: v for k, v in (("port", args.port), ("host", args.host)) if v is not None}
    settings = settings.model_copy(update=updates)
    configure_logging(settings)
    upgrade(get_engine(settings))
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
    return 0
