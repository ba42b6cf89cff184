"""Chaos run: a Jira job and a GitHub job on RabbitMQ while processes die and services go away.

    .venv/bin/python bench/chaos.py                      # 20 000 issues, 3 repositories, every fault
    .venv/bin/python bench/chaos.py --issues 2000 --pulls 60 --worker-kills 3 --extract-kills 0 \\
        --db-cut 0 --broker-cut 5 --json /tmp/chaos.json  # the CI size (tests/reliability)

One `quarry up` (local controller, extract and worker processes) on a fresh database reaches
PostgreSQL and RabbitMQ through TCP proxies on 127.0.0.1 that this run alone cuts; the shared
services stay up for everyone else. The same imitation Jira and GitHub servers serve two tenants:

1. `clean`: both jobs (mode full) without faults: the yardstick.
2. `chaos`: the same jobs while the imitation servers answer 10 % 429 and 2 % 503 (GitHub: 10 %
   secondary limits, 2 % 503) and a driver, at random moments it logs, SIGKILLs transform and
   load workers, the extract process, cuts the broker and the database.

GitHub pull requests come in pages of --github-page-size (10), so that the GitHub job makes
enough requests for its faults to be drawn; the report counts the faults each source answered.

It reports each fault with its time and the recovery after it (from the fault's end until both
extraction, if still under way, and loading have made progress again), the total times, and per
final table a hash over every loaded column except the tenant, surrogate ids and load timestamps.
Exit 0 only when both chaos runs Succeeded, every fault was injected and every table hash equals
the clean tenant's (and, with --max-ratio, the chaos run took at most that many times the clean one).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    JIRA_EMAIL,
    JIRA_TOKEN,
    apply,
    delete_queues,
    environment,
    jira_manifest,
    start_up,
    stop_up,
)
from quarry_core.tables import FINAL_TABLES  # noqa: E402
from quarry_sandbox import (  # noqa: E402
    GithubConfig,
    GithubDataset,
    GithubServer,
    JiraConfig,
    JiraDataset,
    JiraServer,
)
from tests.support.proxy import Proxy  # noqa: E402
from tests.support.services import AMQP_URL, temporary_database  # noqa: E402

GITHUB_TOKEN = "chaos-gh-token"
JOBS = ("jira-sync", "github-sync")
# Columns that legitimately differ between two loads of the same data.
NOT_COMPARED = {"id", "tenant", "integration_id", "raw_id", "loaded_at", "embedded_at"}

GITHUB = """
apiVersion: v1
kind: Secret
metadata: {{name: github-creds, namespace: {ns}}}
stringData: {{token: {token}}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: github, namespace: {ns}}}
spec:
  type: github
  baseUrl: {url}
  credentials: {{secretRef: {{name: github-creds}}}}
  scope: {{org: acme, repos: [{repos}]}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: github-sync, namespace: {ns}}}
spec:
  integrationRef: {{name: github}}
  mode: full
  entities: [repositories, pull_requests, commits]
  retry: {{maxAttempts: 5, backoffSeconds: 1}}
  workers:
    transform: {{maxReplicas: 2, pollingSeconds: 1, cooldownSeconds: 60}}
    load: {{maxReplicas: 2, pollingSeconds: 1, cooldownSeconds: 60}}
