"""The README's first command: `quarry up --demo` on embedded defaults, as a new user runs it."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from quarry_core.db.embedded import stop_embedded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_quarry_up_demo_on_embedded_defaults(tmp_path: Path) -> None:
    data = tmp_path / "quarry"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AMQP_URL", "QDRANT_URL")}
    env["QUARRY_DATA_DIR"] = str(data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "quarry_cli.main", "up", "--demo", "--exit-after-demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = None
        deadline = time.monotonic() + 30
        while health is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None and health.status_code == 200  # served from the start
        output: list[str] = []
        reader = threading.Thread(target=lambda: output.extend(proc.stdout or []), daemon=True)
        reader.start()
        embedders = set()
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                embedders.add(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["embedder"])
            time.sleep(0.2)
        proc.wait(timeout=10)
        reader.join(10)
        out = "".join(output)
        assert proc.returncode == 0, out
        # /healthz names the embedder the embed worker really runs: the default (auto) takes the
        # sentence model where the extra is installed, else the hashing embedder
        active = "all-MiniLM-L6-v2" if importlib.util.find_spec("sentence_transformers") else "hashing-384"
        assert active in embedders and embedders <= {"starting", active}, embedders
        assert "demo: demo-jira-sync: Succeeded" in out
        assert "demo: demo-github-sync: Succeeded" in out
        table_lines = [line.split() for line in out.splitlines() if line.strip().endswith(" rows")]
        rows = {words[0]: int(words[1]) for words in table_lines}
        assert rows["work_items"] > 0 and rows["pull_requests"] > 0 and rows["work_item_transitions"] > 0
        assert "all embedded" in out  # vectors caught up in their own stage
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
        stop_embedded(data)
