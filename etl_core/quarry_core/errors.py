"""The one error split every stage uses: retry later, or stop now."""

from __future__ import annotations


class QuarryError(Exception):
    """Base of every error Quarry raises on purpose."""


class ConfigError(QuarryError):
    """A setting is wrong; the message names the setting and says what to do."""


class Unreachable(ConfigError):
    """A service named by a setting did not answer. A one-shot command reports it as a setting to
    check; a long-running process waits it out as an outage (it may be restarting)."""


class RetriableError(QuarryError):
    """A passing fault (network, rate limit, outage): the same work may succeed later."""


class FatalError(QuarryError):
    """Retrying cannot help (bad credentials, invalid data): fail or dead-letter at once."""


class Discard(QuarryError):
    """Nothing can or should be done with this message ever (its run is gone): ack and drop it."""
