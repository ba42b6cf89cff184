"""A tiny /healthz + /metrics HTTP listener for a worker process (prometheus-client)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES = Counter("quarry_worker_messages_total", "Messages settled", ["stage", "outcome"])
RECORDS = Counter("quarry_worker_records_total", "Records transformed or loaded", ["stage", "table"])
VECTORS = Counter("quarry_worker_vectors_total", "Vector points upserted", ["embedder"])
VECTORS_PENDING = Gauge("quarry_vectors_pending", "Rows whose vector is missing or stale", ["kind"])
VECTORS_EMBEDDED = Gauge("quarry_vectors_embedded", "Rows whose vector is written", ["kind"])
BATCH_SECONDS = Histogram("quarry_worker_batch_seconds", "Time to handle one batch", ["stage"])


def serve(port: int, status: Callable[[], dict[str, Any]]) -> ThreadingHTTPServer:
    """Serve in a daemon thread; `status()` is the /healthz body (it names the active embedder)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                body, ctype = generate_latest(), CONTENT_TYPE_LATEST
            elif self.path.startswith("/healthz"):
                body, ctype = json.dumps({"status": "ok", **status()}).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


EMBEDDER_FILE = "embedder.json"


def publish_embedder(data_dir: Path, name: str) -> None:
    """Record which embedder this embed worker chose, for the /healthz of `quarry up`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    partial = data_dir / f".{EMBEDDER_FILE}.{os.getpid()}"
    partial.write_text(json.dumps({"embedder": name, "pid": os.getpid()}))
    partial.replace(data_dir / EMBEDDER_FILE)


def active_embedder(data_dir: Path, kind: str) -> str:
    """The embedder the data directory's embed worker runs: its name, `off`, or `starting` while no
    live embed worker has chosen yet (the record of a dead one does not count)."""
    if kind == "off":
        return "off"
    try:
        record = json.loads((data_dir / EMBEDDER_FILE).read_text())
        os.kill(int(record["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return "starting"
    return str(record["embedder"])
