"""Supervision of the local child processes: extract runs and transform/load workers.

Each child leads its own process group, so stopping it reaches whatever it started too:
SIGTERM to the group, then SIGKILL after a grace period. On Linux each child also asks the kernel
for SIGTERM when the thread that started it dies (PR_SET_PDEATHSIG), so even a `quarry up`
killed with SIGKILL leaves no orphans behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

QUARRY = (sys.executable, "-m", "quarry_cli.main")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _preexec(nice: int) -> Callable[[], None]:
    def setup() -> None:
        _die_with_parent()
        if nice:
            os.nice(nice)

    return setup


@dataclass
class Child:
    """One supervised process."""

    key: str  # e.g. "run/42" or "worker/transform/3"
    argv: tuple[str, ...]
    popen: subprocess.Popen[bytes]
    log_path: Path | None
    started_at: float
    stopping: bool = False
    exit_code: int | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        if self.exit_code is None:
            self.exit_code = self.popen.poll()
            if self.exit_code is not None and self._log_file is not None:
                self._log_file.close()
        return self.exit_code

    def signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def tail(self, lines: int = 5, max_chars: int = 1500) -> str:
        """The last lines of the child's log (what it printed before it exited)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - 16384, 0))
            content = f.read().decode("utf-8", "replace")
        kept = [line for line in content.splitlines() if line.strip()][-lines:]
        return "\n".join(kept)[-max_chars:]


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


# glibc's malloc for the children, unless the environment says otherwise: two arenas instead of
# one per thread, and every block of 256 KiB or more (a raw page's text) mapped and returned
# whole when freed. Measured on a 20 000-issue run, the extract process's peak: 261-280 MiB
# without them, 248 MiB with the arena limit alone, 196 MiB with both (and bulkfetch pages of
# 5 000 histories); the image sets the same.
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "262144"}


class Supervisor:
    """Starts children with the parent's environment plus `env`, and stops them without orphans."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        grace_seconds: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.env = {**MALLOC_ENV, **os.environ, **(env or {})}
        self.log_dir = log_dir
        self.grace_seconds = grace_seconds
        self.clock = clock
        self.children: dict[str, Child] = {}

    def log_path(self, name: str) -> Path | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{name}.log"

    def start(
        self,
        key: str,
        argv: Sequence[str],
        log_name: str | None = None,
        stdin_pipe: bool = False,
        nice: int = 0,
    ) -> Child:
        """Start `argv` as `key`; with `stdin_pipe` the child reads what `hand_over` writes; `nice`
        lowers its CPU priority by that much."""
        if key in self.children and self.children[key].poll() is None:
            raise RuntimeError(f"{key} is already running")
        out: IO[bytes] | int = subprocess.DEVNULL
        log_path = self.log_path(log_name or key.replace("/", "-"))
        if log_path is not None:
            out = log_path.open("ab")
        popen = subprocess.Popen(
            list(argv),
            env=self.env,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_preexec(nice),
        )
        log_file = out if not isinstance(out, int) else None
        child = Child(key, tuple(argv), popen, log_path, self.clock(), _log_file=log_file)
        self.children[key] = child
        log.info("started %s (pid %d): %s", key, popen.pid, " ".join(argv[-3:]))
        return child

    def hand_over(
        self, key: str, new_key: str, argv: Sequence[str], line: str, log_name: str | None = None
    ) -> Child | None:
        """Give a waiting child (started with `stdin_pipe`) its work as one line (followed by the
        path of its new log file), and file it under `new_key` as if started with `argv`; None when
        it is gone or cannot take it (the caller then starts a fresh process)."""
        child = self.children.get(key)
        if child is None or child.stopping or child.poll() is not None or child.popen.stdin is None:
            return None
        log_path = self.log_path(log_name) if log_name else child.log_path
        try:
            child.popen.stdin.write(f"{line} {log_path or ''}".rstrip().encode() + b"\n")
            child.popen.stdin.close()
        except OSError:
            return None
        del self.children[key]
        child.key, child.argv, child.log_path = new_key, tuple(argv), log_path
        child.started_at = self.clock()
        self.children[new_key] = child
        log.info("handed %s (pid %d) to %s", key, child.pid, new_key)
        return child

    def running(self, prefix: str = "") -> list[Child]:
        return [c for k, c in self.children.items() if k.startswith(prefix) and c.poll() is None]

    def reap(self) -> list[Child]:
        """Forget and return every child that has exited since the last call."""
        done = [c for c in self.children.values() if c.poll() is not None]
        for c in done:
            del self.children[c.key]
        return done

    def request_stop(self, key: str) -> None:
        """SIGTERM now; `enforce_deadlines` sends SIGKILL once the grace period is over."""
        child = self.children.get(key)
        if child is None or child.poll() is not None or child.stopping:
            return
        child.stopping = True
        child.started_at = self.clock()  # reused as the moment the grace period began
        child.signal_group(signal.SIGTERM)
        log.info("stopping %s (pid %d)", key, child.pid)

    def enforce_deadlines(self) -> None:
        for child in self.children.values():
            overdue = self.clock() - child.started_at >= self.grace_seconds
            if child.stopping and child.poll() is None and overdue:
                log.warning("%s did not exit within %.0fs; killing it", child.key, self.grace_seconds)
                child.signal_group(signal.SIGKILL)

    def stop_all(self, grace_seconds: float | None = None) -> list[Child]:
        """Stop every child (SIGTERM, then SIGKILL after the grace period) and wait for all of them."""
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        children = list(self.children.values())
        for child in children:
            if child.poll() is None:
                child.stopping = True
                child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            remaining = deadline - time.monotonic()
            try:
                child.popen.wait(timeout=max(remaining, 0))
            except subprocess.TimeoutExpired:
                log.warning("%s did not exit within %.0fs; killing it", child.key, grace)
                child.signal_group(signal.SIGKILL)
                child.popen.wait()
            # Whatever the child started in its group goes too.
            child.signal_group(signal.SIGKILL)
            child.poll()
        self.children.clear()
        return children
