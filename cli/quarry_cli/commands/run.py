"""`quarry run JOB -n NS [--wait]`: request a run the way the UI's Run button does, and follow it.

The request sets `spec.runRequest` to a new token; the controller answers it with a run. When no
controller holds the lock (no `quarry up`), `--wait` runs one in this process until the run ends,
so `quarry apply -f x.yaml && quarry run x -n ns --wait` works on its own.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from quarry_cli.output import add_output_flag

# Integration verdicts that no amount of waiting fixes (the user must change something).
PERMANENT = {"IntegrationNotFound", "InvalidEntities", "AuthFailed", "NotFound", "SecretNotFound"}


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run",
        help="start a run of an EtlJob now (and wait for it)",
        description="Request a run of the EtlJob (sets spec.runRequest, as the UI's Run button does). "
        "With --wait, show per-entity progress (extracted/transformed/loaded, rate-limit waits) until "
        "the run ends; exit 0 only when it Succeeded. Without a running `quarry up`, --wait drives "
        "the controller and workers in this process.",
    )
    run.add_argument("job", help="EtlJob name")
    run.add_argument("-n", "--namespace", default="default", help="namespace (tenant) of the job")
    run.add_argument("--wait", action="store_true", help="follow the run until it ends")
    run.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    add_output_flag(run)
    run.set_defaults(func=run_run)


@dataclass
class Snapshot:
    run_id: int | None = None
    phase: str = "Pending"
    attempt: int = 1
    error: str | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    waiting_until: datetime | None = None
    waiting_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    blocked: str | None = None  # a reason the request can never be answered as things stand

    @property
    def terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed", "Cancelled")

    def to_json(self, namespace: str, job: str) -> dict[str, Any]:
        return {
            "namespace": namespace,
            "job": job,
            "run": self.run_id,
            "phase": self.phase,
            "attempt": self.attempt,
            "counts": self.counts,
            "error": self.error or self.blocked,
            "startedAt": self.started_at.isoformat() if self.started_at else None,
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
        }


def progress_lines(s: Snapshot, now: datetime) -> list[str]:
    """What the progress display shows: a headline, one line per entity, any rate-limit wait."""
    if s.run_id is None:
        return [f"waiting for the controller to start the run{': ' + s.message if s.message else ''}"]
    elapsed = int(((s.finished_at or now) - (s.started_at or now)).total_seconds())
    attempt = f", attempt {s.attempt}" if s.attempt > 1 else ""
    lines = [f"run {s.run_id}: {s.phase}{attempt} ({elapsed}s)"]
    width = max((len(e) for e in s.counts), default=0)
    for entity in sorted(s.counts):
        c = s.counts[entity]
        lines.append(
            f"  {entity.ljust(width)}  extracted {c.get('extracted', 0):>7}  "
            f"transformed {c.get('transformed', 0):>7}  loaded {c.get('loaded', 0):>7}"
        )
    if s.waiting_until is not None and s.waiting_until > now:
        why = f" ({s.waiting_reason})" if s.waiting_reason else ""
        left = int((s.waiting_until - now).total_seconds())
        lines.append(f"  rate limited{why}: waiting {left}s, until {s.waiting_until:%H:%M:%S}")
    return lines


class Display:
    """Redraws in place on a terminal; elsewhere prints a block only when something changed."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.tty = bool(stream and stream.isatty())
        self.drawn = 0
        self.last: list[str] = []
        self.last_plain = 0.0

    def show(self, lines: list[str]) -> None:
        if self.stream is None:
            return
        if self.tty:
            if self.drawn:
                self.stream.write(f"\x1b[{self.drawn}F")
            for line in lines:
                self.stream.write("\x1b[2K" + line + "\n")
            for _ in range(self.drawn - len(lines)):
                self.stream.write("\x1b[2K\n")
            self.drawn = max(len(lines), self.drawn)
            self.stream.flush()
            return
        # Plain output: skip the elapsed-seconds headline churn; print at most every 2s.
        key = [lines[0].split(" (")[0], *lines[1:]]
        if key != self.last and time.monotonic() - self.last_plain >= 2.0:
            for line in lines:
                self.stream.write(line + "\n")
            self.stream.flush()
            self.last, self.last_plain = key, time.monotonic()

    def final(self, lines: list[str]) -> None:
        if self.stream is None:
            return
        if self.tty:
            self.show(lines)
        elif [lines[0].split(" (")[0], *lines[1:]] != self.last:
            for line in lines:
                self.stream.write(line + "\n")
            self.stream.flush()


