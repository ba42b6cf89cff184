"""`quarry up [--demo]`: the whole platform on one machine, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("quarry.up")


def register(subparsers: Any) -> None:
    up = subparsers.add_parser(
        "up",
        help="run the controller, workers and HTTP endpoints on this machine",
        description="Start the local controller (one extract process per run, transform/load workers "
        "scaled from queue depth) and serve the HTTP API, /healthz and /metrics on --port at once. "
        "Uses an embedded PostgreSQL and the PostgreSQL queue unless DATABASE_URL / AMQP_URL are set; "
        "data lives in "
        "QUARRY_DATA_DIR (default ~/.quarry). Ctrl-C or SIGTERM stops every process cleanly; "
        "interrupted runs resume at the next start.",
    )
    up.add_argument(
        "--port", type=int, default=None, help="port of the HTTP API, /healthz and /metrics (default 8000)"
    )
    up.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    up.add_argument(
        "--demo",
        action="store_true",
        help="also start imitation Jira and GitHub, sync a 'demo' tenant from both, show the result",
    )
    up.add_argument("--exit-after-demo", action="store_true", help="with --demo: stop once the demo is done")
    up.set_defaults(func=run_up)


class Health:
    """What /healthz reports; written by the start-up sequence and the controller thread."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"status": "starting", "database": "starting", "controller": "starting"}
        self.failed = False
        self.probes: dict[str, Callable[[], Any]] = {}  # values read at each request

    def report(self) -> dict[str, Any]:
        return {**self.state, **{name: probe() for name, probe in self.probes.items()}}

    def set(self, **values: Any) -> None:
        self.state.update(values)


def build_app(health: Health) -> Any:
    """The HTTP API (/api/v1) with /healthz reporting `quarry up`'s own state, /readyz and /metrics."""
    from quarry_backend.app import create_app
    from quarry_backend.settings import ApiSettings

    return create_app(ApiSettings(), health=lambda: (health.report(), health.failed))


def serve(app: Any, host: str, port: int) -> tuple[Any, threading.Thread]:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="quarry-http", daemon=True)
    thread.start()
    return server, thread


def run_up(args: argparse.Namespace) -> int:
    import time

    from quarry_core.db.engine import get_engine, redact
    from quarry_core.db.migrate import upgrade
    from quarry_core.db.tenancy import platform_sessions
    from quarry_core.logs import configure_logging
    from quarry_local.controller import ControllerThread
    from quarry_local.settings import LocalSettings
    from quarry_workers.health import active_embedder

    settings = LocalSettings()
    updates = {k: v for k, v in (("port", args.port), ("host", args.host)) if v is not None}
    settings = settings.model_copy(update=updates)
    configure_logging(settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    health = Health()
    embedder_kind = os.environ.get("QUARRY_EMBEDDER", "auto")
    health.probes["embedder"] = lambda: active_embedder(settings.data_dir, embedder_kind)
    server, http_thread = serve(build_app(health), settings.host, settings.port)
    url = f"http://{settings.host}:{settings.port}"
    deadline = time.monotonic() + 10
    while not server.started and http_thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        print(f"quarry: error: cannot serve on {settings.host}:{settings.port}", file=sys.stderr)
        return 2
    print(f"quarry up: API on {url}/api/v1 (docs {url}/api/v1/docs), health on {url}/healthz", flush=True)

    engine = get_engine(settings)
    upgrade(engine)
    health.set(database=redact(engine.url.render_as_string(hide_password=False)))
    print(
        f"quarry up: database {health.state['database']}; queue "
        f"{'rabbitmq' if settings.amqp_url else 'postgresql'}; data in {settings.data_dir}",
        flush=True,
    )

    controller = ControllerThread(settings, engine)
    controller.start(wait_for_lock=True)
    health.set(status="ok", controller="running")
    demo_thread: threading.Thread | None = None
    demo_result: dict[str, bool] = {}
    sandboxes: list[Any] = []
    if args.demo:
        from quarry_cli.demo import run_demo

        def demo() -> None:
            try:
                demo_result["ok"] = run_demo(
                    settings, platform_sessions(engine), sys.stdout, stop, url, on_sandboxes=sandboxes.append
                )
            except Exception:
                log.exception("the demo failed")
                demo_result["ok"] = False
            if args.exit_after_demo:
                stop.set()
            elif demo_result.get("ok"):
                print("\nquarry up: still serving; Ctrl-C stops everything", flush=True)

        demo_thread = threading.Thread(target=demo, name="quarry-demo", daemon=True)
        demo_thread.start()
    try:
        while not stop.is_set():
            stop.wait(0.5)
            leader = controller.controller.leader
            health.set(controller="running" if leader else "waiting for the controller lock")
            if not controller.alive:
                health.failed = True
                health.set(status="failed", controller=f"stopped: {controller.error}")
                log.error("the controller stopped; shutting down")
                break
    finally:
        print(
            "quarry up: stopping (processes get SIGTERM, then SIGKILL after "
            f"{settings.stop_grace_seconds:g}s)",
            flush=True,
        )
        controller.stop()
        for boxes in sandboxes:
            boxes.stop()
        server.should_exit = True
        http_thread.join(5)
    if args.demo and args.exit_after_demo:
        return 0 if demo_result.get("ok") else 1
    return 0 if not health.failed else 1