"""


FAULT_STATUSES = (403, 429, 503)  # GitHub's secondary limit is a 403 or a 429


@dataclass
class Fault:
    kind: str  # kill-transform | kill-load | kill-extract | broker-cut | db-cut
    planned_s: float
    # kill-extract: when the chaos tenant has stored this share of the clean tenant's pages (a
    # faster chaos extraction would otherwise end before a time-planned kill)
    planned_share: float | None = None
    at_s: float | None = None  # since the chaos runs were requested
    ended_s: float | None = None
    target: str = ""
    recovery_s: float | None = None
    loading_resumed_s: float | None = None  # after the fault's end
    extraction_resumed_s: float | None = None


@dataclass
class Phase:
    tenant: str
    seconds: float = 0.0
    extract_seconds: float = 0.0
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return len(self.jobs) == len(JOBS) and all(j["phase"] == "Succeeded" for j in self.jobs.values())


def plan_faults(
    rng: random.Random,
    clean_s: float,
    clean_extract_s: float,
    worker_kills: int,
    extract_kills: int,
    broker_cut: float,
    db_cut: float,
) -> list[Fault]:
    """Random moments within the part of the run where each fault can land: extract kills at
    15-50 % of the extraction's pages, the rest within the clean run's first 60 %."""
    faults = [
        Fault(rng.choice(["kill-transform", "kill-load"]), rng.uniform(0.05, 0.6) * clean_s)
        for _ in range(worker_kills)
    ]
    shares = [rng.uniform(0.15, 0.5) for _ in range(extract_kills)]
    faults += [Fault("kill-extract", share * clean_extract_s, share) for share in shares]
    if broker_cut > 0:
        faults.append(Fault("broker-cut", rng.uniform(0.1, 0.4) * clean_s))
    if db_cut > 0:
        faults.append(Fault("db-cut", rng.uniform(0.1, 0.4) * clean_s))
    return sorted(faults, key=lambda f: f.planned_s)


def proxied(url: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{port}"))


def children(pid: int) -> list[tuple[int, str]]:
    out = subprocess.run(
        ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return [
        (int(line.split(None, 1)[0]), line.split(None, 1)[1]) for line in out.splitlines() if line.strip()
    ]


def epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class Chaos:
    def __init__(self, args: argparse.Namespace, db_url: str, workdir: Path) -> None:
        self.args = args
        self.db = create_engine(db_url)
        pg, amqp = urlsplit(db_url), urlsplit(AMQP_URL)
        self.pg_proxy = Proxy((pg.hostname or "127.0.0.1", pg.port or 5432))
        self.mq_proxy = Proxy((amqp.hostname or "127.0.0.1", amqp.port or 5672))
        self.prefix = f"chaos{uuid.uuid4().hex[:8]}"
        # Pull requests in pages of 10 (instead of 50): enough GitHub requests for its faults to
        # be drawn (at 300 pull requests and pages of 50, a phase made ~19 and drew none).
        base = environment(
            workdir,
            self.prefix,
            QUARRY_ERROR_RECHECK_SECONDS="1",
            QUARRY_GITHUB_PR_PAGE_SIZE=str(args.github_page_size),
        )
        self.direct = {**base, "DATABASE_URL": db_url, "AMQP_URL": AMQP_URL}
        self.through_proxies = {
            **base,
            "DATABASE_URL": proxied(db_url, self.pg_proxy.port),
            "AMQP_URL": proxied(AMQP_URL, self.mq_proxy.port),
            # The management API (unacked counts, lanes) stays direct: only AMQP is cut.
            "RABBITMQ_MANAGEMENT_URL": f"http://{amqp.hostname or '127.0.0.1'}:15672",
        }
        self.workdir = workdir
        self.jira = JiraServer(
            JiraDataset.synthetic(args.issues, projects=2, seed=args.seed, api_user_email=JIRA_EMAIL),
            JiraConfig(email=JIRA_EMAIL, api_token=JIRA_TOKEN),
        ).start()
        self.github = GithubServer(
            GithubDataset.synthetic(args.repos, args.pulls, seed=args.seed, org="acme"),
            GithubConfig(tokens=(GITHUB_TOKEN,)),
        ).start()
        self.repos = ", ".join(
            sorted(r.split("/")[-1] for r in (repo.full_name for repo in self.github.dataset.repos))
        )
        self.up: subprocess.Popen[bytes] | None = None
        self.t0 = time.time()
        self.killed: set[int] = set()  # listed as children until the controller reaps them

    # --- set-up ----------------------------------------------------------------------------

    def apply(self, tenant: str) -> None:
        github = GITHUB.format(ns=tenant, token=GITHUB_TOKEN, url=self.github.base_url, repos=self.repos)
        apply(self.direct, [jira_manifest(tenant, self.jira.base_url, "full", 2), github])

    def start_up(self) -> None:
        self.up = start_up(self.through_proxies, self.workdir / "up.log")

    def faults_on(self, on: bool) -> None:
        self.jira.config.faults.rate_429 = 0.10 if on else 0.0
        self.jira.config.faults.rate_503 = 0.02 if on else 0.0
        self.github.config.faults.rate_secondary = 0.10 if on else 0.0
        self.github.config.faults.rate_503 = 0.02 if on else 0.0

    # --- one phase: both jobs of a tenant ---------------------------------------------------

    def run_phase(self, tenant: str, faults: list[Fault] | None = None) -> Phase:
        """Applying a tenant's jobs starts their first runs (mode full): that is the phase."""
        phase = Phase(tenant)
        started = self.t0 = time.time()
        self.apply(tenant)
        done = threading.Event()
        drivers = []
        if faults:
            timed = [f for f in faults if f.planned_share is None]
            by_pages = [f for f in faults if f.planned_share is not None]
            drivers = [
                threading.Thread(target=self.drive, args=(timed, done), daemon=True),
                threading.Thread(target=self.drive_by_pages, args=(by_pages, tenant, done), daemon=True),
            ]
            for driver in drivers:
                driver.start()
        deadline = started + self.args.timeout
        while time.time() < deadline:
            with self.db.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT j.name, r.id, r.phase, r.attempt, r.error, r.extract_finished_at "
                        "FROM etl_runs r JOIN etl_jobs j ON j.id = r.job_id WHERE r.tenant = :t"
                    ),
                    {"t": tenant},
                ).all()
            if len(rows) == len(JOBS) and all(r.phase in ("Succeeded", "Failed", "Cancelled") for r in rows):
                break
            time.sleep(0.2)
        phase.seconds = time.time() - started
        done.set()
        for driver in drivers:
            driver.join(timeout=120)
        phase.jobs = {
            r.name: {"run": r.id, "phase": r.phase, "attempt": r.attempt, "error": r.error} for r in rows
        }
        ends = [epoch(r.extract_finished_at) for r in rows]
        phase.extract_seconds = max((e for e in ends if e is not None), default=started) - started
        return phase

    # --- the fault driver ---------------------------------------------------------------------

    def drive(self, faults: list[Fault], done: threading.Event) -> None:
        # Later faults move by the length of each cut, so the kills planned during a cut do not
        # all land at its end.
        shift = 0.0
        for fault in faults:
            while time.time() - self.t0 < fault.planned_s + shift and not done.is_set():
                time.sleep(0.05)
            while not self.inject(fault):
                if done.is_set():
                    log(f"fault {fault.kind}: nothing to inject it into before the runs ended")
                    break
                time.sleep(0.1)
            if fault.kind.endswith("-cut") and fault.at_s is not None and fault.ended_s is not None:
                shift += fault.ended_s - fault.at_s

    def drive_by_pages(self, faults: list[Fault], tenant: str, done: threading.Event) -> None:
        total = self.pages("clean")
        for fault in faults:
            assert fault.planned_share is not None
            while self.pages(tenant) < fault.planned_share * total and not done.is_set():
                time.sleep(0.05)
            while not self.inject(fault) and not done.is_set():
                time.sleep(0.05)
            if fault.at_s is None:
                log(f"fault {fault.kind}: nothing to inject it into before the runs ended")

    def pages(self, tenant: str) -> int:
        with self.db.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM raw_extraction_data WHERE tenant = :t"), {"t": tenant}
                ).scalar_one()
            )

    def inject(self, fault: Fault) -> bool:
        assert self.up is not None
        if fault.kind.startswith("kill-"):
            what = {
                "kill-transform": "worker transform",
                "kill-load": "worker load",
                "kill-extract": "extract --",  # --run-id N, or --standby once handed a run
            }[fault.kind]
            candidates = [
                (pid, args) for pid, args in children(self.up.pid) if what in args and pid not in self.killed
            ]
            if fault.kind == "kill-extract":
                candidates = [c for c in candidates if self.run_of(*c) == "chaos"]
            if not candidates:
                return False
            pid, argv = random.Random(fault.planned_s).choice(candidates)
            fault.at_s = fault.ended_s = time.time() - self.t0
            os.kill(pid, signal.SIGKILL)
            self.killed.add(pid)
            fault.target = f"pid {pid} ({argv.split('quarry_cli.main', 1)[-1].strip()})"
        else:
            proxy, seconds = (
                (self.mq_proxy, self.args.broker_cut)
                if fault.kind == "broker-cut"
                else (self.pg_proxy, self.args.db_cut)
            )
            fault.at_s = time.time() - self.t0
            proxy.cut()
            time.sleep(seconds)
            proxy.restore()
            fault.ended_s = time.time() - self.t0
            fault.target = f"{seconds:g}s TCP cut"
        log(f"{fault.at_s:7.1f}s  {fault.kind:14s} {fault.target}")
        return True

    def run_of(self, pid: int, argv: str) -> str | None:
        """The tenant of the run an extract process works on (None: a standby not yet handed one)."""
        if "--run-id" in argv:
            run_id = argv.rsplit("--run-id", 1)[-1].split()[0]
        else:
            # The controller hands a run to its standby process through stdin and logs which.
            handed = re.search(
                rf"handed standby/extract \(pid {pid}\) to run/(\d+)",
                (self.workdir / "up.log").read_text(errors="replace"),
            )
            if handed is None:
                return None
            run_id = handed.group(1)
        with self.db.connect() as conn:
            return conn.execute(
                text("SELECT tenant FROM etl_runs WHERE id = :r"), {"r": int(run_id)}
            ).scalar()

    # --- measuring --------------------------------------------------------------------------

    def recoveries(self, faults: list[Fault], tenant: str) -> None:
        with self.db.connect() as conn:
            extract_end = (
                epoch(
                    conn.execute(
                        text("SELECT max(extract_finished_at) FROM etl_runs WHERE tenant = :t"), {"t": tenant}
                    ).scalar()
                )
                or 0.0
            )
            for fault in faults:
                if fault.ended_s is None:
                    continue
                end = self.t0 + fault.ended_s
                loaded = epoch(
                    conn.execute(
                        text(
                            "SELECT min(loaded_at) FROM load_batches "
                            "WHERE tenant = :t AND loaded_at > to_timestamp(:e)"
                        ),
                        {"t": tenant, "e": end},
                    ).scalar()
                )
                waits = [loaded] if loaded is not None else []
                fetched = None
                if extract_end > end:
                    fetched = epoch(
                        conn.execute(
                            text(
                                "SELECT min(fetched_at) FROM raw_extraction_data WHERE tenant = :t "
                                "AND fetched_at > to_timestamp(:e)"
                            ),
                            {"t": tenant, "e": end},
                        ).scalar()
                    )
                    waits += [fetched] if fetched is not None else []
                fault.recovery_s = max(waits) - end if waits else None
                fault.loading_resumed_s = loaded - end if loaded is not None else None
                if extract_end > end and fetched is not None:
                    fault.extraction_resumed_s = fetched - end

    def compared_columns(self, table: str) -> list[str]:
        with self.db.connect() as conn:
            names = conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                    "AND table_schema = 'public' ORDER BY ordinal_position"
                ),
                {"t": table},
            ).scalars()
            return [c for c in names if c not in NOT_COMPARED]

    def table_hashes(self, tenant: str) -> dict[str, tuple[int, str]]:
        hashes = {}
        with self.db.connect() as conn:
            for table in FINAL_TABLES:
                columns = ", ".join(self.compared_columns(table))
                row = conn.execute(
                    text(
                        f"SELECT count(*), coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') "
                        f"FROM (SELECT {columns} FROM {table} WHERE tenant = :t) r"
                    ),
                    {"t": tenant},
                ).one()
                hashes[table] = (int(row[0]), str(row[1]))
        return hashes

    def differences(self, table: str, limit: int = 3) -> list[str]:
        """A few rows one tenant has and the other has not: what to look at when hashes differ."""
        columns = ", ".join(self.compared_columns(table))
        out = []
        with self.db.connect() as conn:
            for a, b in (("clean", "chaos"), ("chaos", "clean")):
                rows = conn.execute(
                    text(
                        f"SELECT {columns} FROM {table} WHERE tenant = :a EXCEPT ALL "
                        f"SELECT {columns} FROM {table} WHERE tenant = :b LIMIT :n"
                    ),
                    {"a": a, "b": b, "n": limit},
                ).all()
                out += [f"only in {a}: {tuple(r)}" for r in rows]
        return out

    def close(self) -> None:
        stop_up(self.up)
        self.jira.stop()
        self.github.stop()
        self.pg_proxy.close()
        self.mq_proxy.close()
        delete_queues(AMQP_URL, self.prefix)
        self.db.dispose()


