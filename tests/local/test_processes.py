"""Process supervision: process groups, SIGTERM then SIGKILL, no orphans."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from quarry_local.processes import Supervisor, describe_exit

# A child that starts a grandchild (in its group), writes both pids, and optionally ignores SIGTERM.
SPAWNER = """
import os, signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("ready", flush=True)
open(sys.argv[2], "w").write(f"{os.getpid()} {grandchild.pid}")
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def gone(*pids: int, timeout: float = 3.0) -> bool:
    """True once none of `pids` runs (signal delivery takes a moment)."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_for(path: Path) -> tuple[int, int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            child, grandchild = path.read_text().split()
            return int(child), int(grandchild)
        time.sleep(0.02)
    raise AssertionError("child did not start")


def test_stop_reaches_the_whole_group(tmp_path: Path) -> None:
    sup = Supervisor(log_dir=tmp_path / "logs", grace_seconds=30)
    pids = tmp_path / "pids"
    sup.start("run/1", [sys.executable, "-c", SPAWNER, "polite", str(pids)])
    child, grandchild = wait_for(pids)
    started = time.monotonic()
    (stopped,) = sup.stop_all()
    assert time.monotonic() - started < 20  # SIGTERM was enough: far from the 30 s grace of SIGKILL
    assert stopped.exit_code == -signal.SIGTERM and describe_exit(stopped.exit_code) == "killed by SIGTERM"
    assert gone(child, grandchild)
    assert "ready" in (tmp_path / "logs" / "run-1.log").read_text()


def test_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    sup = Supervisor(grace_seconds=0.5)
    pids = tmp_path / "pids"
    sup.start("worker/load/1", [sys.executable, "-c", SPAWNER, "stubborn", str(pids)])
    child, grandchild = wait_for(pids)
    sup.request_stop("worker/load/1")
    deadline = time.monotonic() + 5
    while sup.running() and time.monotonic() < deadline:
        sup.enforce_deadlines()
        time.sleep(0.05)
    (reaped,) = sup.reap()
    assert reaped.stopping and reaped.exit_code == -signal.SIGKILL
    sup.stop_all()
    assert gone(child, grandchild)


def test_exit_codes_and_tail(tmp_path: Path) -> None:
    sup = Supervisor(log_dir=tmp_path)
    sup.start("run/7", [sys.executable, "-c", "import sys; print('boom: bad page'); sys.exit(1)"])
    deadline = time.monotonic() + 10
    done = []
    while not done and time.monotonic() < deadline:
        done = sup.reap()
        time.sleep(0.02)
    (child,) = done
    assert child.exit_code == 1 and not child.stopping
    assert child.tail() == "boom: bad page"


def test_a_standby_extract_process_exits_cleanly_when_no_run_comes() -> None:
    """`quarry extract --standby` loads the extractor, then EOF on stdin (the controller stopped
    wanting it) ends it with 0, before any database is touched."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "quarry_cli.main", "extract", "--standby"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/none"},
    )
    assert done.returncode == 0, done.stderr


def test_a_child_started_nice_runs_at_lower_priority(tmp_path: Path) -> None:
    """The embed worker starts with `nice`: its niceness is the parent's plus that."""
    sup = Supervisor(grace_seconds=3)
    child = sup.start("worker/embed", [sys.executable, "-c", "import time; time.sleep(30)"], nice=7)
    try:
        with open(f"/proc/{child.pid}/stat") as f:
            niceness = int(f.read().rsplit(")", 1)[1].split()[16])
        assert niceness == min(os.nice(0) + 7, 19)
    finally:
        sup.stop_all()


def test_children_get_the_malloc_settings_unless_the_environment_has_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    sup = Supervisor(log_dir=tmp_path / "logs", grace_seconds=5)
    out = tmp_path / "env"
    code = (
        "import os, sys, time; open(sys.argv[1], 'w').write("
        "os.environ['MALLOC_ARENA_MAX'] + ' ' + os.environ['MALLOC_MMAP_THRESHOLD_']); time.sleep(60)"
    )
    sup.start("env", [sys.executable, "-c", code, str(out)])
    deadline = time.monotonic() + 20
    while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    sup.stop_all()
    assert out.read_text() == "4 262144"  # the user's arena count kept, the threshold defaulted
