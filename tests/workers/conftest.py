"""Workers against real PostgreSQL and both queue backends; raw pages are inserted directly."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlJob, EtlRun, Integration, RawExtractionData
from quarry_core.messages import LoadMessage, TransformMessage
from quarry_core.queue.base import QueueBackend
from quarry_core.queue.consumer import Consumer
from quarry_core.runs import create_run, set_phase, utcnow
from quarry_core.states import RunPhase, Stage
from quarry_core.vectors import VectorStore
from quarry_workers.common import dead_letter_hook
from quarry_workers.load_worker import LoadWorker
from quarry_workers.transform_worker import TransformWorker
from tests.workers.fixtures import SOURCES, JiraSource


@pytest.fixture(params=sorted(SOURCES))
def jira_source(request: pytest.FixtureRequest) -> JiraSource:
    """The imitation's data always; the recorded devlake data as well where it is present."""
    return SOURCES[str(request.param)]()


@pytest.fixture(params=["pg", "rabbit"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_queue(
    backend: str, request: pytest.FixtureRequest, queue_prefix: str
) -> Iterator[Callable[[], QueueBackend]]:
    opened: list[QueueBackend] = []
    if backend == "pg":
        from quarry_core.queue.pg import PgQueue

        eng: Engine = request.getfixturevalue("engine")

        def make() -> QueueBackend:
            q = PgQueue(eng, prefix=queue_prefix, max_attempts=2, retry_delay=0.1, visibility_timeout=2)
            opened.append(q)
            return q

        first = make()
        first.declare()
        yield make
        for stage in Stage:
            first.purge(stage)
        return
    from quarry_core.queue.rabbit import RabbitQueue

    amqp = request.getfixturevalue("amqp_url")

    def make_rabbit() -> QueueBackend:
        q = RabbitQueue(amqp, prefix=queue_prefix, max_attempts=2, retry_delay=0.1)
        opened.append(q)
        return q

    make_rabbit().declare()
    yield make_rabbit
    for q in opened:
        with contextlib.suppress(Exception):
            q.close()
    cleaner = RabbitQueue(amqp, prefix=queue_prefix)
    cleaner.delete_topology()
    cleaner.close()


@pytest.fixture
def queue(open_queue: Callable[[], QueueBackend]) -> QueueBackend:
    return open_queue()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def worker_factory(runtime_engine: Engine) -> sessionmaker[Session]:
    """Sessions as a worker process opens them: bound by row-level security until it names a tenant."""
    return sessionmaker(runtime_engine, expire_on_commit=False)


@dataclass
class Platform:
    factory: sessionmaker[Session]
    queue: QueueBackend
    tenant: str
    integration_id: int
    job_id: int
    vectors: VectorStore | None = None
    worker_factory: sessionmaker[Session] | None = None

    def start_run(self, mode: str = "full") -> int:
        with session_scope(self.factory) as s:
            job = s.get(EtlJob, self.job_id)
            integration = s.get(Integration, self.integration_id)
            assert job is not None and integration is not None
            run = create_run(s, job, integration, mode=mode, entities=["issues"], trigger="manual")
            set_phase(s, run.id, RunPhase.RUNNING)
            return run.id

    def add_page(self, run_id: int, entity: str, response: Any, params: dict[str, Any] | None = None) -> int:
        # Recorded Jira text holds \u0000, which JSONB refuses; the raw store must drop it as here.
        response = json.loads(json.dumps(response).replace("\\u0000", ""))
        with session_scope(self.factory) as s:
            raw = RawExtractionData(
                tenant=self.tenant,
                integration_id=self.integration_id,
                run_id=run_id,
                entity=entity,
                stream=f"{entity}:{uuid.uuid4().hex[:6]}",
                page_seq=0,
                url="http://imitation/",
                params=params or {},
                status=200,
                response=response,
                item_count=page_items(response),
            )
            s.add(raw)
            s.flush()
            raw_id = raw.id
        msg = TransformMessage(
            tenant=self.tenant,
            run_id=run_id,
            integration_id=self.integration_id,
            raw_id=raw_id,
            entity=entity,
        )
        self.queue.publish(Stage.TRANSFORM, msg.to_bytes(), message_id=msg.message_id)
        return raw_id

    def finish_extract(self, run_id: int, cursors: dict[str, Any] | None = None) -> None:
        with session_scope(self.factory) as s:
            s.execute(
                update(EtlRun)
                .where(EtlRun.id == run_id)
                .values(extract_finished_at=utcnow(), candidate_cursors=cursors or {})
            )

    def consumers(self) -> tuple[Consumer[TransformMessage], Consumer[LoadMessage]]:
        workers = self.worker_factory or self.factory
        tw = TransformWorker(workers, self.queue, rows_per_message=40)
        lw = LoadWorker(workers)
        return (
            Consumer(
                self.queue,
                Stage.TRANSFORM,
                TransformMessage,
                tw.handle_batch,
                batch_size=4,
                idle_timeout=0.2,
                on_dead_letter=dead_letter_hook(workers, Stage.TRANSFORM),
            ),
            Consumer(
                self.queue,
                Stage.LOAD,
                LoadMessage,
                lw.handle_batch,
                batch_size=8,
                idle_timeout=0.2,
                on_dead_letter=dead_letter_hook(workers, Stage.LOAD),
            ),
        )

    def drain(self, idle_rounds: int = 3) -> None:
        transform, load = self.consumers()
        idle = 0
        while idle < idle_rounds:
            got = transform.run_once() + load.run_once()
            idle = 0 if got else idle + 1

    def run(self, run_id: int) -> EtlRun:
        with session_scope(self.factory) as s:
            run = s.get(EtlRun, run_id)
            assert run is not None
            return run


@pytest.fixture
def platform(
    factory: sessionmaker[Session], worker_factory: sessionmaker[Session], queue: QueueBackend, tenant: str
) -> Platform:
    return new_platform(factory, worker_factory, queue, tenant)


def new_platform(
    factory: sessionmaker[Session], worker_factory: sessionmaker[Session], queue: QueueBackend, tenant: str
) -> Platform:
    """A tenant with a Jira integration and a job, its workers bound by row-level security."""
    with session_scope(factory) as s:
        integ = Integration(tenant=tenant, name="jira", uid=str(uuid.uuid4()), type="jira", spec={})
        s.add(integ)
        s.flush()
        job = EtlJob(
            tenant=tenant,
            name="sync",
            uid=str(uuid.uuid4()),
            integration_name="jira",
            spec={"entities": ["issues"]},
        )
        s.add(job)
        s.flush()
        return Platform(factory, queue, tenant, integ.id, job.id, worker_factory=worker_factory)


def page_items(response: Any) -> int:
    """Items on a page, as the extractor counts them (the run counters' unit)."""
    if isinstance(response, list):
        return len(response)
    if not isinstance(response, dict):
        return 0
    for key in ("issues", "values", "issueChangeLogs"):
        if isinstance(response.get(key), list):
            if key == "issueChangeLogs":
                return sum(len(log.get("changeHistories") or []) for log in response[key])
            return len(response[key])
    return 1
