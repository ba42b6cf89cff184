"""Process entry points: wire settings, database, queue, embedder and health for one worker."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine

from quarry_core.db.engine import session_factory
from quarry_core.db.tenancy import platform_sessions
from quarry_core.errors import RetriableError
from quarry_core.messages import LoadMessage, TransformMessage
from quarry_core.outage import engine_when_reachable
from quarry_core.queue.consumer import Consumer
from quarry_core.queue.factory import open_declared_queue
from quarry_core.states import Stage
from quarry_workers.common import dead_letter_hook
from quarry_workers.settings import WorkerSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


def run_worker(kind: str, settings: WorkerSettings, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if kind == "embed":
        run_embed(settings, stop)
        return
    started = _unless_stopped(
        lambda: (
            session_factory(_engine(kind, settings, stop)),
            open_declared_queue(settings, f"{kind} worker: opening the queue", stop=stop),
        ),
        stop,
    )
    if started is None:
        return
    factory, queue = started
    status: dict[str, Any] = {"worker": kind, "queue": "rabbitmq" if settings.amqp_url else "postgresql"}
    consumer: Consumer[Any]
    if kind == "transform":
        from quarry_workers.transform_worker import TransformWorker

        tw = TransformWorker(factory, queue, settings.load_rows_per_message)
        consumer = Consumer(
            queue,
            Stage.TRANSFORM,
            TransformMessage,
            tw.handle_batch,
            batch_size=settings.transform_batch_size,
            idle_timeout=settings.idle_timeout,
            on_dead_letter=dead_letter_hook(factory, Stage.TRANSFORM),
        )
    else:
        from quarry_workers.load_worker import LoadWorker

        lw = LoadWorker(factory)
        consumer = Consumer(
            queue,
            Stage.LOAD,
            LoadMessage,
            lw.handle_batch,
            batch_size=settings.load_batch_size,
            idle_timeout=settings.idle_timeout,
            on_dead_letter=dead_letter_hook(factory, Stage.LOAD),
        )
    if settings.health_port:
        from quarry_workers.health import serve

        serve(
            settings.health_port,
            lambda: {
                **status,
                "handled": consumer.stats.handled,
                "deadLettered": consumer.stats.dead_lettered,
            },
        )
    log.info("%s worker started (%s)", kind, status)
    try:
        consumer.run(stop)
    finally:
        queue.close()


def _unless_stopped(call: Callable[[], T], stop: threading.Event) -> T | None:
    """`call()`, or None when the process was stopped while it waited for the database or broker."""
    try:
        return call()
    except RetriableError:
        if stop.is_set():
            return None
        raise


def _engine(kind: str, settings: WorkerSettings, stop: threading.Event) -> Engine:
    """The database engine, waiting (outage policy) for a database that does not answer yet: a
    worker started during an outage starts consuming when it ends, rather than exiting."""
    return engine_when_reachable(settings, f"{kind} worker: connecting to the database", stop=stop)


def run_embed(settings: WorkerSettings, stop: threading.Event) -> None:
    """The vector stage. Qdrant local mode locks its directory: one such process per data directory."""
    from quarry_core.vectors import VectorStore, choose_embedder
    from quarry_workers.embed_worker import EmbedWorker

    # Embedding sweeps every tenant's new rows: a platform-wide process.
    factory = _unless_stopped(lambda: platform_sessions(_engine("embed", settings, stop)), stop)
    if factory is None:
        return
    embedder = choose_embedder(settings.embedder, settings.embedding_model)
    status: dict[str, Any] = {
        "worker": "embed",
        "embedder": embedder.name if embedder else "off",
        "vectors": "server" if settings.qdrant_url else "local",
    }
    worker: EmbedWorker | None = None
    from quarry_workers.health import publish_embedder

    publish_embedder(settings.data_dir, status["embedder"])
    if settings.health_port:
        from quarry_workers.health import serve

        def health() -> dict[str, Any]:
            if worker is None:
                return status
            return {**status, "embedded": worker.embedded, "progress": worker.progress}

        serve(settings.health_port, health)
    if embedder is None:
        log.info("embed worker: QUARRY_EMBEDDER=off, nothing to do; idling until stopped")
        stop.wait()
        return
    path = settings.data_dir / "qdrant"
    if not settings.qdrant_url:
        path.mkdir(parents=True, exist_ok=True)
    store = VectorStore(embedder, url=settings.qdrant_url, path=path)
    worker = EmbedWorker(factory, store, batch_size=settings.embed_batch_size)
    log.info("embed worker started (%s)", status)
    try:
        worker.run(stop, idle=settings.idle_timeout)
    finally:
        store.close()
