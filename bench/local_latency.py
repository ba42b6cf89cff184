"""How fast the local runtime reacts: request accepted -> extract process started, and queue depth
crossing activation -> worker process started.

    .venv/bin/python bench/local_latency.py [--runs 10] [--polling 1]

Runs the real local controller on a fresh database (DATABASE_URL's server, or the test server at
127.0.0.1:5432) with stand-in run and worker processes, so the figures are the controller's:
the NOTIFY wake-up, the reconcile pass, the scaler's poll and the spawn. "alive" adds the child's
interpreter start (until its first statement runs).

Baselines measured in the same run: a bare spawn of the same interpreter until its first statement
runs (what no controller can beat), and the scaler's polling interval (the wait the design allows
before a worker starts). Each figure is printed with its ratio to its baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quarry_core.integration_check import CheckResult
from quarry_core.queue.pg import PgQueue
from quarry_core.states import Stage
from quarry_core.store import apply_text, request_run
from quarry_local.controller import Commands, Controller
from quarry_local.processes import Supervisor
from quarry_local.settings import LocalSettings
from tests.support.services import temporary_database

STAND_IN = """
import os, sys, time
open(os.path.join(os.environ["BENCH_DIR"], "alive-" + "-".join(sys.argv[1:])), "w").write(repr(time.time()))
if sys.argv[1] == "worker":
    time.sleep(600)
from sqlalchemy import create_engine, text
with create_engine(os.environ["DATABASE_URL"]).begin() as c:
    c.execute(text("update etl_runs set phase='Running', started_at=now(), extract_finished_at=now() "
                   "where id = :i"), {"i": int(sys.argv[3])})
"""

JOB = """
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: bench}}
stringData: {{email: a@b.c, token: t}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: src, namespace: bench}}
spec:
  type: jira
  baseUrl: "http://jira.invalid"
  credentials: {{secretRef: {{name: creds}}}}
  scope: {{projects: [ENG]}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: sync, namespace: bench}}
spec:
  integrationRef: {{name: src}}
  entities: [issues]
  workers:
    transform: {{pollingSeconds: {polling}, activation: 10, cooldownSeconds: 0, stabilizationSeconds: 0}}
    load: {{pollingSeconds: {polling}, activation: 10, cooldownSeconds: 0, stabilizationSeconds: 0}}
"""


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{name:<48} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   "
        f"max {ms[-1]:7.1f} ms   (n={len(ms)})"
    )


def bare_spawn(bench_dir: Path, runs: int) -> list[float]:
    """Popen of the same interpreter -> its first statement runs, without any controller."""
    script = bench_dir / "bare.py"
    script.write_text("import sys, time\nopen(sys.argv[1], 'w').write(repr(time.time()))\n")
    samples = []
    for i in range(runs):
        marker = bench_dir / f"bare-{i}"
        before = time.time()
        subprocess.run([sys.executable, str(script), str(marker)], check=True)
        samples.append(float(marker.read_text()) - before)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--polling", type=int, default=1, help="the job's workers.*.pollingSeconds")
    args = parser.parse_args()
    with temporary_database("quarry_bench") as url, tempfile.TemporaryDirectory() as tmp:
        bench_dir = Path(tmp)
        (bench_dir / "stand_in.py").write_text(STAND_IN)
        engine = create_engine(url)
        settings = LocalSettings(
            database_url=url,
            data_dir=bench_dir,
            secret_key=Fernet.generate_key().decode(),
            queue_prefix=f"qb{uuid.uuid4().hex[:8]}",
            QUARRY_EMBEDDER="off",
        )
        supervisor = Supervisor({"DATABASE_URL": url, "BENCH_DIR": tmp}, bench_dir / "logs", grace_seconds=2)
        controller = Controller(
            settings,
            engine,
            supervisor,
            Commands(quarry=(sys.executable, str(bench_dir / "stand_in.py")), embed=False),
            checker=lambda spec, creds, timeout: CheckResult(True, "Verified", "bench"),
        )
        assert controller.try_acquire()
        stop = threading.Event()
        thread = threading.Thread(target=controller.run_until, args=(stop,), daemon=True)
        thread.start()
        with Session(engine) as s, s.begin():
            apply_text(s, settings, JOB.format(polling=args.polling))

        def wait_idle() -> None:
            while True:
                with engine.connect() as c:
                    active = c.execute(
                        text("select count(*) from etl_runs where phase in ('Pending','Running')")
                    ).scalar_one()
                if not active and not supervisor.running("run/"):
                    return
                time.sleep(0.02)

        def event_after(kind: str, since: float, timeout: float = 60) -> float:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for at, what, _ in list(controller.events):
                    if what == kind and at >= since:
                        return at
                time.sleep(0.002)
            raise TimeoutError(kind)

        started, alive = [], []
        while True:  # the job's create run first
            with engine.connect() as c:
                if c.execute(text("select count(*) from etl_runs")).scalar_one():
                    break
            time.sleep(0.02)
        wait_idle()
        for _ in range(args.runs):
            with Session(engine) as s, s.begin():
                _, token = request_run(s, "bench", "sync")
            accepted = time.monotonic()
            accepted_wall = time.time()
            at = event_after("run-started", accepted)
            started.append(at - accepted)
            with engine.connect() as c:
                run_id = c.execute(
                    text("select id from etl_runs where token = :t"), {"t": token}
                ).scalar_one()
            marker = bench_dir / f"alive-extract---run-id-{run_id}"
            while not marker.exists() or not marker.read_text():
                time.sleep(0.002)
            alive.append(float(marker.read_text()) - accepted_wall)
            wait_idle()

        queue = PgQueue(engine, prefix=settings.queue_prefix)
        activated = []
        for i in range(args.runs):
            while supervisor.running("worker/"):
                time.sleep(0.02)
            queue.publish_many(
                Stage.TRANSFORM, [(f"m{i}-{n}", b"{}") for n in range(11)]
            )  # 11 > activation 10
            crossed = time.monotonic()
            activated.append(event_after("worker-started", crossed) - crossed)
            queue.purge(Stage.TRANSFORM)

        stop.set()
        thread.join()
        controller.shutdown()
        engine.dispose()
        baseline = bare_spawn(bench_dir, args.runs)
    spawn = statistics.median(baseline)
    print(summary("baseline: bare spawn -> interpreter up", baseline))
    print(summary("accepted -> extract process started", started), ratio(started, spawn, "bare spawn"))
    print(
        summary("accepted -> extract process alive (interpreter up)", alive),
        ratio(alive, spawn, "bare spawn"),
    )
    print(
        summary(f"depth > activation -> worker started (polling {args.polling}s)", activated),
        ratio(activated, args.polling, "polling interval"),
    )
    return 0


def ratio(values: list[float], baseline: float, name: str) -> str:
    return f"  = {statistics.median(values) / baseline:5.2f} x {name}"


if __name__ == "__main__":
    sys.exit(main())
