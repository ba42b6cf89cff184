"""Run one extraction: fetch pages (a few ahead) -> parse in order -> the writer stores pages with
their checkpoint (one commit per batch) -> publishes them.

Exit codes (what the extract pod reports): 0 done (or nothing to do, or cancelled), 1 a passing
fault outlasted the retries (the run stays Running; the next attempt resumes), 3 fatal (the run
is Failed with a clear error), 143 stopped by SIGTERM after checkpointing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from quarry_core import runs
from quarry_core.budget import PgBudget, requests_per_hour
from quarry_core.completion import complete_if_done
from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlRun, SyncCursor
from quarry_core.db.tenancy import run_tenant, tenant_sessions
from quarry_core.errors import FatalError, RetriableError
from quarry_core.exit_codes import EXIT_FATAL, EXIT_OK, EXIT_RETRY, EXIT_TERMINATED
from quarry_core.outage import engine_when_reachable, through_outages
from quarry_core.queue.factory import open_declared_queue
from quarry_core.resources import IntegrationSpec
from quarry_core.secrets import resolve_credentials
from quarry_core.sources import get_source
from quarry_core.sources.auth import auth_headers
from quarry_core.states import TERMINAL_RUN_PHASES, RunPhase
from quarry_extractor.connectors import ConnectorRequest, build_connector
from quarry_extractor.fetcher import Fetcher
from quarry_extractor.http import HttpClient, Interrupted, RetryPolicy
from quarry_extractor.raw_store import RawPage, last_page, save_checkpoint
from quarry_extractor.settings import ExtractorSettings
from quarry_extractor.streams import Connector, WorkItem, flatten_cursors, nest_cursors, split_cursor_key
from quarry_extractor.writer import Entry, PageWriter, Snapshot, WriterError

T = TypeVar("T")
log = logging.getLogger(__name__)

PHASE_CHECK_SECONDS = 0.5  # how soon a cancelled run stops fetching, at one query per interval


class Cancelled(Exception):
    pass


@dataclass
class Checkpoint:
    """The resume point of a run: the work items left and the last page number of every stream."""

    work: list[WorkItem]
    seq: dict[str, int] = field(default_factory=dict)
    # (raw id, entity) of the pages committed with this checkpoint, perhaps not yet published.
    last_batch: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "work": [w.to_json() for w in self.work], "seq": self.seq}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint | None:
        if not data or "work" not in data:
            return None
        last = [(int(i), str(e)) for i, e in data.get("last_batch") or []]
        return cls([WorkItem.from_json(w) for w in data["work"]], dict(data.get("seq") or {}), last)


def committed_cursors(session: Session, integration_id: int) -> dict[str, dict[str, Any]]:
    rows = session.scalars(select(SyncCursor).where(SyncCursor.integration_id == integration_id)).all()
    return {f"{r.scope}:{r.entity}": dict(r.value) for r in rows}


def integration_spec(spec: dict[str, Any]) -> IntegrationSpec:
    try:
        return IntegrationSpec.model_validate(spec)
    except ValidationError as exc:
        raise FatalError(f"the Integration's spec is invalid: {exc}") from exc


class Extraction:
    def __init__(
        self,
        settings: ExtractorSettings,
        run_id: int,
        *,
        stop: threading.Event | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.stop = stop or threading.Event()
        # Started during a database restart, the process waits for it rather than spend an attempt.
        self.engine = engine or engine_when_reachable(
            settings, f"run {run_id}: connecting to the database", stop=self.stop
        )
        # An extract process acts for its run's tenant only; asking whose run it is is the one
        # platform-wide read it makes.
        self.tenant = self._through_outages(lambda: run_tenant(self.engine, run_id), "reading its tenant")
        self.sessions: sessionmaker[Session] = tenant_sessions(self.engine, self.tenant)
        self.http: HttpClient | None = None
        self.budget: PgBudget | None = None
        self.pages_stored = 0

    # -- status writes ------------------------------------------------------------------------

    def on_wait(self, reason: str | None, until: datetime | None) -> None:
        if reason:
            log.info("run %s waiting: %s until %s", self.run_id, reason, until)

        def write() -> None:
            with session_scope(self.sessions) as s:
                runs.set_waiting(s, self.run_id, reason, until)

        self._through_outages(write, "recording a wait")

    def fail(self, reason: str) -> int:
        log.error("run %s failed: %s", self.run_id, reason)
        with session_scope(self.sessions) as s:
            phase = s.scalar(select(EtlRun.phase).where(EtlRun.id == self.run_id))
            if phase is not None and RunPhase(phase) not in TERMINAL_RUN_PHASES:
                runs.set_phase(s, self.run_id, RunPhase.FAILED, error=reason)
        return EXIT_FATAL

    def record_error(self, reason: str) -> None:
        with session_scope(self.sessions) as s:
            s.execute(update(EtlRun).where(EtlRun.id == self.run_id).values(error=reason))

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> int:
        try:
            return self._run()
        except FatalError as exc:
            return self.fail(str(exc))
        except RetriableError as exc:
            log.warning("run %s: attempt ends, will resume: %s", self.run_id, exc)
            self.record_error(str(exc))
            return EXIT_RETRY
        except Interrupted:
            log.info("run %s stopped while waiting; resumes from its checkpoint", self.run_id)
            return EXIT_TERMINATED
        finally:
            if self.budget is not None:
                self.budget.release()
            if self.http is not None:
                self.http.close()

    def _run(self) -> int:
        with session_scope(self.sessions) as s:
            ctx = runs.run_context(s, self.run_id)
            run, integration = ctx.run, ctx.integration
            if RunPhase(run.phase) in TERMINAL_RUN_PHASES or run.extract_finished_at is not None:
                log.info("run %s is %s; nothing to extract", self.run_id, run.phase)
                return EXIT_OK
            runs.set_phase(s, self.run_id, RunPhase.RUNNING)
            spec = dict(integration.spec)
            kind = str(spec.get("type") or integration.type)
            spec["type"] = kind
            entities = list(run.entities or ctx.job.spec.get("entities") or get_source(kind).entities)
            secret = ((spec.get("credentials") or {}).get("secretRef") or {}).get("name")
            if not secret:
                raise FatalError(
                    "the Integration names no credentials secret (spec.credentials.secretRef.name)"
                )
            credentials = resolve_credentials(s, self.settings, run.tenant, secret)
            cursors = committed_cursors(s, integration.id)
            tenant, integration_id, mode = run.tenant, integration.id, run.mode
            checkpoint = Checkpoint.from_json(dict(run.checkpoint or {}))
            candidate: dict[str, Any] = flatten_cursors(run.candidate_cursors or {})
        now_ms = int(time.time() * 1000)
        connector = build_connector(
            kind, ConnectorRequest(spec.get("scope") or {}, entities, mode, cursors, self.settings, now_ms)
        )
        auth = auth_headers(integration_spec(spec), credentials)
        source = get_source(kind)
        base_url = spec.get("baseUrl") or source.default_base_url
        if not base_url:
            raise FatalError("the Integration has no baseUrl")
        limit = requests_per_hour(spec, self.settings.default_requests_per_hour)
        self.budget = PgBudget(
            self.engine, tenant, integration_id, limit, self.settings.budget_window_seconds,
            outage_seconds=self.settings.outage_seconds,
        )
        s_ = self.settings
        self.http = HttpClient(
            source,
            str(base_url),
            auth,
            RetryPolicy(
                max_attempts=s_.max_attempts,
                max_rate_limit_waits=s_.max_rate_limit_waits,
                max_wait_seconds=s_.max_wait_seconds,
                backoff_base=s_.backoff_base_seconds,
                backoff_cap=s_.backoff_cap_seconds,
                secondary_wait=s_.github_secondary_wait_seconds,
                timeout=s_.http_timeout_seconds,
                max_response_bytes=s_.max_response_bytes,
            ),
            budget=self.budget,
            on_wait=self.on_wait,
            stop=self.stop,
            allow_private=s_.egress_allow_private,
        )
        if checkpoint is None:
            checkpoint = Checkpoint(connector.plan())
        elif not checkpoint.last_batch:
            # A checkpoint from before batches: its newest page is the one perhaps unpublished.
            with session_scope(self.sessions) as s:
                last = last_page(s, self.run_id)
            checkpoint.last_batch = [last] if last is not None else []
        writer = PageWriter(
            self.engine,
            lambda: open_declared_queue(self.settings, f"run {self.run_id}: the queue", stop=self.stop),
            tenant=tenant,
            run_id=self.run_id,
            integration_id=integration_id,
            republish=checkpoint.last_batch,
            outage_seconds=self.settings.outage_seconds,
            max_pending=self.settings.write_queue_pages,
            max_batch_pages=self.settings.write_batch_pages,
        ).start()
        window = self.settings.fetch_concurrency if self.settings.prefetch else 1
        fetcher = Fetcher(self.http, window)
        try:
            status = self._loop(connector, checkpoint, candidate, fetcher, writer, tenant, integration_id)
        except BaseException:
            self.http.abort()
            writer.abandon()  # keep what was fetched and processed: the resume starts after it
            raise
        finally:
            fetcher.close()
            self.pages_stored = writer.pages_stored
        if status != EXIT_OK:
            self.http.abort()
            writer.abandon()
            self.pages_stored = writer.pages_stored
            return status
        try:
            writer.close()
        except WriterError as exc:
            raise RetriableError(f"storing pages failed: {exc}") from exc
        self.pages_stored = writer.pages_stored
        return self._finish(checkpoint, candidate)

    def _through_outages(self, call: Callable[[], T], what: str) -> T:
        return through_outages(
            call, f"run {self.run_id}: {what}", max_seconds=self.settings.outage_seconds, stop=self.stop
        )

    def _phase(self) -> RunPhase:
        def read() -> str | None:
            with self.sessions() as s:
                return s.scalar(select(EtlRun.phase).where(EtlRun.id == self.run_id))

        phase = self._through_outages(read, "reading its phase")
        if phase is None:
            raise FatalError(f"run {self.run_id} was deleted")
        return RunPhase(phase)

    def _loop(
        self,
        connector: Connector,
        cp: Checkpoint,
        candidate: dict[str, Any],
        fetcher: Fetcher,
        writer: PageWriter,
        tenant: str,
        integration_id: int,
    ) -> int:
        phase_checked = 0.0
        while cp.work:
            if self.stop.is_set():
                log.info("run %s stopped after a checkpoint; resumes from it", self.run_id)
                return EXIT_TERMINATED
            if time.monotonic() - phase_checked >= PHASE_CHECK_SECONDS:
                phase = self._phase()
                if phase in TERMINAL_RUN_PHASES:
                    log.info("run %s is %s; extraction stops", self.run_id, phase)
                    return EXIT_OK
                phase_checked = time.monotonic()
            if all(w.held for w in cp.work):  # nothing left but batches still filling up: send them
                cp.work = [replace(w, held=False) for w in cp.work]
            fetcher.ahead(cp.work)
            at = fetcher.pick(cp.work)
            item = cp.work[at]
            stream = connector.stream(item.stream)
            response = fetcher.take(item)
            result = stream.parse(item, response, candidate)
            following: list[WorkItem] = [c for c in result.children if not c.held]
            if result.next is not None:
                following.append(WorkItem(item.stream, result.next_ctx or item.ctx, result.next))
            # The item's next page and children take its place: the streams keep their turns.
            rest = cp.work[:at] + following + cp.work[at + 1 :]
            cp.work = hold(rest, [c for c in result.children if c.held], connector)
            fetcher.ahead(cp.work)
            candidate.update(result.cursors)
            page: RawPage | None = None
            if result.store:
                key = stream.key(item.ctx)
                cp.seq[key] = cp.seq.get(key, 0) + 1
                params = {
                    **item.request.params,
                    **(item.request.json if isinstance(item.request.json, dict) else {}),
                }
                params.update(stream.context_params(item.ctx))
                page = RawPage(
                    tenant=tenant,
                    integration_id=integration_id,
                    run_id=self.run_id,
                    entity=stream.entity,
                    stream=key,
                    page_seq=cp.seq[key],
                    url=response.url,
                    method=item.request.method,
                    params=params,
                    status=response.status,
                    response_text=response.text,
                    item_count=len(result.items),
                )
            writer.put(Entry(page, snapshot(cp, candidate)))
        return EXIT_OK

    def _finish(self, cp: Checkpoint, candidate: dict[str, Any]) -> int:
        def finish() -> None:
            with session_scope(self.sessions) as s:
                save_checkpoint(s, self.run_id, {**cp.to_json(), "done": True}, nest_cursors(candidate))
                s.execute(
                    update(EtlRun)
                    .where(EtlRun.id == self.run_id)
                    .values(extract_finished_at=runs.utcnow(), waiting_reason=None, waiting_until=None)
                )

        def complete() -> None:
            with session_scope(self.sessions) as s:
                complete_if_done(s, self.run_id)

        self._through_outages(finish, "finishing")
        # The workers may have transformed and loaded every page already: then nobody else
        # would notice that the run is complete.
        self._through_outages(complete, "completing")
        return EXIT_OK


def hold(work: list[WorkItem], batches: list[WorkItem], connector: Connector) -> list[WorkItem]:
    """`work` with each new batch absorbed by the held batch of its kind (same stream and context)
    or held at the end. A held batch that takes no more is released to the front, to go next.
    Work items are replaced, never changed: earlier snapshots of the checkpoint still hold them."""
    for new in batches:
        at = next(
            (n for n, w in enumerate(work) if w.held and w.stream == new.stream and w.ctx == new.ctx), None
        )
        if at is None:
            work = [*work, new]
            continue
        merged = connector.stream(new.stream).absorb(work[at], new)
        if merged is not None:
            work = [*work[:at], merged, *work[at + 1 :]]
        else:
            work = [replace(work[at], held=False), *work[:at], *work[at + 1 :], new]
    return work


def snapshot(cp: Checkpoint, candidate: dict[str, Any]) -> Snapshot:
    """The checkpoint as it stands now, serialised only if the writer ends a batch with it."""
    work, seq, cursors = list(cp.work), dict(cp.seq), dict(candidate)

    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        return Checkpoint(work, seq).to_json(), nest_cursors(cursors)

    return build


def split_key(key: str) -> tuple[str, str]:
    """(scope, entity) of a candidate cursor key, as the workers commit it to sync_cursors."""
    return split_cursor_key(key)
