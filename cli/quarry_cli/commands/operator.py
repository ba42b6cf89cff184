"""`quarry operator`: the kopf operator for Integration and EtlJob custom resources."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "operator",
        help="run the Kubernetes operator (kopf): extract Jobs, run status, worker scaling",
        description="Watch Integration and EtlJob resources, run each EtlJob's extract Jobs, mirror the "
        "runs into the EtlJob status, and scale the worker Deployments from queue depth. Reads "
        "DATABASE_URL, AMQP_URL and the QUARRY_* operator settings from the environment.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", action="append", default=[], metavar="NS",
        help="watch this namespace (repeatable; globs like 'team-*' work); "
        "default: $QUARRY_OPERATOR_NAMESPACES",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch the whole cluster")
    parser.add_argument(
        "--standalone", action="store_true",
        help="do not coordinate with other operator instances (kopf peering); "
        "the chart runs one replica with the Recreate strategy",
    )
    parser.add_argument("--peering", metavar="NAME", help="kopf peering object name (when not --standalone)")
    parser.add_argument(
        "--liveness-port", type=int, default=8080, metavar="PORT",
        help="serve kopf's liveness probe on http://0.0.0.0:PORT/healthz (0: off; default 8080)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every handler step")
    parser.set_defaults(func=run_operator)


def run_operator(args: argparse.Namespace) -> int:
    import kopf

    import quarry_operator.handlers  # noqa: F401  (registers the handlers)
    from quarry_core.errors import ConfigError
    from quarry_operator.settings import OperatorSettings

    settings = OperatorSettings()
    namespaces = list(args.namespace) or settings.namespace_list
    if not namespaces and not args.all_namespaces:
        raise ConfigError("give --namespace NS (repeatable), --all-namespaces, or QUARRY_OPERATOR_NAMESPACES")
    if not settings.database_url:
        raise ConfigError("DATABASE_URL must be set for the operator (runs live in PostgreSQL)")
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.JSON
                   if settings.log_format == "json" else kopf.LogFormat.FULL)
    liveness = f"http://0.0.0.0:{args.liveness_port}/healthz" if args.liveness_port else None
    kopf.run(
        standalone=args.standalone,
        peering_name=args.peering,
        clusterwide=args.all_namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )
    return 0
