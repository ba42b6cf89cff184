"""Real `quarry worker transform` and `quarry worker load` processes for outage tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

KINDS = ("transform", "load")


def start_workers(env: dict[str, str], logs: Path) -> tuple[list[subprocess.Popen[bytes]], dict[str, Path]]:
    """One process of each kind; each one's stderr (its log) goes to `logs/<kind>.log`."""
    paths = {kind: logs / f"{kind}.log" for kind in KINDS}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "quarry_cli.main", "worker", kind],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=paths[kind].open("wb"),
            start_new_session=True,
        )
        for kind in KINDS
    ]
    return procs, paths


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM (the workers finish the batch in hand), SIGKILL whatever is still up after 15 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
