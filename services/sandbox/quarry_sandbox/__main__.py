"""Run one imitation server in the foreground until SIGTERM/SIGINT.

    python -m quarry_sandbox jira --port 8081 --issues 5000 --seed 1
    python -m quarry_sandbox github --port 8082 --repos 3 --pulls 500
    python -m quarry_sandbox jira --fixtures DIR        # serve the devlake recordings in DIR
    python -m quarry_sandbox jira --fixtures            # ... in $QUARRY_FIXTURES_DIR

The first line on stdout is the base URL (so a parent process can read it when ``--port 0``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .faults import FaultConfig
from .github_data import GithubDataset
from .github_server import GithubConfig, GithubServer
from .http import SandboxServer
from .jira_data import FIXTURES_DIR_ENV, JiraDataset, fixtures_dir
from .jira_server import JiraConfig, JiraServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m quarry_sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("jira", "github"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--fixtures",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help=f"serve the devlake fixture items in DIR (default: ${FIXTURES_DIR_ENV}), not synthetic data",
    )
    jira = parser.add_argument_group("jira")
    jira.add_argument("--issues", type=int, default=1000)
    jira.add_argument("--projects", type=int, default=3)
    jira.add_argument("--sprints-per-board", type=int, default=6)
    jira.add_argument("--user-timezone", default="America/Los_Angeles")
    jira.add_argument("--email", default="bot@quarry.dev")
    jira.add_argument("--api-token", default="jira-token")
    jira.add_argument("--bearer-token", default="jira-oauth-token")
    gh = parser.add_argument_group("github")
    gh.add_argument("--org", default="acme")
    gh.add_argument("--repos", type=int, default=3)
    gh.add_argument("--pulls", type=int, default=300)
    gh.add_argument("--token", action="append", default=None, help="accepted token (repeatable)")
    gh.add_argument("--rest-limit", type=int, default=5000)
    gh.add_argument("--graphql-limit", type=int, default=5000)
    faults = parser.add_argument_group("faults")
    faults.add_argument("--rate-429", type=float, default=0.0)
    faults.add_argument("--rate-503", type=float, default=0.0)
    faults.add_argument("--rate-secondary", type=float, default=0.0)
    faults.add_argument("--retry-after", type=int, default=1)
    faults.add_argument("--quota", type=int, default=None, help="Jira: requests per window")
    faults.add_argument("--window-seconds", type=float, default=None)
    return parser


def make_server(args: argparse.Namespace) -> SandboxServer:
    if args.fixtures is not None:
        args.fixtures = fixtures_dir(args.fixtures or None)
    fc = FaultConfig(
        seed=args.seed,
        rate_429=args.rate_429,
        rate_503=args.rate_503,
        rate_secondary=args.rate_secondary,
        retry_after=args.retry_after,
        retry_after_503=args.retry_after,
        quota=args.quota,
    )
    if args.window_seconds is not None:
        fc.window_seconds = args.window_seconds
    elif args.kind == "jira":
        fc.window_seconds = 60.0
    if args.kind == "jira":
        jds = (
            JiraDataset.from_devlake(args.fixtures, api_user_email=args.email)
            if args.fixtures
            else JiraDataset.synthetic(
                args.issues,
                projects=args.projects,
                seed=args.seed,
                sprints_per_board=args.sprints_per_board,
                user_timezone=args.user_timezone,
                api_user_email=args.email,
            )
        )
        jcfg = JiraConfig(
            email=args.email, api_token=args.api_token, bearer_token=args.bearer_token, faults=fc
        )
        return JiraServer(jds, jcfg, host=args.host, port=args.port)
    gds = (
        GithubDataset.from_devlake(args.fixtures)
        if args.fixtures
        else GithubDataset.synthetic(args.repos, args.pulls, seed=args.seed, org=args.org)
    )
    gcfg = GithubConfig(
        tokens=tuple(args.token or ["gh-token"]),
        rest_limit=args.rest_limit,
        graphql_limit=args.graphql_limit,
        faults=fc,
    )
    if args.window_seconds is not None:
        gcfg.window_seconds = args.window_seconds
    return GithubServer(gds, gcfg, host=args.host, port=args.port)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        server = make_server(args)
    except FileNotFoundError as exc:
        parser.error(f"fixtures: {exc}")
    server.start()
    print(server.base_url, flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must not run on the main thread's stack
        # while that thread is inside serve_forever's join loop.
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
