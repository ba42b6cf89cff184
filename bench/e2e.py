"""End-to-end benchmark: Quarry against a plain fetch and dlt, on the same data, in one run.

    .venv/bin/python bench/e2e.py [--issues 20000] [--prs 2000] [--latency-ms 150]

Starts imitation Jira and GitHub servers and, on the same data in the same run, measures
- a plain sequential fetch of the Jira search pages (100 a page, changelog expanded, httpx, no
  storage): the floor any extractor is compared with;
- dlt's generic `rest_api` source loading the same search pages into the same PostgreSQL (in the
  bench virtualenv `bench/.venv-dlt`, made on first use with `pip install dlt[postgres]`; dlt is no
  dependency of Quarry);
- Quarry end to end, `quarry up` as a subprocess on RabbitMQ and on the PostgreSQL queue (the
  embedded default): a small first run on an idle platform (workers at zero), a full run, a full
  run with `--latency-ms` added to every response, GitHub pull requests with reviews and commits,
  and an incremental run after 1 % of the issues changed.
Every Quarry time runs from the run request to the run Succeeded (database timestamps); requests
are the imitation servers' own counters; peak RSS is read from /proc (VmHWM) of every process of
the platform while the case runs. The table goes to stdout and to `docs/benchmarks.md`
(`--docs`); `--json` writes the figures too. Only ratios of figures measured in the same run mean
anything on a shared machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quarry_core.db.migrate import upgrade  # noqa: E402
from quarry_core.settings import CoreSettings  # noqa: E402
from quarry_core.store import apply_text, request_run  # noqa: E402
from quarry_extractor.jira import BASE_FIELDS, issue_fields, issues_jql  # noqa: E402
from quarry_sandbox import JiraConfig, JiraDataset, JiraServer  # noqa: E402
from quarry_sandbox.github_data import GithubDataset  # noqa: E402
from quarry_sandbox.github_server import GithubConfig, GithubServer  # noqa: E402
from quarry_sandbox.http import Request, Response, SandboxServer  # noqa: E402

PG_ADMIN = os.environ.get("QUARRY_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("QUARRY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
DLT_VENV = ROOT / "bench" / ".venv-dlt"
EMAIL, JIRA_TOKEN, GH_TOKEN = "bot@quarry.dev", "bench-jira-token", "bench-gh-token"
JIRA_AUTH = {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}:{JIRA_TOKEN}".encode()).decode()}

JIRA_JOB = """
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}}}
stringData: {{email: {email}, token: {token}}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: src, namespace: {ns}}}
spec:
  type: jira
  baseUrl: {url}
  credentials: {{secretRef: {{name: creds}}}}
  scope: {{projects: [{projects}]}}
  budget: {{requestsPerHour: 100000}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: sync, namespace: {ns}}}
spec:
  integrationRef: {{name: src}}
  mode: incremental
  entities: [projects, issues, sprints]
"""

GITHUB_JOB = """
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}}}
stringData: {{token: {token}}}
---
apiVersion: quarry.dev/v1alpha1
kind: Integration
metadata: {{name: src, namespace: {ns}}}
spec:
  type: github
  baseUrl: {url}
  credentials: {{secretRef: {{name: creds}}}}
  scope: {{org: {org}}}
  budget: {{requestsPerHour: 100000}}
---
apiVersion: quarry.dev/v1alpha1
kind: EtlJob
metadata: {{name: sync, namespace: {ns}}}
spec:
  integrationRef: {{name: src}}
  mode: incremental
  entities: [repositories, pull_requests, commits]
