"""Waiting out an infrastructure outage (PostgreSQL or the broker restarting) instead of failing.

A restart of the database is no reason to spend one of a run's attempts: the caller's unit of
work (one transaction, one publish) is repeated with backoff until it succeeds, or until the
outage has lasted `max_seconds` (then RetriableError ends the attempt, which resumes later).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine

from quarry_core.db.engine import get_engine
from quarry_core.errors import RetriableError, Unreachable
from quarry_core.queue.consumer import OUTAGE_BACKOFF_CAP, describe, is_outage
from quarry_core.settings import CoreSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


def through_outages(
    call: Callable[[], T],
    what: str,
    *,
    max_seconds: float,
    stop: threading.Event | None = None,
    max_backoff: float = OUTAGE_BACKOFF_CAP,
) -> T:
    """`call()`, repeated while it fails with an outage; other errors pass through at once."""
    deadline = time.monotonic() + max_seconds
    backoff = 0.25
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_outage(exc):
                raise
            if time.monotonic() + backoff > deadline or (stop is not None and stop.is_set()):
                raise RetriableError(
                    f"{what}: the database or broker stayed unreachable ({describe(exc)})"
                ) from exc
            log.warning("%s: unavailable (%s); retrying in %.1fs", what, describe(exc), backoff)
            if stop is not None:
                stop.wait(backoff)
            else:
                time.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


def when_reachable(
    call: Callable[[], T], what: str, *, max_seconds: float, stop: threading.Event | None = None
) -> T:
    """`through_outages` for a process's first connection: a service that does not answer yet
    (`Unreachable`, which a one-shot command reports as a setting to check) is waited out too, so
    a process started while the database or broker restarts costs nothing."""

    def attempt() -> T:
        try:
            return call()
        except Unreachable as exc:
            raise ConnectionError(str(exc)) from exc

    return through_outages(attempt, what, max_seconds=max_seconds, stop=stop)


def engine_when_reachable(
    settings: CoreSettings, what: str, *, stop: threading.Event | None = None
) -> Engine:
    """The process's database engine, waiting (for at most `outage_seconds`) for a database that
    does not answer yet."""
    return when_reachable(lambda: get_engine(settings), what, max_seconds=settings.outage_seconds, stop=stop)