def log(line: str) -> None:
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--repos", type=int, default=3)
    parser.add_argument("--pulls", type=int, default=300, help="pull requests in all repositories")
    parser.add_argument(
        "--github-page-size", type=int, default=10, help="pull requests per GitHub page (both phases)"
    )
    parser.add_argument("--worker-kills", type=int, default=10)
    parser.add_argument("--extract-kills", type=int, default=1)
    parser.add_argument("--broker-cut", type=float, default=15.0, help="seconds (0: none)")
    parser.add_argument("--db-cut", type=float, default=10.0, help="seconds (0: none)")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--timeout", type=float, default=1800.0, help="per phase")
    parser.add_argument("--max-ratio", type=float, default=None, help="fail when chaos/clean time exceeds it")
    parser.add_argument("--json", type=Path, help="write the report here too")
    parser.add_argument("--logs", type=Path, help="copy the process logs here at the end")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with temporary_database("quarry_chaos") as db_url, tempfile.TemporaryDirectory() as tmp:
        chaos = Chaos(args, db_url, Path(tmp))
        try:
            chaos.start_up()
            log(
                f"seed {args.seed}: {args.issues} issues, {args.repos} repositories, "
                f"{args.pulls} pull requests"
            )
            clean = chaos.run_phase("clean")
            log(
                f"clean: {clean.seconds:.1f}s (extraction {clean.extract_seconds:.1f}s), "
                + ", ".join(f"{j} {r['phase']}" for j, r in clean.jobs.items())
            )
            faults = plan_faults(
                rng,
                clean.seconds,
                clean.extract_seconds,
                args.worker_kills,
                args.extract_kills,
                args.broker_cut,
                args.db_cut,
            )
            chaos.faults_on(True)
            hit = chaos.run_phase("chaos", faults)
            chaos.faults_on(False)
            chaos.recoveries(faults, "chaos")
            hashes = {t: chaos.table_hashes(t) for t in ("clean", "chaos")}
            differences = {
                table: chaos.differences(table)
                for table in FINAL_TABLES
                if hashes["clean"][table] != hashes["chaos"][table]
            }
            requests = {
                "jira": dict(chaos.jira.counters.by_status),
                "github": dict(chaos.github.counters.by_status),
            }
        finally:
            chaos.close()
            if args.logs:
                # the controller's and every process's logs, for a run that went wrong
                shutil.copytree(tmp, args.logs, dirs_exist_ok=True, ignore=shutil.ignore_patterns("pg*"))
    tables = {
        table: {
            "clean_rows": hashes["clean"][table][0],
            "chaos_rows": hashes["chaos"][table][0],
            "equal": hashes["clean"][table] == hashes["chaos"][table],
            "differences": differences.get(table, []),
            "hash": hashes["chaos"][table][1],
        }
        for table in FINAL_TABLES
    }
    ratio = hit.seconds / clean.seconds if clean.seconds else float("inf")
    report = {
        "seed": args.seed,
        "issues": args.issues,
        "repos": args.repos,
        "pulls": args.pulls,
        "clean": asdict(clean),
        "chaos": asdict(hit),
        "ratio": ratio,
        "faults": [asdict(f) for f in faults],
        "tables": tables,
        "source_statuses": requests,
    }
    log("\nfault            at (s)  until (s)  recovery (s)  (loads, pages)  target")
    for f in faults:
        at = f"{f.at_s:7.1f}" if f.at_s is not None else "    n/a"
        until = f"{f.ended_s:9.1f}" if f.ended_s is not None else "      n/a"
        rec = f"{f.recovery_s:12.1f}" if f.recovery_s is not None else "         n/a"
        parts = (f.loading_resumed_s, f.extraction_resumed_s)
        rec += "  (" + ", ".join("-" if p is None else f"{p:.1f}" for p in parts) + ")"
        log(f"{f.kind:14s} {at}  {until}  {rec}  {f.target}")
    log(
        f"\nclean {clean.seconds:.1f}s, chaos {hit.seconds:.1f}s: {ratio:.2f}x; "
        + "; ".join(f"{j} {r['phase']} (attempt {r.get('attempt')})" for j, r in hit.jobs.items())
    )
    for table, t in tables.items():
        log(
            f"  {table:24s} clean {t['clean_rows']:>7}  chaos {t['chaos_rows']:>7}  "
            f"{'identical' if t['equal'] else 'DIFFERENT'}"
        )
        for line in t["differences"]:
            log(f"    {line[:300]}")
    log(f"imitation servers answered: {requests}")
    faults_answered = {
        source: sum(n for code, n in by.items() if code in FAULT_STATUSES) for source, by in requests.items()
    }
    report["source_faults"] = faults_answered
    if args.worker_kills and not all(faults_answered.values()):
        log(f"note: a source drew no fault in this run: {faults_answered}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    problems = []
    if not (clean.succeeded and hit.succeeded):
        problems.append("a run did not succeed")
    if any(f.at_s is None for f in faults):
        problems.append("a fault was never injected")
    if not all(t["equal"] for t in tables.values()):
        problems.append("a table differs from the clean run's")
    if args.max_ratio is not None and ratio > args.max_ratio:
        problems.append(f"the chaos run took {ratio:.2f}x the clean run (limit {args.max_ratio})")
    for p in problems:
        log(f"FAILED: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