"""


@dataclass
class Row:
    """One line of the table."""

    case: str
    tool: str
    latency_ms: float
    requests: int
    seconds: float
    items: int
    unit: str = "issues"
    phase: str = "Succeeded"
    complete: bool | None = None  # loaded exactly the imitation's items
    peak_rss_mib: float | None = None  # the largest process
    peak_rss_process: str = ""
    tree_rss_mib: float | None = None  # the whole process tree at its largest
    rss: dict[str, float] = field(default_factory=dict)
    note: str = ""
    vs_plain: float | None = None
    vs_dlt: float | None = None

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


# --- imitation servers -------------------------------------------------------------------------


class Delay:
    """A settable delay added to every response of a server (a sleep: no CPU, like a WAN)."""

    def __init__(self, server: SandboxServer) -> None:
        self.seconds = 0.0
        dispatch = server.dispatch

        def delayed(req: Request) -> Response:
            if self.seconds > 0:
                time.sleep(self.seconds)
            return dispatch(req)

        server.dispatch = delayed  # type: ignore[method-assign]


def jira_server(issues: int, seed: int) -> tuple[JiraServer, Delay]:
    dataset = JiraDataset.synthetic(issues, projects=3, seed=seed, api_user_email=EMAIL)
    server = JiraServer(dataset, JiraConfig(email=EMAIL, api_token=JIRA_TOKEN))
    delay = Delay(server)
    return server.start(), delay


def status_changes(ds: JiraDataset) -> int:
    return sum(len(ds.status_transitions(rec.key)) for rec in ds.live_issues())


# --- the baselines -----------------------------------------------------------------------------


def search_fields(base_url: str) -> str:
    """The fields Quarry asks search/jql for (standard plus known custom ones)."""
    with httpx.Client(headers=JIRA_AUTH, timeout=60) as client:
        defs = client.get(f"{base_url}/rest/api/3/field").raise_for_status().json()
    return ",".join(issue_fields(defs) or list(BASE_FIELDS))


def plain_fetch(server: JiraServer, fields: str, latency_ms: float) -> Row:
    """Every search page (100 a page, changelog expanded), one request after the other."""
    projects = [p.key for p in server.dataset.projects]
    server.counters.reset()
    issues = 0
    start = time.perf_counter()
    with httpx.Client(headers=JIRA_AUTH, timeout=60) as client:
        for project in projects:
            params: dict[str, Any] = {
                "jql": issues_jql(project, None),
                "fields": fields,
                "expand": "changelog",
                "maxResults": 100,
            }
            while True:
                body = client.get(
                    f"{server.base_url}/rest/api/3/search/jql", params=params
                ).raise_for_status()
                page = body.json()
                issues += len(page.get("issues") or [])
                token = page.get("nextPageToken")
                if page.get("isLast") or not token:
                    break
                params["nextPageToken"] = token
    seconds = time.perf_counter() - start
    return Row(
        "full",
        "plain fetch",
        latency_ms,
        server.counters.total(),
        seconds,
        issues,
        note="histories embedded only",
    )


def dlt_python() -> tuple[Path | None, str]:
    """The bench virtualenv's interpreter with dlt[postgres] (made on first use), or why not."""
    python = DLT_VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import dlt"], capture_output=True).returncode == 0:
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True, capture_output=True)
        done = subprocess.run(
            [python, "-m", "pip", "install", "-q", "dlt[postgres]"],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"cannot create {DLT_VENV}: {exc}"
    if done.returncode != 0:
        return None, f"pip install dlt[postgres] failed: {done.stderr.strip().splitlines()[-1:]}"
    return python, ""


def run_dlt(server: JiraServer, fields: str, pg_url: str, latency_ms: float) -> Row:
    python, why = dlt_python()
    base = Row("full", "dlt rest_api", latency_ms, 0, 0.0, 0, phase="not run", note=why)
    if python is None:
        return base
    server.counters.reset()
    projects = [p.key for p in server.dataset.projects]
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(
            [
                python,
                str(ROOT / "bench" / "dlt_jira.py"),
                server.base_url,
                pg_url,
                EMAIL,
                JIRA_TOKEN,
                fields,
                *projects,
            ],
            stdout=out_file,
            stderr=err_file,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        stdout, stderr = out_file.read(), err_file.read()
    if proc.returncode != 0:
        base.note = f"dlt failed: {stderr.strip().splitlines()[-1:]}"
        return base
    out = json.loads(stdout.strip().splitlines()[-1])
    rows = out["rows"]
    row = Row(
        "full",
        "dlt rest_api",
        latency_ms,
        server.counters.total(),
        float(out["seconds"]),
        int(rows.get("issues", 0)),
        note=f"{rows.get('issues__changelog__histories', 0)} embedded histories, none completed",
    )
    row.peak_rss_mib, row.peak_rss_process = round(usage.ru_maxrss / 1024, 1), "dlt"
    return row


# --- Quarry ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def role(cmdline: list[str]) -> str:
    for i, arg in enumerate(cmdline):
        if arg == "worker" and i + 1 < len(cmdline):
            return f"worker {cmdline[i + 1]}"
        if arg in ("extract", "up"):
            return arg
    return Path(cmdline[0]).name if cmdline else "?"  # "?": gone, or a zombie


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree so far."""
    ticks = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> tuple[str, int, int] | None:
    """(role, VmHWM KiB, VmRSS KiB) of a live process."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = [a.decode() for a in f.read().split(b"\0") if a]
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return None
    hwm = int(status.get("VmHWM", "0 kB").split()[0])
    rss = int(status.get("VmRSS", "0 kB").split()[0])
    return role(cmd), hwm, rss


class RssSampler:
    """Peak RSS per process of a process tree (VmHWM, sampled every 0.1 s) while a case runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, tuple[str, int]] = {}
        self.tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        total = 0
        for pid in descendants(self.pid):
            m = memory(pid)
            if m is None:
                continue
            name, hwm, rss = m
            total += rss
            known, peak = self.peaks.get(pid, (name, 0))
            # An exiting process has no command line left: keep the name it was seen with.
            self.peaks[pid] = (known if name == "?" else name, max(hwm, peak))
        self.tree = max(self.tree, total)

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def fill(self, row: Row) -> None:
        by_role: dict[str, float] = {}
        for name, kib in self.peaks.values():
            by_role[name] = max(by_role.get(name, 0.0), round(kib / 1024, 1))
        row.rss = dict(sorted(by_role.items()))
        if by_role:
            row.peak_rss_process, row.peak_rss_mib = max(by_role.items(), key=lambda kv: kv[1])
        row.tree_rss_mib = round(self.tree / 1024, 1)


class Platform:
    """`quarry up` on a database of its own, on RabbitMQ or the PostgreSQL queue."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.db = f"quarry_bench_{uuid.uuid4().hex[:8]}"
        self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.db}"
        self.key = Fernet.generate_key().decode()
        self.prefix = f"qb{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "QUARRY_DATA_DIR": str(workdir / f"data-{backend}"),
            "QUARRY_SECRET_KEY": self.key,
            "QUARRY_EMBEDDER": "hashing",
            "QUARRY_QUEUE_PREFIX": self.prefix,
            "QUARRY_LOG_LEVEL": "WARNING",
        }
        self.env.pop("AMQP_URL", None)
        if backend == "rabbitmq":
            self.env["AMQP_URL"] = AMQP
        self.proc: subprocess.Popen[bytes] | None = None
        self.engine: Engine | None = None
        self.timeline = ""  # of the last run: when it was created, started and done extracting

    def __enter__(self) -> Platform:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db}"'))
        admin.dispose()
        self.engine = create_engine(self.url)
        upgrade(self.engine)
        port = free_port()
        log = (self.workdir / f"quarry-up-{self.backend}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quarry_cli.main", "up", "--port", str(port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json().get("controller")
                    == "running"
                ):
                    self.settle()
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"quarry up ({self.backend}) did not start; see {log.name}")

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the platform is idle: its warm processes started and its CPU time flat (the
        small case measures a run on an idle platform, not one still starting up)."""
        assert self.proc is not None
        deadline, quiet, last = time.monotonic() + timeout, 0, cpu_seconds(self.proc.pid)
        while quiet < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            now = cpu_seconds(self.proc.pid)
            quiet, last = (quiet + 1 if now - last < 0.05 else 0), now

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.engine is not None:
            self.engine.dispose()
        if self.backend == "rabbitmq":
            from quarry_core.queue.rabbit import RabbitQueue

            RabbitQueue(AMQP, prefix=self.prefix).delete_topology()
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)'))
        admin.dispose()

    def run(self, ns: str, manifest: str | None, timeout: float) -> tuple[str, float, int, str | None]:
        """(phase, seconds from the request to the end, run id, error) of one run of job `sync`.

        With a manifest the job is new: applying it is the request (a new job runs at once);
        without, `spec.runRequest` is set as `quarry run` does."""
        assert self.engine is not None and self.proc is not None
        with Session(self.engine) as s:
            requested = s.scalar(text("select clock_timestamp()"))
            before = s.scalar(
                text("select coalesce(max(r.id), 0) from etl_runs r join etl_jobs j on j.id = r.job_id "
                     "where j.tenant = :ns"),
                {"ns": ns},
            )  # fmt: skip
            if manifest:
                apply_text(s, CoreSettings(secret_key=self.key), manifest)
            else:
                request_run(s, ns, "sync")
            s.commit()
        deadline = time.monotonic() + timeout
        row = None
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text(
                        "select r.id, r.phase, r.created_at, r.started_at, r.extract_finished_at, "
                        "r.finished_at, r.error from etl_runs r join etl_jobs j "
                        "on j.id = r.job_id where j.tenant = :ns and r.id > :before order by r.id limit 1"
                    ),
                    {"ns": ns, "before": before},
                ).first()
            if row is not None and row.phase in ("Succeeded", "Failed", "Cancelled"):
                end = row.finished_at or datetime.now(UTC)
                marks = [("created", row.created_at), ("extracting", row.started_at)]
                marks += [("extracted", row.extract_finished_at)]
                self.timeline = " ".join(
                    f"{name} {(at - requested).total_seconds():.1f}s" for name, at in marks if at is not None
                )
                return row.phase, (end - requested).total_seconds(), int(row.id), row.error
            if self.proc.poll() is not None:
                raise RuntimeError(f"quarry up ({self.backend}) exited with {self.proc.returncode}")
            time.sleep(0.05)
        return "TimedOut", timeout, int(row.id) if row is not None else 0, None

    def count(self, table: str, ns: str) -> int:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return int(
                conn.execute(text(f"select count(*) from {table} where tenant = :t"), {"t": ns}).scalar_one()
            )


def quarry_case(
    platform: Platform,
    server: SandboxServer,
    ns: str,
    manifest: str,
    case: str,
    latency_ms: float,
    unit: str,
    expected: Callable[[], dict[str, int]],
    timeout: float,
) -> Row:
    server.counters.reset()
    assert platform.proc is not None
    with RssSampler(platform.proc.pid) as sampler:
        phase, seconds, _, error = platform.run(ns, manifest or None, timeout)
    recount = ""
    try:
        want = expected()
    except ValueError as exc:  # the imitation cannot recount an edited history: count the items only
        assert isinstance(server, JiraServer)
        want = {"work_items": len(server.dataset.issue_keys())}
        recount = f"transitions not recounted (imitation: {exc})"
    loaded = {table: platform.count(table, ns) for table in want}
    main_table = next(iter(want))
    row = Row(
        case,
        f"Quarry {platform.backend}",
        latency_ms,
        server.counters.total(),
        seconds,
        loaded[main_table],
        unit=unit,
        phase=phase,
        complete=loaded == want,
        note="" if loaded == want else f"loaded {loaded}, expected {want}" + (f"; {error}" if error else ""),
    )
    row.note = "; ".join(n for n in (row.note, recount, platform.timeline) if n)
    sampler.fill(row)
    return row


# --- the run -----------------------------------------------------------------------------------


def ratios(rows: list[Row]) -> None:
    def find(tool: str, latency: float) -> Row | None:
        return next(
            (r for r in rows if r.tool == tool and r.case == "full" and r.latency_ms == latency), None
        )

    for r in rows:
        if r.case not in ("full",) or not r.tool.startswith("Quarry") or r.seconds <= 0:
            continue
        plain, dlt = find("plain fetch", r.latency_ms), find("dlt rest_api", r.latency_ms)
        if plain is not None and plain.seconds > 0:
            r.vs_plain = round(r.seconds / plain.seconds, 2)
        if dlt is not None and dlt.seconds > 0 and dlt.phase == "Succeeded":
            r.vs_dlt = round(r.seconds / dlt.seconds, 2)


def table(rows: list[Row]) -> str:
    head = (
        "| case | tool | latency ms | requests | seconds | items | items/s | largest process MiB | "
        "whole tree MiB | ÷ plain fetch | ÷ dlt | outcome |"
    )
    lines = [head, "|" + "---|" * 12]

    def num(v: float | None, fmt: str = "{:.2f}") -> str:
        return "" if v is None else fmt.format(v)

    for r in rows:
        largest = f"{r.peak_rss_mib:.0f} ({r.peak_rss_process})" if r.peak_rss_mib is not None else ""
        outcome = r.phase
        if r.complete is not None:
            outcome += ", complete" if r.complete else ", INCOMPLETE"
        if r.note:
            outcome += f"; {r.note}"
        lines.append(
            f"| {r.case} | {r.tool} | {r.latency_ms:.0f} | {r.requests} | {r.seconds:.2f} | "
            f"{r.items} {r.unit} | "
            f"{r.per_second:.0f} | {largest} | {num(r.tree_rss_mib, '{:.0f}')} | {num(r.vs_plain)} | "
            f"{num(r.vs_dlt)} | {outcome} |"
        )
    return "\n".join(lines)


def write_docs(path: Path, args: argparse.Namespace, rows: list[Row], facts: dict[str, Any]) -> None:
    command = "python bench/e2e.py " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in (("issues", args.issues), ("prs", args.prs), ("latency_ms", args.latency_ms))
    )
    text_ = f"""# Benchmarks