def _snapshot(session: Any, job_id: int, token: str, before: int) -> Snapshot:
    from sqlalchemy import select

    from quarry_core.db.models import EtlJob, EtlRun, Integration
    from quarry_core.resources import EtlJobStatus, IntegrationStatus, get_condition
    from quarry_core.runs import counts

    job = session.get(EtlJob, job_id)
    if job is None:
        return Snapshot(phase="Cancelled", blocked="the job was deleted")
    status = EtlJobStatus.model_validate(job.status or {})
    run = session.scalar(
        select(EtlRun).where(EtlRun.job_id == job_id, EtlRun.token == token).order_by(EtlRun.id).limit(1)
    )
    if run is None and status.last_run_request == token:
        # A create run answers the pending request too (it records no token).
        run = session.scalar(
            select(EtlRun)
            .where(EtlRun.job_id == job_id, EtlRun.id > before, EtlRun.trigger != "retransform")
            .order_by(EtlRun.id)
            .limit(1)
        )
    if run is not None:
        return Snapshot(
            run_id=run.id,
            phase=run.phase,
            attempt=run.attempt,
            error=run.error or run.attempt_error,
            counts=counts(session, run.id),
            waiting_until=run.waiting_until,
            waiting_reason=run.waiting_reason,
            started_at=run.started_at or run.created_at,
            finished_at=run.finished_at,
        )
    snap = Snapshot(message=status.message or "")
    if job.spec.get("suspend"):
        snap.blocked = "the job is suspended (spec.suspend: true); the request runs when it is resumed"
        return snap
    ready = get_condition(status.conditions, "Ready")
    if ready is None or ready.status != "False" or (status.observed_generation or 0) < job.generation:
        return snap
    snap.message = ready.message
    reason = ready.reason
    if reason == "IntegrationNotReady":
        integration = session.scalar(
            select(Integration).where(
                Integration.tenant == job.tenant, Integration.name == job.integration_name
            )
        )
        if integration is not None:
            own = get_condition(
                IntegrationStatus.model_validate(integration.status or {}).conditions, "Ready"
            )
            reason = own.reason if own else reason
    if reason in PERMANENT:
        snap.blocked = ready.message
    return snap


def run_run(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from quarry_core.db.engine import session_scope
    from quarry_core.db.models import EtlRun
    from quarry_core.store import NotFound, connect, request_run
    from quarry_local.controller import ControllerThread, controller_running
    from quarry_local.settings import LocalSettings

    settings = LocalSettings()
    sessions = connect(settings)
    engine = sessions.kw["bind"]
    try:
        with session_scope(sessions) as session:
            job, token = request_run(session, args.namespace, args.job)
            job_id = job.id
            newest = select(func.coalesce(func.max(EtlRun.id), 0)).where(EtlRun.job_id == job_id)
            before = int(session.scalar(newest) or 0)
    except NotFound as exc:
        print(f"Error from server (NotFound): {exc}", file=sys.stderr)
        return 1
    if not args.wait:
        print(f"etljob.quarry.dev/{args.job} run requested (runRequest {token})")
        if not controller_running(engine):
            print("note: no controller is running; start `quarry up`, or use --wait", file=sys.stderr)
        return 0

    json_out = args.output == "json"
    display = Display(sys.stderr if json_out and sys.stderr.isatty() else (None if json_out else sys.stdout))
    local: ControllerThread | None = None
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    snap = Snapshot()
    try:
        while True:
            if local is None and not controller_running(engine):
                # A controller for this one run: nothing to keep warm for the next.
                one_run = settings.model_copy(update={"warm_workers": 0, "standby_extract": False})
                candidate = ControllerThread(one_run, engine)
                if candidate.start():
                    local = candidate
            with sessions() as session:
                snap = _snapshot(session, job_id, token, before)
            now = datetime.now(UTC)
            if snap.terminal or snap.blocked:
                break
            display.show(progress_lines(snap, now))
            if deadline is not None and time.monotonic() > deadline:
                snap.blocked = f"timed out after {args.timeout:g}s (the run continues)"
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        if local is not None:
            print(
                "\ninterrupted: stopping the local controller; the run resumes with the next controller",
                file=sys.stderr,
            )
            local.stop()
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if local is not None:
            local.stop()
    return _finish(args, snap, display, json_out)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _finish(args: argparse.Namespace, snap: Snapshot, display: Display, json_out: bool) -> int:
    if json_out:
        print(json.dumps(snap.to_json(args.namespace, args.job), indent=2))
    else:
        if snap.run_id is not None:
            display.final(progress_lines(snap, datetime.now(UTC)))
        if snap.blocked:
            print(f"run of {args.namespace}/{args.job} not answered: {snap.blocked}", file=sys.stderr)
        elif snap.phase != "Succeeded":
            print(f"run {snap.run_id} {snap.phase}: {snap.error or ''}".rstrip(": "), file=sys.stderr)
        else:
            loaded = sum(c.get("loaded", 0) for c in snap.counts.values())
            print(f"run {snap.run_id} Succeeded: {loaded} records loaded")
    return 0 if snap.phase == "Succeeded" and not snap.blocked else 1
