"""The per-integration request budget (requests per hour), never exceeded, shared across processes.

Every request to a source counts: the extract runs' and the Integration checks' (local controller
and operator).

The accounting lives in PostgreSQL (`request_budget_grants`): a process takes a small block of
requests under an advisory lock of its integration, checked against a sliding window of grants,
spends the block in memory, and hands back what it did not use when it stops. A block counts in
full until returned, so the budget is an upper bound even with two extract processes at once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, text

from quarry_core.db.tenancy import acting_as
from quarry_core.outage import through_outages


def plan_grant(
    grants: Sequence[tuple[float, int]], limit: int, window: float, now: float, want: int
) -> tuple[int, float]:
    """(requests granted now, seconds to wait if none) for `grants` = [(granted_at, requests)]."""
    live = sorted((t, n) for t, n in grants if t > now - window and n > 0)
    free = limit - sum(n for _, n in live)
    if free > 0:
        return min(want, free), 0.0
    need = 1 - free
    for at, n in live:
        need -= n
        if need <= 0:
            return 0, max(0.001, at + window - now)
    return 0, window  # unreachable with limit >= 1


def block_size(limit: int) -> int:
    """Small blocks: few database round trips, little budget parked in an idle process."""
    return max(1, min(50, limit // 100))


def requests_per_hour(spec: Mapping[str, Any], default: int) -> int:
    """The budget of an Integration spec document (camelCase, as stored)."""
    return int((spec.get("budget") or {}).get("requestsPerHour") or default)


def take_one_request(
    engine: Engine, tenant: str, integration_id: int, limit: int, window_seconds: float
) -> float:
    """Reserve a single request (an Integration check): 0 when granted, else seconds to wait."""
    return PgBudget(engine, tenant, integration_id, limit, window_seconds, block=1).reserve()


class PgBudget:
    def __init__(
        self,
        engine: Engine,
        tenant: str,
        integration_id: int,
        limit: int,
        window_seconds: float = 3600.0,
        block: int | None = None,
        outage_seconds: float = 0.0,
    ) -> None:
        self.engine = engine
        self.outage_seconds = outage_seconds
        self.tenant = tenant
        self.integration_id = integration_id
        self._limit = limit
        # A grant precedes its request by a few milliseconds (more under load, and with requests
        # sent ahead on several threads); the margin keeps the requests themselves, not just the
        # grants, within the budget of any window.
        self.window = window_seconds * 1.05 + 0.25
        self.block = block or block_size(limit)
        self._available = 0
        self._grant_id: int | None = None
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    def reserve(self) -> float:
        with self._lock:
            if self._available > 0:
                self._available -= 1
                return 0.0
            granted, wait, grant_id = self._take_through_outages()
            if granted == 0:
                return wait
            self._available, self._grant_id = granted - 1, grant_id
            return 0.0

    def _take_through_outages(self) -> tuple[int, float, int | None]:
        if self.outage_seconds <= 0:
            return self._take(self.block)
        # A grant committed just before the connection died is counted twice: the budget errs
        # on the side of fewer requests.
        return through_outages(
            lambda: self._take(self.block),
            f"integration {self.integration_id}: request budget",
            max_seconds=self.outage_seconds,
        )

    def _take(self, want: int) -> tuple[int, float, int | None]:
        with self.engine.begin() as conn:
            acting_as(conn, self.tenant)
            conn.execute(
                text("select pg_advisory_xact_lock(7263013, CAST(:i AS integer))"),
                {"i": self.integration_id % 2**31},
            )
            now = float(conn.execute(text("select extract(epoch from clock_timestamp())")).scalar_one())
            conn.execute(
                text(
                    "delete from request_budget_grants where integration_id = :i "
                    "and granted_at < to_timestamp(:cut)"
                ),
                {"i": self.integration_id, "cut": now - 2 * self.window},
            )
            rows = conn.execute(
                text(
                    "select extract(epoch from granted_at), requests from request_budget_grants "
                    "where integration_id = :i and granted_at > to_timestamp(:since)"
                ),
                {"i": self.integration_id, "since": now - self.window},
            ).all()
            granted, wait = plan_grant(
                [(float(t), int(n)) for t, n in rows], self._limit, self.window, now, want
            )
            if granted == 0:
                return 0, wait, None
            grant_id = conn.execute(
                text(
                    "insert into request_budget_grants (tenant, integration_id, granted_at, requests) "
                    "values (:t, :i, to_timestamp(:now), :n) returning id"
                ),
                {"t": self.tenant, "i": self.integration_id, "now": now, "n": granted},
            ).scalar_one()
            return granted, 0.0, int(grant_id)

    def release(self) -> None:
        """Give back the unused part of the current block."""
        with self._lock:
            if self._grant_id is None or self._available <= 0:
                return
            with self.engine.begin() as conn:
                acting_as(conn, self.tenant)
                conn.execute(
                    text("update request_budget_grants set requests = requests - :n where id = :id"),
                    {"n": self._available, "id": self._grant_id},
                )
            self._available = 0