The latest table of `bench/e2e.py` (written by it; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC,
{os.cpu_count()} CPUs, shared machine: compare only figures of the same run).

    {command}

Imitation Jira: {facts["issues"]} issues in 3 projects, {facts["transitions"]} status transitions
(complete histories); imitation GitHub: {facts["prs"]} pull requests, {facts["reviews"]} reviews.
Quarry's seconds run from the run request to the run Succeeded (`quarry up` already running and
idle: one warm worker per stage and a standby extract process), including transform and load into
the final tables. The plain fetch stores nothing and keeps the embedded (truncated) histories, as
does dlt. "complete" means the final tables hold exactly the imitation's items (issues and status
transitions, or pull requests and reviews). Memory is the peak RSS (VmHWM) of the largest process
and of the whole tree at its largest.

{table(rows)}
"""
    path.write_text(text_)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--prs", type=int, default=2_000, help="pull requests across 3 repositories")
    parser.add_argument("--small-issues", type=int, default=300, help="the small first run")
    parser.add_argument("--latency-ms", type=float, default=150.0, help="added to every response (0: skip)")
    parser.add_argument("--backends", default="rabbitmq,postgresql")
    parser.add_argument("--no-dlt", action="store_true", help="skip dlt (the table says so)")
    parser.add_argument(
        "--cases", default="small,full,remote,github,incremental", help="which Quarry cases to run"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per Quarry run")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    latency = args.latency_ms if "remote" in args.cases else 0.0
    cases = set(args.cases.split(","))
    backends = [b for b in args.backends.split(",") if b]
    rows: list[Row] = []
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"quarry-bench-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True)

    big, big_delay = jira_server(args.issues, seed=1)
    small, _ = jira_server(args.small_issues, seed=2)
    gh_ds = GithubDataset.synthetic(3, args.prs, seed=1)
    github = GithubServer(
        gh_ds, GithubConfig(tokens=(GH_TOKEN,), rest_limit=10**7, graphql_limit=10**7)
    ).start()

    def jira_truth(server: JiraServer) -> Callable[[], dict[str, int]]:
        return lambda: {
            "work_items": len(server.dataset.issue_keys()),
            "work_item_transitions": status_changes(server.dataset),
        }

    def github_truth() -> dict[str, int]:
        truth = gh_ds.truth()
        return {"pull_requests": truth["pull_requests"], "pull_request_reviews": truth["reviews"]}

    facts = {
        "issues": args.issues,
        "transitions": status_changes(big.dataset),
        "prs": gh_ds.truth()["pull_requests"],
        "reviews": gh_ds.truth()["reviews"],
    }
    try:
        fields = search_fields(big.base_url)
        print(f"plain fetch of {args.issues} issues ...", flush=True)
        rows.append(plain_fetch(big, fields, 0))
        if args.no_dlt:
            rows.append(Row("full", "dlt rest_api", 0, 0, 0.0, 0, phase="not run", note="--no-dlt"))
        else:
            print("dlt rest_api ...", flush=True)
            scratch = f"quarry_bench_dlt_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{scratch}"'))
            try:
                rows.append(run_dlt(big, fields, PG_ADMIN.rsplit("/", 1)[0] + f"/{scratch}", 0))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
                admin.dispose()
        if latency > 0:
            print(f"plain fetch at +{latency:.0f} ms ...", flush=True)
            big_delay.seconds = latency / 1000
            rows.append(plain_fetch(big, fields, latency))
            big_delay.seconds = 0
        for backend in backends:
            with Platform(backend, workdir) as platform:
                b = backend[:4]

                def jira_job(ns: str, server: JiraServer) -> str:
                    keys = ", ".join(p.key for p in server.dataset.projects)
                    return JIRA_JOB.format(
                        ns=ns, url=server.base_url, email=EMAIL, token=JIRA_TOKEN, projects=keys
                    )

                def case(name: str, what: str, backend: str = backend) -> bool:
                    if name in cases:
                        print(f"Quarry {backend}: {what} ...", flush=True)
                    return name in cases

                if case("small", "small first run"):
                    row = quarry_case(
                        platform, small, f"small-{b}", jira_job(f"small-{b}", small), "small", 0, "issues",
                        jira_truth(small), args.timeout,
                    )  # fmt: skip
                    rows.append(row)
                if case("full", "full run"):
                    row = quarry_case(
                        platform, big, f"full-{b}", jira_job(f"full-{b}", big), "full", 0, "issues",
                        jira_truth(big), args.timeout,
                    )  # fmt: skip
                    rows.append(row)
                if latency > 0 and case("remote", f"full run at +{latency:.0f} ms"):
                    big_delay.seconds = latency / 1000
                    row = quarry_case(
                        platform, big, f"remote-{b}", jira_job(f"remote-{b}", big), "full", latency, "issues",
                        jira_truth(big), args.timeout,
                    )  # fmt: skip
                    rows.append(row)
                    big_delay.seconds = 0
                if case("github", "GitHub"):
                    manifest = GITHUB_JOB.format(
                        ns=f"gh-{b}", url=github.base_url, token=GH_TOKEN, org=gh_ds.org
                    )
                    row = quarry_case(
                        platform, github, f"gh-{b}", manifest, "github", 0, "PRs", github_truth, args.timeout
                    )
                    rows.append(row)
                touched = max(1, args.issues // 100)
                if backend == backends[-1] and "full" in cases and case("incremental", "incremental"):
                    big.dataset.transition_some(touched, seed=7)
                    row = quarry_case(
                        platform,
                        big,
                        f"full-{b}",
                        "",
                        "incremental",
                        0,
                        "issues",
                        jira_truth(big),
                        args.timeout,
                    )
                    row.note = (f"{touched} issues changed; " + row.note).rstrip("; ")
                    rows.append(row)
    finally:
        big.stop()
        small.stop()
        github.stop()
    ratios(rows)
    print(table(rows))
    args.docs.parent.mkdir(parents=True, exist_ok=True)
    write_docs(args.docs, args, rows, facts)
    if args.json is not None:
        args.json.write_text(json.dumps([{**asdict(r), "per_second": r.per_second} for r in rows], indent=2))
    quarry_rows = [r for r in rows if r.tool.startswith("Quarry")]
    return 0 if all(r.phase == "Succeeded" and r.complete for r in quarry_rows) else 1


if __name__ == "__main__":
    sys.exit(main())
