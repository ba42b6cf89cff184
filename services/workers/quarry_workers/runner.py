"""Process entry points: wire settings, database, queue, embedder and health for one worker."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from quarry_core.db.engine import get_engine, session_factory
from quarry_core.messages import LoadMessage, TransformMessage
from quarry_core.queue.consumer import Consumer
from quarry_core.queue.factory import open_queue
from quarry_core.states import Stage
from quarry_workers.common import dead_letter_hook
from quarry_workers.settings import WorkerSettings

log = logging.getLogger(__name__)


def run_worker(kind: str, settings: WorkerSettings, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    factory = session_factory(get_engine(settings))
    queue = open_queue(settings)
    queue.declare()
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
        from quarry_workers.vectors import VectorStore, choose_embedder

        embedder = choose_embedder(settings.embedder, settings.embedding_model)
        store = None
        if embedder is not None:
            path = settings.data_dir / "qdrant"
            if not settings.qdrant_url:
                path.mkdir(parents=True, exist_ok=True)
            store = VectorStore(embedder, url=settings.qdrant_url, path=path)
        status["embedder"] = embedder.name if embedder else "off"
        status["vectors"] = "server" if settings.qdrant_url else "local"
        log.info("load worker: embedder %s, qdrant %s", status["embedder"], status["vectors"])
        lw = LoadWorker(factory, store)
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
