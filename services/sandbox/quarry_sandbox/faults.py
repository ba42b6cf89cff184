"""Fault injection and rate-limit accounting shared by the imitation servers.

Faults are drawn from one seeded RNG, one draw per request, so a sequential client sees the
same fault sequence on every run with the same seed.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Fault(Enum):
    RATE_LIMIT = "429"  # Jira 429 / GitHub primary limit hit
    UNAVAILABLE = "503"
    SECONDARY = "secondary"  # GitHub secondary (abuse) limit


@dataclass
class FaultConfig:
    """Per-server fault settings.  Rates are probabilities per (non-exempt) request."""

    seed: int = 0
    rate_429: float = 0.0
    rate_503: float = 0.0
    rate_secondary: float = 0.0
    retry_after: int = 1
    """Seconds advertised in Retry-After on 429 / secondary limits (and GitHub's primary reset)."""
    retry_after_503: int = 1
    p_503_retry_after: float = 0.5
    """Share of 503 answers that carry a Retry-After header."""
    quota: int | None = None
    """Requests per window before the primary limit bites (None: unlimited; GitHub uses 5000)."""
    window_seconds: float = 3600.0
    penalize_early_retry: bool = True
    """Jira: a retry before Retry-After elapsed earns another 429 (with the remaining wait)."""


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()

    def draw(self) -> Fault | None:
        c = self.config
        if c.rate_429 <= 0 and c.rate_503 <= 0 and c.rate_secondary <= 0:
            return None
        with self._lock:
            x = self._rng.random()
        if x < c.rate_429:
            return Fault.RATE_LIMIT
        x -= c.rate_429
        if x < c.rate_503:
            return Fault.UNAVAILABLE
        x -= c.rate_503
        if x < c.rate_secondary:
            return Fault.SECONDARY
        return None

    def with_retry_after_503(self) -> bool:
        with self._lock:
            return self._rng.random() < self.config.p_503_retry_after


class QuotaWindow:
    """A fixed-window request quota: ``remaining`` counts down and refills at ``reset_at``."""

    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._used = 0
        self._reset_at = clock() + window_seconds

    def _roll(self, now: float) -> None:
        if now >= self._reset_at:
            self._used = 0
            self._reset_at = now + self.window_seconds

    def try_consume(self, cost: int = 1) -> bool:
        with self._lock:
            self._roll(self._clock())
            if self._used + cost > self.limit:
                return False
            self._used += cost
            return True

    def exhaust(self, seconds: float) -> None:
        """Use up the window now and make it reset after ``seconds``."""
        with self._lock:
            self._used = self.limit
            self._reset_at = self._clock() + seconds

    def snapshot(self) -> tuple[int, int, int, float]:
        """(limit, remaining, used, reset_at epoch seconds)."""
        with self._lock:
            self._roll(self._clock())
            return self.limit, max(0, self.limit - self._used), self._used, self._reset_at

    @property
    def remaining(self) -> int:
        return self.snapshot()[1]

    @property
    def reset_epoch(self) -> int:
        return math.ceil(self.snapshot()[3])


class PenaltyBox:
    """Remembers, per client, until when it was told to wait (Jira punishes early retries)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def block(self, client: str, seconds: float) -> None:
        with self._lock:
            self._until[client] = max(self._until.get(client, 0.0), self._clock() + seconds)

    def remaining(self, client: str) -> float:
        with self._lock:
            until = self._until.get(client)
            if until is None:
                return 0.0
            left = until - self._clock()
            if left <= 0:
                del self._until[client]
                return 0.0
            return left
